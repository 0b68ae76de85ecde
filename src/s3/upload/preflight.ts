import { GetBucketVersioningCommand, GetObjectLockConfigurationCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { OperatorError } from '../../errors.js';
import { describeS3Error, httpStatusOf, isAccessDenied, isNotFound, isUnexplainedRefusal, s3ErrorCode } from '../errors.js';
import { noCredentialsError } from '../imds-probe.js';
import { sseCustomerParams } from '../protection.js';
import { interruptedError, objectUrl, s3Call, whereOf, type UploadTarget } from './target.js';

/**
 * Without static keys, resolve the SDK's default chain now (env, profile, the node's
 * IAM role through instance metadata), so that "no credentials" is said once, clearly.
 */
export async function checkCredentials(
  target: UploadTarget,
  staticKeys: boolean,
  env: NodeJS.ProcessEnv,
  noCredentials: (env: NodeJS.ProcessEnv) => Promise<OperatorError> = noCredentialsError,
): Promise<void> {
  if (staticKeys) return;
  try {
    await target.client.config.credentials();
  } catch {
    if (target.signal?.aborted) throw interruptedError(target);
    throw await noCredentials(env);
  }
}

/**
 * HeadBucket: exists, and these credentials may use it. A HEAD reply has no body, so
 * a refusal (403) does not say whether the secret is wrong, the key unknown or the
 * policy too narrow: a listing of no keys (s3:ListBucket, like HeadBucket) says which.
 */
export async function checkBucket(target: UploadTarget): Promise<void> {
  const options = target.signal === undefined ? {} : { abortSignal: target.signal };
  try {
    await target.client.send(new HeadBucketCommand({ Bucket: target.bucket }), options);
  } catch (error) {
    if (target.signal?.aborted) throw interruptedError(target);
    if (!isUnexplainedRefusal(error)) throw describeS3Error(error, whereOf(target, 'HeadBucket', false));
    throw await explainRefusal(target, error);
  }
}

async function explainRefusal(target: UploadTarget, headError: unknown): Promise<OperatorError> {
  const options = target.signal === undefined ? {} : { abortSignal: target.signal };
  try {
    await target.client.send(new ListObjectsV2Command({ Bucket: target.bucket, MaxKeys: 0 }), options);
  } catch (error) {
    if (s3ErrorCode(error) !== undefined) return describeS3Error(error, whereOf(target, 'HeadBucket', false));
  }
  return describeS3Error(headError, whereOf(target, 'HeadBucket', false));
}

/** What to do about the key: write it, add a version to it, or replace it (--overwrite). */
export type KeyPlan = 'new' | 'new-version' | 'replace';

/** The key holds an object of an earlier run, the bucket is unversioned, and --overwrite was not given. */
export class ObjectExistsError extends OperatorError {}

/**
 * SPEC §5: an object left by an earlier run is never silently kept (RKE) nor silently
 * replaced: a versioned bucket gets a new version; otherwise only with --overwrite.
 */
export async function planKey(target: UploadTarget, overwrite: boolean, warn: (message: string) => void): Promise<KeyPlan> {
  if (!(await objectExists(target))) return 'new';
  if (await versioningEnabled(target, warn)) return 'new-version';
  if (!overwrite) throw new ObjectExistsError(`${objectUrl(target)} already exists (from an earlier run); pass --overwrite to replace it`);
  return 'replace';
}

async function objectExists(target: UploadTarget): Promise<boolean> {
  try {
    await s3Call(target, 'HeadObject', (options) =>
      target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key, ...sseCustomerParams(target.sseCustomerKey) }), options),
    );
    return true;
  } catch (error) {
    if (error instanceof OperatorError && isNotFound(error.cause)) return false;
    // An object there, encrypted with another customer key or none (SSE-C HEAD answers 400 then).
    if (target.sseCustomerKey !== undefined && error instanceof OperatorError && httpStatusOf(error.cause) === 400) return true;
    throw error;
  }
}

/**
 * The seed's sample IAM policy allows s3:ListBucket and s3:*Object only, not
 * s3:GetBucketVersioning: then warn and treat the bucket as unversioned (the safe side:
 * an existing object is refused unless --overwrite).
 */
async function versioningEnabled(target: UploadTarget, warn: (message: string) => void): Promise<boolean> {
  try {
    const reply = await s3Call(
      target,
      'GetBucketVersioning',
      (options) => target.client.send(new GetBucketVersioningCommand({ Bucket: target.bucket }), options),
      false,
    );
    return reply.Status === 'Enabled';
  } catch (error) {
    if (!(error instanceof OperatorError) || !isAccessDenied(error.cause)) throw error;
    warn(
      `cannot read the versioning state of bucket ${target.bucket} (access denied: the policy lacks s3:GetBucketVersioning); ` +
        'treating it as unversioned',
    );
    return false;
  }
}

/**
 * SPEC §7: --s3-object-lock-* and --s3-legal-hold need a bucket created with Object Lock
 * enabled; anything else is refused here, before the upload (and, from the CLI, before any node).
 */
export async function checkObjectLock(target: UploadTarget): Promise<void> {
  let enabled: string | undefined;
  try {
    const reply = await target.client.send(
      new GetObjectLockConfigurationCommand({ Bucket: target.bucket }),
      target.signal === undefined ? {} : { abortSignal: target.signal },
    );
    enabled = reply.ObjectLockConfiguration?.ObjectLockEnabled;
  } catch (error) {
    if (target.signal?.aborted) throw interruptedError(target);
    const code = s3ErrorCode(error);
    if (code !== 'ObjectLockConfigurationNotFoundError' && code !== 'NoSuchObjectLockConfiguration' && !isNotFound(error)) {
      throw describeS3Error(error, whereOf(target, 'GetObjectLockConfiguration', false));
    }
  }
  if (enabled !== 'Enabled') {
    throw new OperatorError(
      `bucket ${target.bucket} does not have Object Lock enabled (GetObjectLockConfiguration at ${target.endpoint}): ` +
        '--s3-object-lock-mode and --s3-legal-hold need a bucket created with Object Lock; drop them or use such a bucket',
    );
  }
}
