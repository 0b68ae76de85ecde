import type { S3Client } from '@aws-sdk/client-s3';
import { OperatorError } from '../../errors.js';
import { DEFAULT_S3_REGION, createS3Client, type S3ClientOptions } from '../client.js';
import { redactSecrets } from '../errors.js';
import { pkiBundleObjectKey, snapshotObjectKey } from '../key.js';
import { CONTAINER_BACKUP_DIR, PKI_BUNDLE_FILE_NAME } from '../../model/paths.js';
import type { UploadedObject, UploadedSnapshot } from '../../model/snapshot.js';
import type { S3Secrets, S3SecretsInput, S3Target } from '../settings.js';
import { openLocalFile, openLocalSnapshot, type LocalSnapshot } from './file.js';
import { checkBucket, checkCredentials, checkObjectLock, planKey, type KeyPlan } from './preflight.js';
import { ageEncrypted } from './age-source.js';
import { AGE_SUFFIX, unconfirmedProtection, type UploadProtection } from '../protection.js';
import { sendSnapshot } from './send.js';
import { objectUrl, type UploadTarget } from './target.js';
import { verifyUploadedObject } from './verify.js';
import type { ProgressReport } from '../../archive/progress-tally.js';

/** Upload the node's NAME.zip (already written by save) to S3 as <folder>/NAME.zip. */
export interface UploadRequest extends S3Target {
  name: string;
  /** Replace an object left by an earlier run on an unversioned bucket. */
  overwrite: boolean;
  /** Also upload the node's pki.bundle.tar.gz as <folder>/NAME.pki.bundle.tar.gz. Absent: false. */
  pkiBundle?: boolean;
  /**
   * The SHA-256 (hex) of NAME.zip as this run's save read it back. Given, the bytes sent
   * must hash to it, and the file is not read a first time for its hash.
   */
  sha256?: string;
  /** SPEC §7: server-side encryption, Object Lock, legal hold, age recipients (the SSE-C key comes with the secrets). */
  protection?: UploadProtection;
}

export interface UploadOptions {
  /** Where the node's /opt/rke/etcd-snapshots is seen (/backup in the container). */
  backupDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
  createClient?: (options: S3ClientOptions) => S3Client;
  /** For tests (S3's minimum is 5 MiB); the agent uses PART_SIZE. */
  partSize?: number;
  /** For tests; the agent uses UPLOAD_STALL_MS. */
  stallMs?: number;
  /** Read for the instance-metadata diagnosis when no credentials are found. */
  env?: NodeJS.ProcessEnv;
  /** The error when the default credential chain finds nothing (default: about the node's IAM role). */
  noCredentials?: (env: NodeJS.ProcessEnv) => Promise<OperatorError>;
  /** Live progress of the snapshot's upload (main.ts prints it as progress lines). */
  onProgress?: ProgressReport;
}

/**
 * The agent's `upload`: /backup/NAME.zip (written by `save`) to s3://BUCKET/<folder>/NAME.zip,
 * after checking credentials, bucket and any object left by an earlier run; then the
 * stored object is checked against what was sent. Keys never appear in a message.
 */
/** Parts in flight for an age-encrypted upload (PARTS_IN_FLIGHT otherwise). */
const AGE_PARTS_IN_FLIGHT = 2;

export async function uploadSnapshot(request: UploadRequest, input: S3SecretsInput, options: UploadOptions = {}): Promise<UploadedSnapshot> {
  try {
    return await uploadWithFile(request, input.s3 ?? {}, options);
  } catch (error) {
    throw redactedError(error, [input.s3?.accessKeyId, input.s3?.secretAccessKey, input.s3?.sseCustomerKey]);
  }
}

/**
 * The same upload for a snapshot opened elsewhere: with --runtime ssh the operator's
 * machine reads the node's NAME.zip over SFTP. The caller closes `file`. No PKI bundle.
 */
