import type { S3Client } from '@aws-sdk/client-s3';
import { OperatorError } from '../../errors.js';
import { describeS3Error, type S3Where } from '../errors.js';
import type { UploadProtection } from '../protection.js';

/** The object being uploaded, the client that reaches it, and the run's abort signal. */
export interface UploadTarget {
  client: S3Client;
  endpoint: string;
  bucket: string;
  key: string;
  /** The region the client signs for. */
  region: string;
  signal?: AbortSignal;
  /** Encryption, lock and legal hold of the object written (SPEC §7). */
  protection?: UploadProtection;
  /** SSE-C key (base64): sent with every request on the object's data and HeadObject. */
  sseCustomerKey?: string;
}

export function objectUrl(target: UploadTarget): string {
  return `s3://${target.bucket}/${target.key}`;
}

export function whereOf(target: UploadTarget, operation: string, withKey = true): S3Where {
  const { endpoint, bucket, region, key } = target;
  return { endpoint, bucket, region, operation, ...(withKey ? { key } : {}) };
}

/** Ctrl-C / SIGTERM: the one message for every step, with what happened to the upload. */
export function interruptedError(target: UploadTarget, note?: string): OperatorError {
  const reason = target.signal?.reason === undefined ? 'aborted' : String(target.signal.reason);
  return new OperatorError(`interrupted (${reason}): the upload of ${objectUrl(target)} was stopped${note === undefined ? '' : `; ${note}`}`);
}

/** Runs one S3 call with the run's abort signal; failures become operator errors naming the call. */
export async function s3Call<T>(
  target: UploadTarget,
  operation: string,
  send: (options: { abortSignal?: AbortSignal }) => Promise<T>,
  withKey = true,
): Promise<T> {
  try {
    return await send(target.signal === undefined ? {} : { abortSignal: target.signal });
  } catch (error) {
    if (target.signal?.aborted) throw interruptedError(target);
    throw describeS3Error(error, whereOf(target, operation, withKey));
  }
}
