/** `upload` (container etcd-snapshot-upload): the node's NAME.zip (already written by `save`) to S3 as <folder>/NAME.zip. */
import type { Failure, UploadedSnapshot } from '../../model/snapshot.js';
import type { UploadRequest } from '../../s3/upload/upload.js';
import { outcomeCheck, parseLastResult } from './wire.js';

export type AgentUploadResult = UploadedSnapshot | Failure;

export function agentUploadArgs(request: UploadRequest): string[] {
  const args = ['upload', '--name', request.name, '--endpoint', request.endpoint, '--bucket', request.bucket, '--folder', request.folder];
  if (request.region !== undefined) args.push('--region', request.region);
  if (request.overwrite) args.push('--overwrite');
  if (request.pkiBundle) args.push('--pki-bundle');
  if (request.sha256 !== undefined) args.push('--sha256', request.sha256);
  // Nothing secret: modes, dates, key ids and public age recipients (the SSE-C key travels on stdin).
  if (request.protection !== undefined && Object.keys(request.protection).length > 0) args.push('--protection', JSON.stringify(request.protection));
  return args;
}

export function parseUploadResultLine(stdout: string): AgentUploadResult | undefined {
  return parseLastResult(
    stdout,
    outcomeCheck<AgentUploadResult>(
      (record) =>
        typeof record.key === 'string' &&
        typeof record.size === 'number' &&
        typeof record.sha256 === 'string' &&
        typeof record.etag === 'string' &&
        Array.isArray(record.warnings),
    ),
  );
}