export async function uploadOpenedSnapshot(
  request: Omit<UploadRequest, 'pkiBundle'>,
  input: S3SecretsInput,
  file: LocalSnapshot,
  options: UploadOptions = {},
): Promise<UploadedSnapshot> {
  const started = Date.now();
  try {
    const config = clientOptions(request, input.s3 ?? {});
    const client = (options.createClient ?? createS3Client)(config);
    try {
      return await uploadFile(request, file, {
        ...options,
        client,
        staticKeys: config.credentials !== undefined,
        started,
        bundle: undefined,
        sseCustomerKey: input.s3?.sseCustomerKey,
      });
    } finally {
      client.destroy();
    }
  } catch (error) {
    throw redactedError(error, [input.s3?.accessKeyId, input.s3?.secretAccessKey, input.s3?.sseCustomerKey]);
  }
}

async function uploadWithFile(request: UploadRequest, s3: S3Secrets, options: UploadOptions): Promise<UploadedSnapshot> {
  const started = Date.now();
  const backupDir = options.backupDir ?? CONTAINER_BACKUP_DIR;
  const file = await openLocalSnapshot(backupDir, request.name, options.signal, request.sha256);
  let bundle: LocalSnapshot | undefined;
  try {
    if (request.pkiBundle) {
      bundle = await openLocalFile(backupDir, PKI_BUNDLE_FILE_NAME, 'this node has no PKI bundle to upload (it is written by save --pki-bundle)', options.signal);
    }
    const config = clientOptions(request, s3);
    const client = (options.createClient ?? createS3Client)(config);
    try {
      return await uploadFile(request, file, { ...options, client, staticKeys: config.credentials !== undefined, started, bundle, sseCustomerKey: s3.sseCustomerKey });
    } finally {
      client.destroy();
    }
  } finally {
    await file.handle.close();
    await bundle?.handle.close();
  }
}

async function uploadFile(
  request: UploadRequest,
  file: LocalSnapshot,
  options: UploadOptions & { client: S3Client; staticKeys: boolean; started: number; bundle: LocalSnapshot | undefined; sseCustomerKey: string | undefined },
): Promise<UploadedSnapshot> {
  const recipients = request.protection?.recipients;
  const log = options.log ?? (() => undefined);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    log(`WARN ${message}`);
  };
  const target: UploadTarget = {
    client: options.client,
    endpoint: request.endpoint,
    bucket: request.bucket,
    key: snapshotObjectKey(request.folder, request.name) + (recipients ? AGE_SUFFIX : ''),
    region: request.region ?? DEFAULT_S3_REGION,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(request.protection ? { protection: request.protection } : {}),
    ...(options.sseCustomerKey ? { sseCustomerKey: options.sseCustomerKey } : {}),
  };
  await checkCredentials(target, options.staticKeys, options.env ?? process.env, options.noCredentials);
  await checkBucket(target);
  if (request.protection?.lock || request.protection?.legalHold) await checkObjectLock(target);
  const bundleTarget = options.bundle === undefined ? undefined : { ...target, key: pkiBundleObjectKey(request.folder, request.name) };
  // Both keys are checked before either is written: an existing bundle key never leaves a snapshot uploaded alone.
  const plan = await planKey(target, request.overwrite, warn);
  const bundlePlan = bundleTarget === undefined ? undefined : await planKey(bundleTarget, request.overwrite, warn);
  const source = recipients ? await ageEncrypted(file, recipients) : file;
  let uploaded: UploadedObject;
  try {
    log(planMessage(plan, target, source));
    const contentType = recipients ? 'application/octet-stream' : 'application/zip';
    uploaded = await sendAndVerify(target, source, contentType, {
      log,
      warn,
      partSize: options.partSize,
      stallMs: options.stallMs,
      // age's cipher (JavaScript, ~30 MiB/s) sets the pace, and allocates as it goes: two part
      // buffers keep up with it and keep the agent's peak memory 16 MiB lower (docs/performance.md).
      ...(recipients ? { partsInFlight: AGE_PARTS_IN_FLIGHT } : {}),
      onProgress: options.onProgress,
    });
  } finally {
    if (source !== file) await source.handle.close();
  }
  if (recipients) uploaded = { ...uploaded, protection: { ...uploaded.protection, age: { recipients: recipients.length } } };
  let pkiBundle: UploadedObject | undefined;
  if (bundleTarget !== undefined && options.bundle !== undefined && bundlePlan !== undefined) {
    log(planMessage(bundlePlan, bundleTarget, options.bundle));
    pkiBundle = await sendAndVerify(bundleTarget, options.bundle, 'application/gzip', { log, warn, partSize: options.partSize, stallMs: options.stallMs });
  }
  return {
    ok: true,
    bucket: target.bucket,
    ...uploaded,
    warnings,
    durationMs: Date.now() - options.started,
    ...(pkiBundle ? { pkiBundle } : {}),
  };
}

