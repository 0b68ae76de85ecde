import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { OperatorError, messageOf } from '../../errors.js';
import { PartDigester, partCount, type UploadDigest } from '../etag.js';
import { describeS3Error, isAccessDenied } from '../errors.js';
import { progressTally, type ProgressReport, type ProgressTally } from '../../archive/progress-tally.js';
import { BufferPool, sendBodyInPieces } from './body.js';
import type { LocalSnapshot } from './file.js';
import { UploadRequests } from './stall.js';
import { interruptedError, objectUrl, whereOf, type UploadTarget } from './target.js';
import { readInto } from '../../archive/verify-zip.js';
import { objectWriteParams, sseCustomerParams } from '../protection.js';

/**
 * 8 MiB parts, 4 in flight, each read into one of 4 buffers allocated once and reused
 * for the whole upload: 32 MiB of part data however large the snapshot, and no Buffer
 * churn for V8 to collect late. aws s3 cp sends 10 parts of 8 MiB at once; on the lab
 * 4 reached its throughput (docs/performance.md), and more would only add memory on an
 * etcd node. 10,000 parts of 8 MiB allow objects up to ~78 GiB, far above etcd's largest
 * database (8 GiB quota). The ETag check depends on cutting parts exactly like this.
 */
export const PART_SIZE = 8 * 1024 * 1024;
export const PARTS_IN_FLIGHT = 4;
/** S3's smallest part (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** How long the clean-up of an incomplete multipart upload may take after a failure. */
const ABORT_TIMEOUT_MS = 10_000;

export interface SentObject {
  /** What was read and sent: size, SHA-256, per-part MD5s and the ETag they imply. */
  digest: UploadDigest;
  versionId?: string;
}

export interface SendOptions {
  partSize?: number;
  /** How long nothing may move before the upload fails (default UPLOAD_STALL_MS). */
  stallMs?: number;
  /** Parts sent at once (default PARTS_IN_FLIGHT); each holds a part-sized buffer. */
  partsInFlight?: number;
  /** Default application/zip (the snapshot). */
  contentType?: string;
  log: (line: string) => void;
  /** Live progress: the bytes read from the file into the upload (at most PART_SIZE × PARTS_IN_FLIGHT ahead of what S3 acknowledged). */
  onProgress?: ProgressReport;
}

/**
 * Sends the file: one PUT when it fits in a part, else a multipart upload. Every part
 * carries its Content-MD5, so the server refuses a part damaged on the way; the SHA-256
 * and the per-part MD5s of exactly the bytes read give the ETag that upload-verify.ts
 * checks. Bytes that do not hash to the file's SHA-256 are never stored: a single PUT is
 * checked before it is sent, a multipart upload before it is completed. A failed or
 * interrupted multipart upload is aborted; the original error is kept, with a note when
 * the abort fails too (e.g. no s3:AbortMultipartUpload).
 */
export async function sendSnapshot(target: UploadTarget, file: LocalSnapshot, options: SendOptions): Promise<SentObject> {
  if (target.signal?.aborted) throw interruptedError(target);
  const partSize = options.partSize ?? PART_SIZE;
  if (partSize < MIN_PART_SIZE) throw new Error(`sendSnapshot: parts of ${partSize} bytes are below S3's minimum`);
  const reader = new PartReader(file, partSize, options.onProgress);
  return reader.parts === 1 ? putWhole(target, reader, options) : putInParts(target, reader, options);
}

/** Reads the file part after part, in order, digesting each part as it is read. */
class PartReader {
  readonly parts: number;
  readonly #digester = new PartDigester();
  readonly #progress: ProgressTally | undefined;
  #position = 0;

  constructor(readonly file: LocalSnapshot, readonly partSize: number, onProgress: ProgressReport | undefined) {
    this.parts = partCount(file.size, partSize);
    this.#progress = onProgress && progressTally('upload', onProgress);
  }

