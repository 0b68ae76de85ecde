/**
 * --runtime ssh, the S3 location of ls/rm/prune/verify: asked from this machine with the
 * same code the agent runs on a node, so this machine's credential chain applies (as for
 * the upload with --runtime ssh); no node is involved.
 */
import { OperatorError, messageOf } from '../../errors.js';
import { s3SecretsOf, s3TargetOf, type S3Settings } from '../../s3/settings.js';
import type { Outcome, S3Jobs } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { NO_CREDENTIALS_HERE } from './upload.js';

export function s3JobsFromHere(settings: S3Settings, scope: RunScope): S3Jobs {
  const options = {
    log: (line: string) => scope.log.debug(`s3://${settings.bucketName}: ${line}`),
    signal: scope.signal,
    noCredentials: async () => new OperatorError(NO_CREDENTIALS_HERE),
  };
  const target = s3TargetOf(settings);
  const secrets = s3SecretsOf(settings);
  const inventory = () => import('../../s3/inventory.js');
  return {
    list: async () => answer(async () => (await inventory()).listS3Snapshots(target, secrets, options)),
    remove: async (names) => answer(async () => (await inventory()).removeS3Snapshots(target, names, secrets, options)),
    verify: async (name) => answer(async () => (await inventory()).verifyS3Snapshot(target, name, secrets, options)),
  };
}

/** Never throws. The S3 code turns any error that mentions a key into an OperatorError. */
async function answer<T>(ask: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, result: await ask(), warnings: [] };
  } catch (error) {
    return { ok: false, error: error instanceof OperatorError ? error.message : `unexpected error: ${messageOf(error)}`, warnings: [] };
  }
}
