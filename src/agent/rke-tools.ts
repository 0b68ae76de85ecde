/**
 * `rke-etcd-backup etcd-backup save --once ...` answered by our agent, for RKE (or any
 * tool) that drives the backup container with rke-tools' command line. It maps onto the
 * agent's own save and upload and behaves, seen from outside, as rke-tools does:
 * logrus-style lines on stderr, nothing on stdout, exit 0 or 1 with the error as the
 * last (fatal) line, upload failures worded so that RKE reports them as such.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperatorError, messageOf } from '../errors.js';
import { redactSecrets } from '../s3/errors.js';
import { checkPem, normalizeEndpoint, normalizeFolder } from '../s3/settings.js';
import { CONTAINER_KUBERNETES_DIR } from '../model/paths.js';
import type { AgentInput } from './protocol/wire.js';
import type { S3Secrets } from '../s3/settings.js';
import { CONTAINER_DIRECTORIES, saveSnapshot, type AgentDirectories } from './save.js';
import { removeStateFile, stateFileName } from '../archive/state-file.js';
import { ObjectExistsError } from '../s3/upload/preflight.js';
import { uploadSnapshot } from '../s3/upload/upload.js';
import {
  RKE_TOOLS_SKIPPED_UPLOAD,
  RKE_TOOLS_UPLOAD_FAILURE,
  parseRkeToolsArgs,
  type RkeToolsS3Request,
  type RkeToolsSaveRequest,
} from '../rke-tools/contract.js';
import { logrusLine, type LogrusLevel } from '../rke-tools/logrus.js';

export interface RkeToolsOptions {
  env: Readonly<Record<string, string | undefined>>;
  write: (line: string) => void;
  signal: AbortSignal;
  /** Where the node's directories are seen; the container's /backup, /etc/kubernetes/ssl and /etc/kubernetes by default. */
  directories?: RkeToolsDirectories;
}

/** RKE binds the node's whole /etc/kubernetes, and places the state file there before it starts the container. */
export interface RkeToolsDirectories extends AgentDirectories {
  kubernetesDir: string;
}

const RKE_TOOLS_DIRECTORIES: RkeToolsDirectories = { ...CONTAINER_DIRECTORIES, kubernetesDir: CONTAINER_KUBERNETES_DIR };

/** Runs the command; returns the exit status. Never throws. */
export async function runRkeTools(argv: readonly string[], options: RkeToolsOptions): Promise<number> {
  const log = (level: LogrusLevel, message: string, fields: Record<string, string | number> = {}) =>
    options.write(logrusLine(new Date(), level, message, fields));
  let request: RkeToolsSaveRequest;
  try {
    request = parseRkeToolsArgs(argv, options.env);
  } catch (error) {
    log('fatal', messageOf(error));
    return 1;
  }
  const secrets = [request.s3?.accessKeyId, request.s3?.secretAccessKey];
  const directories = options.directories ?? RKE_TOOLS_DIRECTORIES;
  try {
    if (request.ignored.length > 0 && request.debug) log('debug', `accepted and not used by this image: ${request.ignored.join(' ')}`);
    log('info', 'Initializing Onetime Backup', { name: request.name });
    // Validated before the snapshot, so that a bad S3 setting costs no snapshot.
    const s3 = request.s3 ? await s3Settings(request.s3) : undefined;
    const started = Date.now();
    const input = await deployedStateFile(request.name, directories.kubernetesDir);
    const saved = await saveSnapshot(
      {
        name: request.name,
        endpoint: request.endpoint,
        cacert: request.cacert,
        cert: request.cert,
        key: request.key,
        // rke-tools replaces NAME.zip; we still never write through a symlink or leave a partial file.
        overwrite: true,
        healthTimeoutSeconds: 30,
      },
      input,
      { log: (line) => log('info', line), signal: options.signal, directories },
    ).finally(async () => {
      // RKE leaves it behind when the snapshot fails; rke-tools removes it, and so do we, whatever happened.
      if (input.stateFileBase64 !== undefined) await removeStateFile(directories.kubernetesDir, request.name).catch(() => undefined);
    });
    log('info', 'Created local backup', { name: request.name, runtime: `${((Date.now() - started) / 1000).toFixed(3)}s`, size: saved.size, sha256: saved.sha256 });
    if (s3) await upload(request, s3, { backupDir: directories.backupDir, signal: options.signal }, log);
    return 0;
  } catch (error) {
    if (options.signal.aborted) log('fatal', `interrupted (${String(options.signal.reason)}); no snapshot was written under the final name`);
    else log('fatal', redactSecrets(messageOf(error), secrets));
    return 1;
  }
}