async function sendAndVerify(
  target: UploadTarget,
  file: LocalSnapshot,
  contentType: string,
  options: {
    log: (line: string) => void;
    warn: (message: string) => void;
    partSize: number | undefined;
    stallMs?: number | undefined;
    partsInFlight?: number;
    onProgress?: ProgressReport | undefined;
  },
): Promise<UploadedObject> {
  const sent = await sendSnapshot(target, file, {
    log: options.log,
    contentType,
    ...(options.partSize ? { partSize: options.partSize } : {}),
    ...(options.stallMs ? { stallMs: options.stallMs } : {}),
    ...(options.partsInFlight ? { partsInFlight: options.partsInFlight } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const verified = await verifyUploadedObject(target, sent);
  if (verified.warning !== undefined) options.warn(verified.warning);
  const unconfirmed = unconfirmedProtection(target.protection, verified.protection);
  if (unconfirmed !== undefined) options.warn(`${objectUrl(target)}: ${unconfirmed}`);
  options.log(`uploaded ${objectUrl(target)}: ${sent.digest.size} bytes, sha256 ${file.sha256}, ETag ${verified.etag}` +
    (sent.versionId ? `, version ${sent.versionId}` : ''));
  return {
    key: target.key,
    size: sent.digest.size,
    // The file's (for age, the plain zip's): the bytes sent were checked against it.
    sha256: file.sha256,
    etag: verified.etag,
    ...(sent.versionId ? { versionId: sent.versionId } : {}),
    verifiedBy: verified.verifiedBy,
    ...(verified.protection ? { protection: verified.protection } : {}),
  };
}

export function clientOptions(request: UploadRequest, s3: S3Secrets): S3ClientOptions {
  const { accessKeyId, secretAccessKey, customCaPem } = s3;
  return {
    endpoint: request.endpoint,
    ...(request.region ? { region: request.region } : {}),
    ...(customCaPem ? { customCaPem } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
}

function planMessage(plan: KeyPlan, target: UploadTarget, file: LocalSnapshot): string {
  const what = `${file.displayPath} (${file.size} bytes) to ${objectUrl(target)} at ${target.endpoint}`;
  if (plan === 'new-version') return `uploading ${what} as a new version (the key exists; the bucket is versioned)`;
  if (plan === 'replace') return `uploading ${what}, replacing the object of an earlier run (--overwrite)`;
  return `uploading ${what}`;
}

/** The last line of defence: no error leaves the agent with a key in it. */
function redactedError(error: unknown, secrets: readonly (string | undefined)[]): unknown {
  if (!(error instanceof Error)) return error;
  const message = redactSecrets(error.message, secrets);
  const stack = error.stack === undefined ? '' : redactSecrets(error.stack, secrets);
  if (message === error.message && stack === (error.stack ?? '')) return error;
  return new OperatorError(message);
}
