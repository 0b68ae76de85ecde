/**
 * The S3 location of `snapshot-ls/-rm/-prune/-verify --s3`, worked on by one agent container
 * on one etcd node (so the node's IAM role applies, as for `upload`); no bind, the keys and
 * the CA on standard input as for `upload` (`AgentInput.s3`):
 *   s3-list   --endpoint E --bucket B --folder F [--region R]                (container etcd-snapshot-s3-ls)
 *   s3-remove --endpoint E --bucket B --folder F [--region R] --name N ...   (container etcd-snapshot-s3-rm)
 *   s3-verify --endpoint E --bucket B --folder F [--region R] --name N       (container etcd-snapshot-s3-verify)
 */
import type { Failure, ObjectCheck, S3Listing, S3Removal } from '../../model/snapshot.js';
import type { S3Target } from '../../s3/settings.js';
import { outcomeCheck, parseLastResult } from './wire.js';

export type AgentS3Command = 's3-list' | 's3-remove' | 's3-verify';

export function agentS3Args(command: AgentS3Command, target: S3Target, names: string[] = []): string[] {
  const args = [command, '--endpoint', target.endpoint, '--bucket', target.bucket, '--folder', target.folder];
  if (target.region !== undefined) args.push('--region', target.region);
  for (const name of names) args.push('--name', name);
  return args;
}

export function parseS3ListResultLine(stdout: string): S3Listing | Failure | undefined {
  return parseLastResult(
    stdout,
    outcomeCheck<S3Listing | Failure>((record) => typeof record.dir === 'string' && Array.isArray(record.files) && Array.isArray(record.warnings)),
  );
}

export function parseS3RemoveResultLine(stdout: string): S3Removal | Failure | undefined {
  return parseLastResult(
    stdout,
    outcomeCheck<S3Removal | Failure>((record) => typeof record.dir === 'string' && Array.isArray(record.names) && Array.isArray(record.warnings)),
  );
}

export function parseS3VerifyResultLine(stdout: string): ObjectCheck | Failure | undefined {
  return parseLastResult(stdout, outcomeCheck<ObjectCheck | Failure>((record) => typeof record.file === 'string' && typeof record.status === 'string'));
}
