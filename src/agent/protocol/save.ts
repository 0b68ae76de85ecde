/** `save` (container etcd-snapshot-once): the snapshot of the node's member, written as NAME.zip. */
import type { CompressionMode } from '../../model/compression.js';
import type { Failure, SavedSnapshot } from '../../model/snapshot.js';
import { outcomeCheck, parseLastResult } from './wire.js';

export interface AgentSaveRequest {
  /** Snapshot name, already validated by the CLI (validateSnapshotName). */
  name: string;
  /** etcd client URL of this node's member, e.g. https://10.0.0.1:2379 */
  endpoint: string;
  cacert: string;
  cert: string;
  key: string;
  /** Replace an existing NAME.zip instead of refusing. */
  overwrite: boolean;
  /** How long the agent may spend on the etcd health check, in seconds. */
  healthTimeoutSeconds: number;
  /** Also write /opt/rke/etcd-snapshots/pki.bundle.tar.gz (the node's /etc/kubernetes/ssl). Absent: false. */
  pkiBundle?: boolean;
  /** How the snapshot is compressed in the zip. Absent: DEFAULT_COMPRESSION. */
  compression?: CompressionMode;
}

export type AgentSaveResult = SavedSnapshot | Failure;

export function agentSaveArgs(request: AgentSaveRequest): string[] {
  const args = [
    'save',
    '--name', request.name,
    '--endpoint', request.endpoint,
    '--cacert', request.cacert,
    '--cert', request.cert,
    '--key', request.key,
    '--health-timeout', String(request.healthTimeoutSeconds),
  ];
  if (request.overwrite) args.push('--overwrite');
  if (request.pkiBundle) args.push('--pki-bundle');
  if (request.compression !== undefined) args.push('--compression', request.compression);
  return args;
}

export function parseSaveResultLine(stdout: string): AgentSaveResult | undefined {
  return parseLastResult(
    stdout,
    outcomeCheck<AgentSaveResult>(
      (record) =>
        typeof record.file === 'string' &&
        typeof record.size === 'number' &&
        typeof record.sha256 === 'string' &&
        typeof record.snapshotSize === 'number' &&
        typeof record.snapshotSha256 === 'string',
    ),
  );
}
