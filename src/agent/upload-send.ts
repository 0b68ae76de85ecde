import { pipeline } from 'node:stream';
import { AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { OperatorError, messageOf } from '../errors.js';
import { DigestStream } from '../s3/digest-stream.js';
import { progressCounter, type ProgressReport } from './progress.js';
import type { UploadDigest } from '../s3/etag.js';
import { describeS3Error, isAccessDenied } from '../s3/errors.js';
import { readWholeFile, type LocalSnapshot } from './upload-file.js';
import { interruptedError, objectUrl, whereOf, type UploadTarget } from './upload-target.js';

/**
 * 5 MiB parts (S3's minimum), 3 in flight. lib-storage holds each in-flight part about
 * three times over (the chunks read, their concatenation, the TLS socket's queue), on
 * top of ~73 MiB for Node, the SDK and TLS, and V8 frees those Buffers only after 64 MiB
 * more have been allocated: outside a container 8 MiB × 4 peaked at 172 MiB on a 300 MiB
 * file and 5 MiB × 3 at ~146 MiB (in the agent the bench sees 175–178 MiB, and 0.71–0.89
 * of aws s3 cp's throughput: docs/performance.md; forcing a collection per part reached
 * 123 MiB but cost half as much CPU again). 10,000 parts of
 * 5 MiB allow objects up to ~48 GiB, far above etcd's largest database (8 GiB quota).
 * The ETag check depends on cutting parts exactly like this.
 */
export const PART_SIZE = 5 * 1024 * 1024;
export const QUEUE_SIZE = 3;
/** How long the clean-up of an incomplete multipart upload may take after a failure. */
const ABORT_TIMEOUT_MS = 10_000;

export interface SentObject {
  /** What was read and sent: size, SHA-256, per-part MD5s and the ETag they imply. */
  digest: UploadDigest;
  versionId?: string;
}

export interface SendOptions {
  partSize?: number;
  /** Default application/zip (the snapshot). */
  contentType?: string;
  log: (line: string) => void;
  /** Live progress: the bytes read from the file into the upload (at most PART_SIZE × QUEUE_SIZE ahead of what S3 acknowledged). */
  onProgress?: ProgressReport;
}

/**
 * Streams the file through a DigestStream into lib-storage's Upload (one PUT up to a
 * part's size, multipart above). On failure lib-storage is told to leave the parts
 * (its own abort would replace the original error with the abort's if that fails too,
 * e.g. when the policy lacks s3:AbortMultipartUpload): we abort here and only add a
 * note when that fails.
 */
export async function sendSnapshot(target: UploadTarget, file: LocalSnapshot, options: SendOptions): Promise<SentObject> {
  if (target.signal?.aborted) throw interruptedError(target);
  const partSize = options.partSize ?? PART_SIZE;
  const body = new DigestStream(partSize);
  // A read error reaches the uploader through `body`.
  if (options.onProgress) pipeline(readWholeFile(file.handle), progressCounter('upload', options.onProgress), body, () => undefined);
  else pipeline(readWholeFile(file.handle), body, () => undefined);
  const upload = new Upload({
    client: target.client,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: body,
      ContentLength: file.size,
      ContentType: options.contentType ?? 'application/zip',
      Metadata: { sha256: file.sha256 },
    },
    partSize,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: true,
  });
  const versionId = (await runUpload(upload, body, target, options.log)).VersionId;
  const digest = body.digest();
  checkSentMatchesFile(digest, file);
  return { digest, ...(versionId ? { versionId } : {}) };
}

async function runUpload(upload: Upload, body: DigestStream, target: UploadTarget, log: (line: string) => void): Promise<{ VersionId?: string }> {
  const stop = () => void upload.abort();
  target.signal?.addEventListener('abort', stop, { once: true });
  try {
    return await upload.done();
  } catch (error) {
    body.destroy();
    const note = await abortIncompleteUpload(target, upload.uploadId, log);
    if (target.signal?.aborted) throw interruptedError(target, note);
    const failure = describeS3Error(error, whereOf(target, 'upload'));
    throw note === undefined ? failure : new OperatorError(`${failure.message}; ${note}`, { cause: error });
  } finally {
    target.signal?.removeEventListener('abort', stop);
  }
}

/** The bytes sent must be the file's bytes (save writes NAME.zip once, atomically; this catches anything else). */
function checkSentMatchesFile(digest: UploadDigest, file: LocalSnapshot): void {
  if (digest.size !== file.size || digest.sha256 !== file.sha256) {
    throw new OperatorError(
      `${file.displayPath} changed while it was uploaded (sent ${digest.size} bytes with sha256 ${digest.sha256}, ` +
        `the file had ${file.size} bytes with sha256 ${file.sha256}); run the upload again`,
    );
  }
}

/** Returns a note for the operator when an incomplete multipart upload is left behind, else undefined. */
async function abortIncompleteUpload(target: UploadTarget, uploadId: string | undefined, log: (line: string) => void): Promise<string | undefined> {
  if (uploadId === undefined) return undefined;
  try {
    await target.client.send(
      new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId }),
      { abortSignal: AbortSignal.timeout(ABORT_TIMEOUT_MS) },
    );
    log(`aborted the incomplete multipart upload of ${objectUrl(target)}`);
    return undefined;
  } catch (error) {
    const reason = isAccessDenied(error)
      ? 'access denied: the policy lacks s3:AbortMultipartUpload'
      : messageOf(describeS3Error(error, whereOf(target, 'AbortMultipartUpload')));
    const note = `the incomplete multipart upload could not be aborted (${reason}); its parts stay in bucket ${target.bucket} until removed or expired by a lifecycle rule`;
    log(`WARN ${note}`);
    return note;
  }
}