  /** Part `number` (1-based, called in order) read into `buffer`; returns the part and its MD5. */
  async read(number: number, buffer: Buffer): Promise<{ body: Buffer; md5: Buffer }> {
    const length = Math.min(this.partSize, this.file.size - this.#position);
    const body = await readInto(this.file.handle, buffer, this.#position, length).catch((error: unknown) => {
      throw new OperatorError(`cannot read ${this.file.displayPath} for the upload (part ${number}): ${messageOf(error)}`, { cause: error });
    });
    this.#position += length;
    const md5 = this.#digester.addPart(body);
    this.#progress?.add(length);
    if (number === this.parts) this.#progress?.end();
    return { body, md5 };
  }

  /** After the last part: the digest of what was read, which must be the file's (else nothing is stored). */
  digest(): UploadDigest {
    const digest = this.#digester.finish();
    if (this.file.checkSent) this.file.checkSent(digest);
    else checkSentMatchesFile(digest, this.file);
    return digest;
  }
}

async function putWhole(target: UploadTarget, reader: PartReader, options: SendOptions): Promise<SentObject> {
  try {
    const { body, md5 } = await reader.read(1, Buffer.allocUnsafe(reader.file.size));
    const digest = reader.digest();
    const command = new PutObjectCommand({
      ...objectParams(target, reader.file, options),
      Body: body,
      ContentLength: body.length,
      ContentMD5: md5.toString('base64'),
    });
    const requests = new UploadRequests(target, options.stallMs);
    try {
      const output = await target.client.send(sendBodyInPieces(command, body, requests.touch), { abortSignal: requests.signal });
      return { digest, ...(output.VersionId ? { versionId: output.VersionId } : {}) };
    } catch (error) {
      throw requests.causeOf(error);
    } finally {
      requests.close();
    }
  } catch (error) {
    throw uploadError(error, target, undefined);
  }
}

/**
 * The multipart upload. Parts are read in order into free buffers and sent as soon as
 * one is free; the first failure stops the reading, cancels the parts in flight, and
 * (once they have settled, so that none lands after it) aborts the upload.
 */
async function putInParts(target: UploadTarget, reader: PartReader, options: SendOptions): Promise<SentObject> {
  // Not cut short by an interruption: its answer carries the id the abort needs (the
  // client's timeouts bound it), and an interruption is noticed just after.
  const created = await target.client.send(new CreateMultipartUploadCommand(objectParams(target, reader.file, options))).catch((error: unknown) => {
    throw uploadError(error, target, undefined);
  });
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new OperatorError(`S3 endpoint ${target.endpoint} started the upload of ${objectUrl(target)} without an upload id`);
  if (target.signal?.aborted) throw uploadError(target.signal.reason, target, await abortIncompleteUpload(target, uploadId, options.log));
  const requests = new UploadRequests(target, options.stallMs);
  try {
    const parts = await sendParts(target, reader, uploadId, requests, options.partsInFlight ?? PARTS_IN_FLIGHT);
    requests.stopStallWatch();
    const digest = reader.digest();
    const completed = await target.client.send(
      new CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      { abortSignal: requests.signal },
    );
    return { digest, ...(completed.VersionId ? { versionId: completed.VersionId } : {}) };
  } catch (error) {
    const cause = requests.causeOf(error);
    requests.cancel();
    const note = await abortIncompleteUpload(target, uploadId, options.log);
    throw uploadError(cause, target, note);
  } finally {
    requests.close();
  }
}