interface S3Ready {
  request: { endpoint: string; bucket: string; folder: string; region?: string };
  input: S3Secrets;
}

async function s3Settings(s3: RkeToolsS3Request): Promise<S3Ready> {
  const endpoint = normalizeEndpoint(s3.endpoint, '--s3-endpoint', () => undefined);
  let customCaPem: string | undefined;
  if (s3.customCa && 'pem' in s3.customCa) customCaPem = checkPem(s3.customCa.pem, '--s3-endpoint-ca');
  else if (s3.customCa) {
    const file = s3.customCa.file;
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new OperatorError(`--s3-endpoint-ca: neither base64 nor a readable file (${file}: ${messageOf(error)})`);
    });
    customCaPem = checkPem(text, `--s3-endpoint-ca ${file}`);
  }
  return {
    request: { endpoint, bucket: s3.bucket, folder: normalizeFolder(s3.folder), ...(s3.region ? { region: s3.region } : {}) },
    input: {
      ...(s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : {}),
      ...(customCaPem ? { customCaPem } : {}),
    },
  };
}

/**
 * rke-tools keeps an object of an earlier run on an unversioned bucket and succeeds
 * (so that every node of an RKE run may try the same key); a versioned bucket gets a
 * new version. Any other failure fails the command, worded as rke-tools words it.
 */
async function upload(
  request: RkeToolsSaveRequest,
  s3: S3Ready,
  options: { backupDir: string; signal: AbortSignal },
  log: (level: LogrusLevel, message: string, fields?: Record<string, string | number>) => void,
): Promise<void> {
  log('info', `invoking uploading backup file [${request.name}.zip] to s3`, { bucket: s3.request.bucket, endpoint: s3.request.endpoint });
  try {
    const uploaded = await uploadSnapshot(
      { name: request.name, ...s3.request, overwrite: false },
      { s3: s3.input },
      { log: (line) => log('info', line), signal: options.signal, backupDir: options.backupDir },
    );
    log('info', `Successfully uploaded [${uploaded.key}] of size [${uploaded.size}]`, { etag: uploaded.etag, verifiedBy: uploaded.verifiedBy });
  } catch (error) {
    if (error instanceof ObjectExistsError) {
      log('info', RKE_TOOLS_SKIPPED_UPLOAD, { name: request.name });
      return;
    }
    throw new OperatorError(`${RKE_TOOLS_UPLOAD_FAILURE}: ${messageOf(error)}`);
  }
}

/** RKE places the state file at /etc/kubernetes/NAME.rkestate before it starts the container; rke-tools zips it when present. */
async function deployedStateFile(name: string, kubernetesDir: string): Promise<AgentInput> {
  const file = join(kubernetesDir, stateFileName(name));
  try {
    const info = await lstat(file);
    if (!info.isFile()) throw new OperatorError(`${CONTAINER_KUBERNETES_DIR}/${stateFileName(name)} is not a regular file`);
    return { stateFileBase64: (await readFile(file)).toString('base64') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot read the state file ${CONTAINER_KUBERNETES_DIR}/${stateFileName(name)}: ${messageOf(error)}`);
  }
}
