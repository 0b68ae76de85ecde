import { DEFAULT_S3_REGION, createS3ClientFor } from './client.js';
import type { S3Settings } from './settings.js';
import { checkObjectLock } from './upload/preflight.js';
import { snapshotObjectKey } from './key.js';

/**
 * SPEC §7: --s3-object-lock-* / --s3-legal-hold on a bucket without Object Lock is refused
 * before any node is touched. Asked from this machine with the run's static keys, or its own
 * credential chain (--runtime ssh uploads from here); the uploading agent asks again.
 */
export async function checkObjectLockFromHere(settings: S3Settings, name: string): Promise<void> {
  const client = createS3ClientFor(settings);
  try {
    await checkObjectLock({
      client,
      endpoint: settings.endpoint,
      bucket: settings.bucketName,
      key: snapshotObjectKey(settings.folder, name),
      region: settings.region ?? DEFAULT_S3_REGION,
    });
  } finally {
    client.destroy();
  }
}
