import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { OperatorError } from '../../errors.js';
import { isMd5StyleEtag, unquoteEtag, type UploadDigest } from '../etag.js';
import { objectUrl, s3Call, type UploadTarget } from './target.js';
import type { SentObject } from './send.js';
import type { ObjectProtection } from '../../model/snapshot.js';
import { sseCustomerParams } from '../protection.js';

/** What HeadObject says about the stored object. */
export interface StoredObject {
  size: number | undefined;
  etag: string | undefined;
  /** x-amz-server-side-encryption: with aws:kms (and dsse) the ETag is not an MD5. */
  serverSideEncryption?: string;
  /** SSE-C: the ETag is not an MD5 either. */
  customerKeyAlgorithm?: string;
}

export interface Verification {
  verifiedBy: 'etag' | 'size';
  /** The stored object's ETag, without quotes. */
  etag: string;
  warning?: string;
  /** Encryption and lock as HeadObject reports them. */
  protection?: ObjectProtection;
}

/** Reads the stored object back (the new version, on a versioned bucket) and checks it against what was sent. */
export async function verifyUploadedObject(target: UploadTarget, sent: SentObject): Promise<Verification> {
  const head = await s3Call(target, 'HeadObject', (options) =>
    target.client.send(
      new HeadObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        ...(sent.versionId ? { VersionId: sent.versionId } : {}),
        ...sseCustomerParams(target.sseCustomerKey),
      }),
      options,
    ),
  );
  const stored: StoredObject = {
    size: head.ContentLength,
    etag: head.ETag,
    ...(head.ServerSideEncryption ? { serverSideEncryption: head.ServerSideEncryption } : {}),
    ...(head.SSECustomerAlgorithm ? { customerKeyAlgorithm: head.SSECustomerAlgorithm } : {}),
  };
  const verification = checkStoredObject(stored, sent.digest, describeObject(target, sent.versionId));
  const protection: ObjectProtection = {
    ...(head.ServerSideEncryption ? { serverSideEncryption: head.ServerSideEncryption } : {}),
    ...(head.SSEKMSKeyId ? { kmsKeyId: head.SSEKMSKeyId } : {}),
    ...(head.SSECustomerAlgorithm ? { customerKeyAlgorithm: head.SSECustomerAlgorithm } : {}),
    ...(head.ObjectLockMode && head.ObjectLockRetainUntilDate
      ? { objectLock: { mode: head.ObjectLockMode, retainUntil: head.ObjectLockRetainUntilDate.toISOString() } }
      : {}),
    ...(head.ObjectLockLegalHoldStatus ? { legalHold: head.ObjectLockLegalHoldStatus } : {}),
  };
  return { ...verification, ...(Object.keys(protection).length > 0 ? { protection } : {}) };
}

/**
 * Size must match; the ETag must be the one the sent bytes imply (MD5, or MD5 of part
 * MD5s and -N). When the server's ETag is not of that kind (SSE-KMS, SSE-C, some
 * servers), only the size can be checked: say so.
 */
export function checkStoredObject(stored: StoredObject, sent: UploadDigest, objectName: string): Verification {
  const etag = unquoteEtag(stored.etag ?? '');
  if (stored.size !== sent.size) {
    throw mismatch(objectName, `its size is ${stored.size ?? 'unknown'} bytes, the file has ${sent.size}`);
  }
  const encrypted = isKmsEncryption(stored.serverSideEncryption) || stored.customerKeyAlgorithm !== undefined;
  if (encrypted || !isMd5StyleEtag(etag)) {
    const why = encrypted ? 'the object is encrypted with KMS or a customer key' : `the server's ETag ${JSON.stringify(etag)} is not an MD5`;
    return { verifiedBy: 'size', etag, warning: `${objectName} was checked by size only: ${why}` };
  }
  if (etag !== sent.etag) {
    throw mismatch(objectName, `ETag ${etag}, expected ${sent.etag} for ${sent.partMd5s.length} part(s)`);
  }
  return { verifiedBy: 'etag', etag };
}

function isKmsEncryption(value: string | undefined): boolean {
  return value !== undefined && value.startsWith('aws:kms');
}

function mismatch(objectName: string, detail: string): OperatorError {
  return new OperatorError(`uploaded object ${objectName} does not match the local file (${detail})`);
}

function describeObject(target: UploadTarget, versionId: string | undefined): string {
  return versionId === undefined ? objectUrl(target) : `${objectUrl(target)} (version ${versionId})`;
}
