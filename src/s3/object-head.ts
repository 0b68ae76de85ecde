import { HeadObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { OperatorError } from '../errors.js';
import { httpStatusOf, isNotFound } from './errors.js';
import { sseCustomerParams } from './protection.js';
import { s3Call, type UploadTarget } from './upload/target.js';

/**
 * HeadObject of an object that may be encrypted with a customer key (SSE-C): a HEAD without
 * the key is refused with 400. Undefined when there is no such object; `needsKey` when the
 * object wants a key this run does not have.
 */
export async function headObject(
  base: UploadTarget,
  key: string,
): Promise<{ head?: HeadObjectCommandOutput; sseC: boolean; needsKey: boolean } | undefined> {
  const where = { ...base, key };
  const send = (withKey: boolean) =>
    s3Call(where, 'HeadObject', (options) =>
      base.client.send(new HeadObjectCommand({ Bucket: base.bucket, Key: key, ...(withKey ? sseCustomerParams(base.sseCustomerKey) : {}) }), options),
    );
  try {
    return { head: await send(false), sseC: false, needsKey: false };
  } catch (error) {
    if (error instanceof OperatorError && isNotFound(error.cause)) return undefined;
    if (!(error instanceof OperatorError) || httpStatusOf(error.cause) !== 400) throw error;
    if (base.sseCustomerKey === undefined) return { sseC: true, needsKey: true };
  }
  return { head: await send(true), sseC: true, needsKey: false };
}

/** "locked until T (mode)" / "under legal hold" while the object's version may not be deleted. */
export function lockReason(head: Pick<HeadObjectCommandOutput, 'ObjectLockMode' | 'ObjectLockRetainUntilDate' | 'ObjectLockLegalHoldStatus'>, now: Date): string | undefined {
  const reasons: string[] = [];
  if (head.ObjectLockMode && head.ObjectLockRetainUntilDate && head.ObjectLockRetainUntilDate.getTime() > now.getTime()) {
    reasons.push(`locked until ${head.ObjectLockRetainUntilDate.toISOString()} (${head.ObjectLockMode})`);
  }
  if (head.ObjectLockLegalHoldStatus === 'ON') reasons.push('under legal hold');
  return reasons.length === 0 ? undefined : reasons.join(', ');
}