async function sendParts(
  target: UploadTarget,
  reader: PartReader,
  uploadId: string,
  requests: UploadRequests,
  partsInFlight: number,
): Promise<CompletedPart[]> {
  const pool = new BufferPool(Math.min(partsInFlight, reader.parts), reader.partSize);
  const completed: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (let number = 1; number <= reader.parts && failure === undefined && !requests.signal.aborted; number++) {
    const buffer = await pool.take();
    if (failure !== undefined || requests.signal.aborted) break;
    let part: { body: Buffer; md5: Buffer };
    try {
      part = await reader.read(number, buffer);
    } catch (error) {
      failure = { error };
      break;
    }
    const sending = sendPart(target, uploadId, number, part, requests.signal, requests.touch).then(
      (etag) => {
        requests.touch();
        completed.push({ PartNumber: number, ETag: etag });
        pool.give(buffer);
      },
      (error: unknown) => {
        failure ??= { error };
        requests.cancel();
        pool.give(buffer);
      },
    );
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.error;
  if (requests.signal.aborted) throw requests.signal.reason;
  return completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
}

async function sendPart(
  target: UploadTarget,
  uploadId: string,
  number: number,
  part: { body: Buffer; md5: Buffer },
  signal: AbortSignal,
  onPieceSent: () => void,
): Promise<string> {
  const command = new UploadPartCommand({
    Bucket: target.bucket,
    Key: target.key,
    UploadId: uploadId,
    PartNumber: number,
    Body: part.body,
    ContentLength: part.body.length,
    ContentMD5: part.md5.toString('base64'),
    ...sseCustomerParams(target.sseCustomerKey),
  });
  const output = await target.client.send(sendBodyInPieces(command, part.body, onPieceSent), { abortSignal: signal });
  if (output.ETag === undefined) throw new OperatorError(`S3 endpoint ${target.endpoint} accepted part ${number} of ${objectUrl(target)} without an ETag`);
  return output.ETag;
}


function objectParams(target: UploadTarget, file: LocalSnapshot, options: SendOptions) {
  return {
    Bucket: target.bucket,
    Key: target.key,
    ContentType: options.contentType ?? 'application/zip',
    Metadata: { ...file.metadata, sha256: file.sha256 },
    ...objectWriteParams(target.protection),
    ...sseCustomerParams(target.sseCustomerKey),
  };
}

function uploadError(error: unknown, target: UploadTarget, note: string | undefined): OperatorError {
  if (target.signal?.aborted) return interruptedError(target, note);
  const failure = error instanceof OperatorError ? error : describeS3Error(error, whereOf(target, 'upload'));
  return note === undefined ? failure : new OperatorError(`${failure.message}; ${note}`, { cause: error });
}

/** The bytes read must be the file's (save writes NAME.zip once, atomically; this catches anything else). */
function checkSentMatchesFile(digest: UploadDigest, file: LocalSnapshot): void {
  if (digest.sha256 === file.sha256 && digest.size === file.size) return;
  if (file.sha256Origin === 'save') {
    throw new OperatorError(
      `${file.displayPath} is not the snapshot this run wrote (sent ${digest.size} bytes with sha256 ${digest.sha256}; ` +
        `the snapshot step read back sha256 ${file.sha256}): it was replaced or changed in between; check it and run again`,
    );
  }
  throw new OperatorError(
    `${file.displayPath} changed while it was uploaded (sent ${digest.size} bytes with sha256 ${digest.sha256}, ` +
      `the file had ${file.size} bytes with sha256 ${file.sha256}); run the upload again`,
  );
}

/** Returns a note for the operator when an incomplete multipart upload is left behind, else undefined. */
async function abortIncompleteUpload(target: UploadTarget, uploadId: string, log: (line: string) => void): Promise<string | undefined> {
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
      : isTimeout(error)
        ? `no answer within ${ABORT_TIMEOUT_MS / 1000} s`
        : messageOf(describeS3Error(error, whereOf(target, 'AbortMultipartUpload')));
    const note =
      `the incomplete multipart upload (upload id ${uploadId}) could not be aborted (${reason}); its parts stay in bucket ${target.bucket} ` +
      `until removed (aws s3api abort-multipart-upload --bucket ${target.bucket} --key ${target.key} --upload-id ${uploadId}) or expired by a lifecycle rule`;
    log(`WARN ${note}`);
    return note;
  }
}

/** Our own bound on a request (AbortSignal.timeout) ended it. */
function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === 'TimeoutError' || name === 'AbortError';
}
