/**
 * The agent's S3 modes for `snapshot-ls/-rm/-prune/-verify --s3`: list the snapshot objects
 * of a bucket/folder, remove a snapshot's objects, and verify one object as `verify` checks
 * a node's file — streamed with ranged GETs, never held whole. Run in a short container on
 * one etcd node, with the same client, credentials (stdin or the node's IAM role) and error
 * wording as `upload`. Keys never appear in a message.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { OperatorError, messageOf } from '../errors.js';
import { DEFAULT_S3_REGION, createS3Client, type S3ClientOptions } from './client.js';
import { isAccessDenied, redactSecrets } from './errors.js';
import { AGE_SUFFIX, sseCustomerParams } from './protection.js';
import { headObject, lockReason } from './object-head.js';
import { pkiBundleObjectKey, snapshotObjectKey } from './key.js';
import type { RemovedSnapshot, SnapshotObject, S3Listing, S3Removal, ObjectCheck, SkippedEntry } from '../model/snapshot.js';
import type { S3SecretsInput, S3Target } from './settings.js';
import { classifyEntry, validateRemovableName } from '../model/names.js';
import { checkBucket, checkCredentials } from './upload/preflight.js';
import { s3Call, type UploadTarget } from './upload/target.js';
import { checkArchive, type ArchiveSource } from '../archive/verify-copy.js';

export interface S3InventoryOptions {
  log?: (line: string) => void;
  signal?: AbortSignal;
  createClient?: (options: S3ClientOptions) => S3Client;
  env?: NodeJS.ProcessEnv;
  /** The error when the default credential chain finds nothing (default: about the node's IAM role). */
  noCredentials?: (env: NodeJS.ProcessEnv) => Promise<OperatorError>;
}

/** HeadObject calls for the recorded sha256 of a listing: at most this many, this many at once. */
export const LIST_HEAD_MAX_OBJECTS = 1000;
const LIST_HEAD_CONCURRENCY = 8;
const PKI_BUNDLE_SUFFIX = '.pki.bundle.tar.gz';

/** s3://BUCKET/FOLDER, the "directory" of this location. */
export function s3Dir(target: Pick<S3Target, 'bucket' | 'folder'>): string {
  return target.folder === '' ? `s3://${target.bucket}` : `s3://${target.bucket}/${target.folder}`;
}

/**
 * What an object's last key part is, as the node listing classifies a file: NAME.zip a zip
 * snapshot, NAME.pki.bundle.tar.gz the PKI bundle uploaded beside NAME, a hidden name
 * nothing, anything else a raw snapshot.
 */
export function classifyObject(file: string): Pick<SnapshotObject, 'kind' | 'name' | 'encryption'> | undefined {
  if (file.endsWith(PKI_BUNDLE_SUFFIX) && file.length > PKI_BUNDLE_SUFFIX.length && !file.startsWith('.')) return { kind: 'pki-bundle', name: file };
  const ageZip = `.zip${AGE_SUFFIX}`;
  if (file.endsWith(ageZip) && file.length > ageZip.length && !file.startsWith('.')) return { kind: 'zip', name: file.slice(0, -ageZip.length), encryption: ['age'] };
  return classifyEntry(file);
}

async function withClient<T>(
  target: S3Target,
  input: S3SecretsInput,
  options: S3InventoryOptions,
  work: (base: UploadTarget) => Promise<T>,
): Promise<T> {
  const s3 = input.s3 ?? {};
  const config: S3ClientOptions = {
    endpoint: target.endpoint,
    ...(target.region ? { region: target.region } : {}),
    ...(s3.customCaPem ? { customCaPem: s3.customCaPem } : {}),
    ...(s3.accessKeyId && s3.secretAccessKey ? { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } : {}),
  };
  const client = (options.createClient ?? createS3Client)(config);
  const base: UploadTarget = {
    client,
    endpoint: target.endpoint,
    bucket: target.bucket,
    key: target.folder,
    region: target.region ?? DEFAULT_S3_REGION,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(s3.sseCustomerKey ? { sseCustomerKey: s3.sseCustomerKey } : {}),
  };
  try {
    await checkCredentials(base, config.credentials !== undefined, options.env ?? process.env, options.noCredentials);
    await checkBucket(base);
    return await work(base);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const secrets = [s3.accessKeyId, s3.secretAccessKey, s3.sseCustomerKey];
    const message = redactSecrets(messageOf(error), secrets);
    if (error instanceof OperatorError || message !== messageOf(error)) throw new OperatorError(message);
    throw error;
  } finally {
    client.destroy();
  }
}

