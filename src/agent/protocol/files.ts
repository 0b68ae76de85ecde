/**
 * `sweep --name N` (container etcd-snapshot-sweep) removes N's temporary files that a killed
 * `save` left (`.N.zip.tmp-*`, `.pki.bundle.tar.gz.tmp-*`).
 *
 * `list` (container etcd-snapshot-ls, /backup bound read-only): the snapshots directory's
 * regular files. `remove --name N [--name N ...]` (container etcd-snapshot-rm): unlink
 * N.zip and N. Neither reads standard input.
 */
import type { Failure, SnapshotListing, SnapshotRemoval, TemporaryFilesSwept } from '../../model/snapshot.js';
import { outcomeCheck, parseLastResult } from './wire.js';

export interface AgentRemoveRequest {
  /** Plain snapshot names (model/names.ts validateRemovableName). */
  names: string[];
}

export type AgentListResult = SnapshotListing | Failure;
export type AgentRemoveResult = SnapshotRemoval | Failure;
export type AgentSweepResult = TemporaryFilesSwept | Failure;

export function agentListArgs(): string[] {
  return ['list'];
}

export function agentRemoveArgs(request: AgentRemoveRequest): string[] {
  return ['remove', ...request.names.flatMap((name) => ['--name', name])];
}

export function agentSweepArgs(name: string): string[] {
  return ['sweep', '--name', name];
}

export function parseSweepResultLine(stdout: string): AgentSweepResult | undefined {
  return parseLastResult(stdout, outcomeCheck<AgentSweepResult>((record) => typeof record.dir === 'string' && Array.isArray(record.swept)));
}

export function parseListResultLine(stdout: string): AgentListResult | undefined {
  return parseLastResult(
    stdout,
    outcomeCheck<AgentListResult>((record) => typeof record.dir === 'string' && Array.isArray(record.files) && Array.isArray(record.skipped)),
  );
}

export function parseRemoveResultLine(stdout: string): AgentRemoveResult | undefined {
  return parseLastResult(stdout, outcomeCheck<AgentRemoveResult>((record) => typeof record.dir === 'string' && Array.isArray(record.names)));
}
