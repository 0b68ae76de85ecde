/**
 * `snapshot-fetch` (SPEC §7): the S3 copy of NAME back as the node's NAME.zip. The object
 * (NAME.zip, or NAME.zip.age decrypted with the operator's age identities; SSE-C applied)
 * is streamed into a temporary file beside the target, which is checked — a zip whose
 * snapshot entry inflates to its CRC, passes etcd's SHA-256 trailer and yields a revision,
 * hashing to the sha256 the upload recorded — before it gets its final name (0600, synced).
 * Nothing is written under the final name otherwise; no identity matching stops before any
 * file is created.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { Decrypter } from 'age-encryption';
import { OperatorError, messageOf } from '../errors.js';
import { checkArchive, randomAccessSource, type ArchiveFindings } from '../archive/verify-copy.js';
import { checkTargetFree, writeFileAtomically, type AtomicTarget } from '../archive/atomic-file.js';
import { createS3ClientFor } from './client.js';
import { describeS3Error, httpStatusOf, isNotFound } from './errors.js';
import { snapshotObjectKey } from './key.js';
import { AGE_SUFFIX, sseCustomerParams } from './protection.js';
import type { S3Settings } from './settings.js';

export interface FetchRequest {
  name: string;
  /** Age identities (AGE-SECRET-KEY-1…), from --identity-file. */
  identities: string[];
  identityFile?: string;
}

/** The object chosen, opened, and (for age) past its header: a stream of the plain zip. */
export interface OpenedObject {
  key: string;
  bucket: string;
  objectSize: number;
  versionId?: string;
  encryption: { age: boolean; sseC: boolean; serverSideEncryption?: string };
  /** The sha256 the upload recorded (x-amz-meta-sha256), when the object carries one. */
  recordedSha256?: string;
  plain: Readable;
}

export interface FetchedFile extends ArchiveFindings {
  path: string;
  size: number;
  sha256: string;
  key: string;
  bucket: string;
  encryption: OpenedObject['encryption'];
  recordedSha256?: string;
}

/**
 * Finds NAME.zip.age / NAME.zip under the folder (the .age copy when identities are given
 * and it exists), opens it, and (age) decrypts its header: "no identity matches" is said
 * here, before anything is written.
 */
export async function openSnapshotObject(client: S3Client, settings: S3Settings, request: FetchRequest): Promise<OpenedObject> {
  const plainKey = snapshotObjectKey(settings.folder, request.name);
  const ageKey = plainKey + AGE_SUFFIX;
  const [ageHead, plainHead] = [await head(client, settings, ageKey), await head(client, settings, plainKey)];
  let key: string;
  let found: HeadObjectCommandOutput;
  if (ageHead && (request.identities.length > 0 || !plainHead)) {
    if (request.identities.length === 0) {
      throw new OperatorError(`s3://${settings.bucketName}/${ageKey} is encrypted with age: pass --identity-file with an identity of one of its recipients`);
    }
    key = ageKey;
    found = ageHead;
  } else if (plainHead) {
    key = plainKey;
    found = plainHead;
  } else {
    throw new OperatorError(`no S3 copy of ${request.name}: neither s3://${settings.bucketName}/${plainKey} nor ${ageKey} exists (at ${settings.endpoint})`);
  }
  const age = key === ageKey;
  const versionId = found.VersionId;
  const got = await client
    .send(new GetObjectCommand({ Bucket: settings.bucketName, Key: key, ...(versionId ? { VersionId: versionId } : {}), ...sseCustomerParams(settings.sseCustomerKey) }))
    .catch((error: unknown) => {
      throw s3Error(error, settings, key, 'GetObject');
    });
  const body = got.Body as Readable | undefined;
  if (body === undefined) throw new OperatorError(`s3://${settings.bucketName}/${key}: the server sent no body`);
  const plain = age ? await decryptAge(body, request, `s3://${settings.bucketName}/${key}`) : body;
  const recorded = found.Metadata?.sha256;
  return {
    key,
    bucket: settings.bucketName,
    objectSize: found.ContentLength ?? 0,
    ...(versionId ? { versionId } : {}),
    encryption: {
      age,
      sseC: found.SSECustomerAlgorithm !== undefined,
      ...(found.ServerSideEncryption ? { serverSideEncryption: found.ServerSideEncryption } : {}),
    },
    ...(recorded && /^[0-9a-f]{64}$/.test(recorded) ? { recordedSha256: recorded } : {}),
    plain,
  };
}

async function head(client: S3Client, settings: S3Settings, key: string): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await client.send(new HeadObjectCommand({ Bucket: settings.bucketName, Key: key, ...sseCustomerParams(settings.sseCustomerKey) }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw s3Error(error, settings, key, 'HeadObject');
  }
}

