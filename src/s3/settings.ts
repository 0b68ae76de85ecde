import { readFile } from 'node:fs/promises';
import type { S3BackupConfig } from '../config/cluster.js';
import { OperatorError, messageOf } from '../errors.js';
import type { UploadProtection } from './protection.js';

/** The S3 flags as given on the command line (all optional). */
export interface S3Flags {
  s3Endpoint?: string;
  s3EndpointCa?: string;
  accessKey?: string;
  secretKey?: string;
  secretKeyFile?: string;
  bucketName?: string;
  region?: string;
  folder?: string;
}

/** Where and how to upload, after merging flags over cluster.yml and validating. */
export interface S3Settings {
  /** host[:port], no scheme. */
  endpoint: string;
  bucketName: string;
  region?: string;
  /** Key prefix without leading or trailing slashes; '' for none. */
  folder: string;
  /** PEM text of a CA to trust for this endpoint, when given. */
  customCa?: string;
  /** Static keys; absent means the node's IAM role / the AWS default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** SPEC §7: encryption, Object Lock, age recipients of the uploaded copy (snapshot-save). */
  protection?: UploadProtection;
  /** SSE-C key, base64 of 32 bytes: a secret, travels with the keys. */
  sseCustomerKey?: string;
}

export const DEFAULT_S3_ENDPOINT = 's3.amazonaws.com';

export interface ResolveS3Options {
  flags: S3Flags;
  fromFile: S3BackupConfig | undefined;
  clusterFile: string;
  warn: (message: string) => void;
  readText?: (path: string) => Promise<string>;
}