/** `s3-list`: the objects directly in the folder (not in sub-folders) that are snapshots. */
export async function listS3Snapshots(target: S3Target, input: S3SecretsInput, options: S3InventoryOptions = {}): Promise<S3Listing> {
  const started = Date.now();
  return withClient(target, input, options, async (base) => {
    const prefix = target.folder === '' ? '' : `${target.folder}/`;
    const files: SnapshotObject[] = [];
    const skipped: SkippedEntry[] = [];
    const warnings: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3Call({ ...base, key: prefix }, 'ListObjectsV2', (send) =>
        base.client.send(new ListObjectsV2Command({ Bucket: base.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }), send),
      false);
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const file = key.slice(prefix.length);
        const kind = file === '' ? undefined : classifyObject(file);
        if (kind === undefined) continue;
        files.push({
          file,
          key,
          ...kind,
          size: object.Size ?? 0,
          modified: (object.LastModified ?? new Date(0)).toISOString(),
          etag: (object.ETag ?? '').replace(/"/g, ''),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    await addRecordedSha256(base, files, warnings, options.log);
    files.sort((a, b) => a.file.localeCompare(b.file));
    return { ok: true, dir: s3Dir(target), files, skipped, warnings, durationMs: Date.now() - started };
  });
}

/** The sha256 our upload stored as metadata (x-amz-meta-sha256): one HeadObject per snapshot object, bounded. */
async function addRecordedSha256(base: UploadTarget, files: SnapshotObject[], warnings: string[], log?: (line: string) => void): Promise<void> {
  const wanted = files.filter((file) => file.kind !== 'raw').slice(0, LIST_HEAD_MAX_OBJECTS);
  if (wanted.length < files.filter((file) => file.kind !== 'raw').length) {
    warnings.push(`more than ${LIST_HEAD_MAX_OBJECTS} snapshot objects in ${s3Dir({ bucket: base.bucket, folder: base.key.replace(/\/$/, '') })}: sha256 shown for the first ${LIST_HEAD_MAX_OBJECTS} only`);
  }
  let refused: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < wanted.length && refused === undefined) {
      const file = wanted[next++]!;
      try {
        const found = await headObject(base, file.key);
        if (found?.sseC) file.encryption = [...(file.encryption ?? []), found.needsKey ? 'SSE-C (no key given)' : 'SSE-C'];
        const sha256 = found?.head?.Metadata?.sha256;
        if (sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256)) file.sha256 = sha256;
      } catch (error) {
        if (base.signal?.aborted) throw error;
        refused = messageOf(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(LIST_HEAD_CONCURRENCY, wanted.length) }, worker));
  if (refused !== undefined) {
    const warning = `no sha256 for some objects: ${refused}`;
    warnings.push(warning);
    log?.(`WARN ${warning}`);
  }
}

/**
 * `s3-remove --name N ...`: N.zip, N.pki.bundle.tar.gz and a raw N in the folder. A name with
 * no object is `missing`. On a versioned bucket a plain DeleteObject adds a delete marker:
 * the object disappears from listings and older versions stay (recoverable, removed by a
 * lifecycle rule); we never delete versions.
 */
export async function removeS3Snapshots(target: S3Target, names: string[], input: S3SecretsInput, options: S3InventoryOptions = {}): Promise<S3Removal> {
  const started = Date.now();
  for (const name of names) validateRemovableName(name);
  return withClient(target, input, options, async (base) => {
    const warnings: string[] = [];
    const versioned = await isVersioned(base, warnings);
    const results: RemovedSnapshot[] = [];
    for (const name of names) {
      const entry: RemovedSnapshot = { name, status: 'missing', removed: [], refused: [] };
      const zipKey = snapshotObjectKey(target.folder, name);
      const keys = [zipKey, zipKey + AGE_SUFFIX, pkiBundleObjectKey(target.folder, name), target.folder === '' ? name : `${target.folder}/${name}`];
      for (const key of keys) {
        const where = { ...base, key };
        const file = key.slice(target.folder === '' ? 0 : target.folder.length + 1);
        const found = await headObject(base, key);
        if (found === undefined) continue;
        const head: Partial<HeadObjectCommandOutput> = found.head ?? {};
        const locked = lockReason(head, new Date());
        if (locked !== undefined) {
          // SPEC §7: a locked object is reported and kept; a delete marker would only hide it.
          entry.refused.push({ file, reason: locked });
          options.log?.(`kept s3://${base.bucket}/${key}: ${locked}`);
          continue;
        }
        try {
          const deleted = await s3Call(where, 'DeleteObject', (send) => base.client.send(new DeleteObjectCommand({ Bucket: base.bucket, Key: key }), send));
          options.log?.(`removed s3://${base.bucket}/${key}${deleted.DeleteMarker ? ` (delete marker ${deleted.VersionId ?? ''})` : ''}`);
          entry.removed.push({
            file,
            key,
            size: head.ContentLength ?? 0,
            modified: (head.LastModified ?? new Date(0)).toISOString(),
            ...(deleted.DeleteMarker && deleted.VersionId ? { deleteMarker: deleted.VersionId } : {}),
          });
        } catch (error) {
          if (!(error instanceof OperatorError) || !isAccessDenied(error.cause)) throw error;
          entry.refused.push({ file, reason: `access denied: the policy lacks s3:DeleteObject for s3://${base.bucket}/${key}` });
        }
      }
      entry.status = entry.refused.length > 0 ? 'refused' : entry.removed.length > 0 ? 'removed' : 'missing';
      results.push(entry);
    }
    return { ok: true, dir: s3Dir(target), versioned, names: results, warnings, durationMs: Date.now() - started };
  });
}

async function isVersioned(base: UploadTarget, warnings: string[]): Promise<boolean> {
  try {
    const reply = await s3Call(base, 'GetBucketVersioning', (send) => base.client.send(new GetBucketVersioningCommand({ Bucket: base.bucket }), send), false);
    return reply.Status === 'Enabled' || reply.Status === 'Suspended';
  } catch (error) {
    if (!(error instanceof OperatorError) || !isAccessDenied(error.cause)) throw error;
    warnings.push(`cannot read the versioning state of bucket ${base.bucket} (the policy lacks s3:GetBucketVersioning); on a versioned bucket a removal leaves a delete marker`);
    return false;
  }
}

/**
 * `s3-verify --name N`: <folder>/N.zip checked as `verify` checks a node's file. The whole
 * object is streamed once for its size and SHA-256 (compared with the sha256 our upload
 * recorded, when present); the zip's tail, directory and entries are then read with ranged
 * GETs of that same version (or ETag), so memory stays flat whatever the size.
 */
export async function verifyS3Snapshot(target: S3Target, name: string, input: S3SecretsInput, options: S3InventoryOptions = {}): Promise<ObjectCheck> {
  const started = Date.now();
  validateRemovableName(name);
  return withClient(target, input, options, async (base) => {
    const key = snapshotObjectKey(target.folder, name);
    const where = { ...base, key };
    const file = `s3://${base.bucket}/${key}`;
    const done = { ok: true as const, file };
    const found = await headObject(base, key);
    if (found === undefined) {
      const encrypted = await headObject(base, key + AGE_SUFFIX);
      if (encrypted === undefined) return { ...done, status: 'missing', durationMs: Date.now() - started };
      return {
        ...done,
        file: `${file}${AGE_SUFFIX}`,
        status: 'encrypted',
        problem: 'encrypted with age, not verified here: snapshot-fetch --identity-file decrypts and verifies it',
        ...(encrypted.head?.ContentLength !== undefined ? { size: encrypted.head.ContentLength } : {}),
        ...(encrypted.head?.Metadata?.sha256 ? { recordedSha256: encrypted.head.Metadata.sha256 } : {}),
        durationMs: Date.now() - started,
      };
    }
    if (found.needsKey) throw new OperatorError(`${file} is encrypted with a customer key (SSE-C): pass --s3-sse-c-key-file to verify it`);
    const head = found.head!;
    const sseC = found.sseC ? sseCustomerParams(base.sseCustomerKey) : {};
    const size = head.ContentLength ?? 0;
    const etag = head.ETag ?? '';
    const pin = head.VersionId ? { VersionId: head.VersionId } : etag ? { IfMatch: etag } : {};
    const recorded = head.Metadata?.sha256;
    const described = {
      ...done,
      size,
      modified: (head.LastModified ?? new Date(0)).toISOString(),
      etag: etag.replace(/"/g, ''),
      ...(head.VersionId ? { versionId: head.VersionId } : {}),
      ...(recorded ? { recordedSha256: recorded } : {}),
    };
    // An S3 failure during the zip check is the location's error, never a finding about the copy.
    let s3Failure: OperatorError | undefined;
    const get = async (range: string | undefined): Promise<Readable> => {
      const reply = await s3Call(where, 'GetObject', (send) =>
        base.client.send(new GetObjectCommand({ Bucket: base.bucket, Key: key, ...pin, ...sseC, ...(range ? { Range: range } : {}) }), send),
      ).catch((error: unknown) => {
        if (error instanceof OperatorError) s3Failure = error;
        throw error;
      });
      if (reply.Body === undefined) throw new OperatorError(`S3 GetObject of ${file} at ${base.endpoint} returned no body`);
      const body = reply.Body as Readable;
      body.once('error', (error) => {
        s3Failure ??= new OperatorError(`reading ${file} from S3 endpoint ${base.endpoint} failed: ${messageOf(error)}`);
      });
      return body;
    };
    const whole = await digestOf(await get(undefined)).catch((error: unknown) => {
      throw s3Failure ?? error;
    });
    const sha256 = whole.sha256;
    const base2 = { ...described, sha256 };
    const bad = (problem: string): ObjectCheck => ({ ...base2, status: 'bad', problem, durationMs: Date.now() - started });
    if (whole.size !== size) return bad(`the object sent ${whole.size} bytes, its size is ${size} (truncated while read)`);
    if (recorded !== undefined && recorded !== sha256) return bad(`its content (sha256 ${sha256}) is not what was uploaded (sha256 ${recorded} recorded at upload)`);
    const source: ArchiveSource = {
      size,
      readAt: async (position, length) => {
        if (length === 0) return Buffer.alloc(0);
        if (position < 0 || position + length > size) throw new Error(`the object ends before offset ${position + length}`);
        const bytes = (await digestOf(await get(`bytes=${position}-${position + length - 1}`), true)).bytes!;
        if (bytes.length !== length) throw new Error(`a ranged read at ${position} returned ${bytes.length} of ${length} bytes`);
        return bytes;
      },
      stream: (start, end) => lazyStream(() => get(`bytes=${start}-${end}`)),
    };
    try {
      const findings = await checkArchive(source, name);
      return { ...base2, status: 'ok', ...findings, durationMs: Date.now() - started };
    } catch (error) {
      if (s3Failure !== undefined) throw s3Failure;
      if (error instanceof OperatorError) throw error;
      return bad(messageOf(error));
    }
  });
}

async function digestOf(stream: Readable, keep = false): Promise<{ size: number; sha256: string; bytes?: Buffer }> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += bytes.length;
    if (keep) chunks.push(bytes);
  }
  return { size, sha256: hash.digest('hex'), ...(keep ? { bytes: Buffer.concat(chunks) } : {}) };
}

/** A Readable that opens its source on first read (the GET is a promise; pipeline wants a stream now). */
function lazyStream(open: () => Promise<Readable>): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of await open()) yield chunk as Buffer;
    })(),
  );
}