/** SSE-C refusals (400 on HEAD/GET) said in the operator's terms; everything else as usual. Never a key in a message. */
export function s3Error(error: unknown, settings: S3Settings, key: string, operation: string): OperatorError {
  const url = `s3://${settings.bucketName}/${key}`;
  const status = httpStatusOf(error);
  if (status === 400 || status === 403) {
    if (settings.sseCustomerKey === undefined && status === 400) {
      return new OperatorError(`${url} is encrypted with a customer key (SSE-C): pass --s3-sse-c-key-file (the server refused ${operation} without it)`);
    }
    if (settings.sseCustomerKey !== undefined) {
      return new OperatorError(
        `${url}: the server refused ${operation} (HTTP ${status}) with the key of --s3-sse-c-key-file: is it the key the copy was uploaded with, and was the copy uploaded with SSE-C?`,
      );
    }
  }
  return describeS3Error(error, { endpoint: settings.endpoint, bucket: settings.bucketName, key, operation, region: settings.region ?? 'us-east-1' });
}

async function decryptAge(body: Readable, request: FetchRequest, url: string): Promise<Readable> {
  const decrypter = new Decrypter();
  for (const identity of request.identities) decrypter.addIdentity(identity);
  try {
    const web = Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>;
    const plain = await decrypter.decrypt(web);
    return Readable.fromWeb(plain as unknown as import('node:stream/web').ReadableStream<Uint8Array>);
  } catch (error) {
    body.destroy();
    const message = messageOf(error);
    if (/no identity matched/i.test(message)) {
      throw new OperatorError(`--identity-file ${request.identityFile ?? ''}: no identity matches a recipient of ${url}; nothing was written`);
    }
    throw new OperatorError(`${url} is not a readable age file: ${message}`);
  }
}

/**
 * Streams the opened object into `path` atomically (temporary file, fsync, link/rename, 0600),
 * checking it before it gets its name. `overwrite`: replace an existing file.
 */
export async function writeFetchedFile(opened: OpenedObject, path: string, name: string, overwrite: boolean): Promise<FetchedFile> {
  const target: AtomicTarget = { dir: dirname(path), fileName: basename(path), mode: 0o600, overwrite, displayPath: path };
  await checkTargetFree(target).catch((error: unknown) => {
    opened.plain.destroy();
    throw error instanceof OperatorError ? new OperatorError(error.message.replace(' on this node', '')) : error;
  });
  const { value } = await writeFileAtomically(target, async (handle) => {
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of opened.plain) {
        const bytes = chunk as Buffer;
        hash.update(bytes);
        await handle.write(bytes, 0, bytes.length, size);
        size += bytes.length;
      }
    } catch (error) {
      throw new OperatorError(`the download of s3://${opened.bucket}/${opened.key} failed: ${messageOf(error)}; nothing was written to ${path}`);
    }
    const sha256 = hash.digest('hex');
    if (opened.recordedSha256 !== undefined && opened.recordedSha256 !== sha256) {
      throw new OperatorError(`s3://${opened.bucket}/${opened.key} does not match the sha256 recorded at upload (got ${sha256}, recorded ${opened.recordedSha256}); nothing was written to ${path}`);
    }
    let findings: ArchiveFindings;
    try {
      findings = await checkArchive(randomAccessSource(handle, size), name);
    } catch (error) {
      throw new OperatorError(`s3://${opened.bucket}/${opened.key} is not a good snapshot of ${name}: ${messageOf(error)}; nothing was written to ${path}`);
    }
    return { size, sha256, findings };
  });
  return {
    path,
    size: value.size,
    sha256: value.sha256,
    key: opened.key,
    bucket: opened.bucket,
    encryption: opened.encryption,
    ...(opened.recordedSha256 ? { recordedSha256: opened.recordedSha256 } : {}),
    ...value.findings,
  };
}

/** The result of checking an age copy here, for snapshot-verify --identity-file. */
export type EncryptedCopyCheck =
  | ({ status: 'ok'; file: string; size: number; sha256: string; recordedSha256?: string } & ArchiveFindings)
  | { status: 'bad'; file: string; problem: string };

/**
 * `snapshot-verify --s3 --identity-file`: NAME.zip.age downloaded, decrypted and checked on
 * this machine exactly as snapshot-fetch does (in a fresh 0700 temp directory, removed at
 * the end). No identity matching, or S3 failing, throws (the location could not be checked);
 * a copy that fails a check is `bad`.
 */
export async function verifyEncryptedCopy(settings: S3Settings, request: FetchRequest): Promise<EncryptedCopyCheck> {
  const dir = await mkdtemp(join(tmpdir(), 'rke-verify-'));
  const client = createS3ClientFor(settings);
  try {
    const opened = await openSnapshotObject(client, settings, request);
    const file = `s3://${opened.bucket}/${opened.key}`;
    try {
      const fetched = await writeFetchedFile(opened, join(dir, `${request.name}.zip`), request.name, false);
      const { path: _path, key: _key, bucket: _bucket, encryption: _encryption, ...checked } = fetched;
      return { ...checked, status: 'ok', file };
    } catch (error) {
      return { status: 'bad', file, problem: messageOf(error).replace(/; nothing was written to \S+$/, '') };
    }
  } finally {
    client.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