/** Merge flags over services.etcd.backup_config.s3backupconfig field by field, and validate. */
export async function resolveS3Settings(options: ResolveS3Options): Promise<S3Settings> {
  const { flags, clusterFile, warn } = options;
  const file = options.fromFile ?? {};
  const readText = options.readText ?? ((path: string) => readFile(path, 'utf8'));
  const fileField = (field: string) => `${clusterFile}: services.etcd.backup_config.s3backupconfig.${field}`;

  const bucketName = flags.bucketName ?? file.bucketName;
  if (bucketName === undefined || bucketName.trim() === '') {
    throw new OperatorError('--s3 needs a bucket: pass --bucket-name (or set bucket_name in s3backupconfig)');
  }
  const endpoint = normalizeEndpoint(
    flags.s3Endpoint ?? file.endpoint ?? DEFAULT_S3_ENDPOINT,
    flags.s3Endpoint !== undefined ? '--s3-endpoint' : fileField('endpoint'),
    warn,
  );
  const customCa =
    flags.s3EndpointCa !== undefined
      ? await readCaFile(flags.s3EndpointCa, readText)
      : file.customCa !== undefined && file.customCa.trim() !== ''
        ? checkPem(file.customCa, fileField('custom_ca'))
        : undefined;
  const credentials = await resolveCredentials(flags, file, readText);
  const region = flags.region ?? file.region;
  return {
    endpoint,
    bucketName: bucketName.trim(),
    folder: normalizeFolder(flags.folder ?? file.folder ?? ''),
    ...(region ? { region } : {}),
    ...(customCa ? { customCa } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

/** host[:port]; a scheme is stripped with a warning (RKE's flag takes none), a path is refused. */
export function normalizeEndpoint(raw: string, source: string, warn: (message: string) => void): string {
  let endpoint = raw.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(endpoint);
  if (scheme) {
    warn(`${source}: ignoring "${scheme[0]}": the endpoint is host[:port] and always uses HTTPS`);
    endpoint = endpoint.slice(scheme[0].length);
  }
  endpoint = endpoint.replace(/\/+$/, '');
  if (endpoint === '') throw new OperatorError(`${source}: the S3 endpoint is empty`);
  if (endpoint.includes('/')) {
    throw new OperatorError(`${source}: ${JSON.stringify(raw)} has a path; give only host[:port], and use --folder for a prefix`);
  }
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d+))?$/i.exec(endpoint);
  const port = match?.[2] === undefined ? undefined : Number(match[2]);
  if (!match || (port !== undefined && (port < 1 || port > 65535))) {
    throw new OperatorError(`${source}: ${JSON.stringify(raw)} is not host[:port]`);
  }
  return endpoint;
}

/** "a//b/" → "a/b": the key is always <folder>/NAME.zip without empty segments. */
export function normalizeFolder(folder: string): string {
  const segments = folder.split('/').filter((segment) => segment !== '');
  for (const segment of segments) {
    if (segment === '.' || segment === '..' || /[\u0000-\u001f\u007f\\]/.test(segment)) {
      throw new OperatorError(`--folder ${JSON.stringify(folder)}: folder parts must not be "." or ".." or contain control characters or "\\"`);
    }
  }
  return segments.join('/');
}

async function readCaFile(path: string, readText: (path: string) => Promise<string>): Promise<string> {
  let text: string;
  try {
    text = await readText(path);
  } catch (error) {
    throw new OperatorError(`--s3-endpoint-ca: cannot read ${path}: ${messageOf(error)}`);
  }
  return checkPem(text, `--s3-endpoint-ca ${path}`);
}

/** RKE only warns about a bad CA and goes on without it; we refuse, so TLS is never silently weaker. */
export function checkPem(text: string, source: string): string {
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(text)) {
    throw new OperatorError(`${source}: is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  return text;
}

async function resolveCredentials(
  flags: S3Flags,
  file: S3BackupConfig,
  readText: (path: string) => Promise<string>,
): Promise<S3Settings['credentials']> {
  if (flags.secretKey !== undefined && flags.secretKeyFile !== undefined) {
    throw new OperatorError('--secret-key and --secret-key-file: give only one');
  }
  let secretFromFile: string | undefined;
  if (flags.secretKeyFile !== undefined) {
    try {
      secretFromFile = (await readText(flags.secretKeyFile)).trim();
    } catch (error) {
      throw new OperatorError(`--secret-key-file: cannot read ${flags.secretKeyFile}: ${messageOf(error)}`);
    }
    if (secretFromFile === '') throw new OperatorError(`--secret-key-file: ${flags.secretKeyFile} is empty`);
  }
  const accessKeyId = flags.accessKey ?? file.accessKey;
  const secretAccessKey = flags.secretKey ?? secretFromFile ?? file.secretKey;
  const hasAccess = accessKeyId !== undefined && accessKeyId !== '';
  const hasSecret = secretAccessKey !== undefined && secretAccessKey !== '';
  if (hasAccess !== hasSecret) {
    throw new OperatorError(
      hasAccess
        ? '--access-key is given without a secret key: pass --secret-key-file (or --secret-key), or neither to use the node\'s IAM role'
        : 'a secret key is given without --access-key: pass both, or neither to use the node\'s IAM role',
    );
  }
  return hasAccess ? { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! } : undefined;
}

/** Where S3 snapshots are, without the secrets: what a job's arguments carry. */
export interface S3Target {
  /** host[:port] without scheme; always HTTPS. */
  endpoint: string;
  bucket: string;
  region?: string;
  /** Normalized key prefix without leading/trailing slashes; '' for none. */
  folder: string;
}

/** The secrets and trust of an S3 target: what travels on a job's standard input, never in arguments. */
export interface S3Secrets {
  accessKeyId?: string;
  secretAccessKey?: string;
  /** PEM text of the CA to trust for a custom endpoint. */
  customCaPem?: string;
  /** SSE-C key, base64 of 32 bytes (--s3-sse-c-key-file). */
  sseCustomerKey?: string;
}

/** The part of a job's standard input document the S3 code reads. */
export interface S3SecretsInput {
  s3?: S3Secrets;
}

/** Where in S3, as every S3 job takes it (upload, list, remove, verify). */
export function s3TargetOf(settings: S3Settings): S3Target {
  return { endpoint: settings.endpoint, bucket: settings.bucketName, folder: settings.folder, ...(settings.region ? { region: settings.region } : {}) };
}

/** The keys and the CA: on an agent container's stdin, never in its arguments or environment. */
export function s3SecretsOf(settings: S3Settings): S3SecretsInput {
  return {
    s3: {
      ...(settings.credentials ?? {}),
      ...(settings.customCa ? { customCaPem: settings.customCa } : {}),
      ...(settings.sseCustomerKey ? { sseCustomerKey: settings.sseCustomerKey } : {}),
    },
  };
}
