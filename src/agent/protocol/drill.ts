/**
 * `drill --name NAME --timeout SECONDS` (container etcd-snapshot-drill, /backup bound
 * read-write, no network but its own loopback): the supervisor of a restore drill. It extracts
 * NAME.zip's snapshot into a scratch directory `/backup/.restore-drill-<hex>`, then prints one
 * ready line (DRILL_READY_PREFIX: the scratch directory and the ports) and waits. The CLI runs
 * the restore and the member in etcd's image, inside the supervisor's PID and network namespace,
 * and writes MEMBER_STARTED on the supervisor's stdin; the supervisor reads the census back,
 * kills every other process of its namespace, removes the scratch directory and prints its
 * result line. Its stdin closing (the CLI gone, or done with it), SIGTERM or its deadline end it
 * the same way: nothing is left but what a SIGKILL of the supervisor leaves (the scratch
 * directory, swept by the next drill on that node).
 */
import type { Failure } from '../../model/snapshot.js';
import type { RestoredCopy } from '../../model/restore.js';
import type { DrillPorts } from '../../etcd/restore-drill.js';
import { outcomeCheck, parseLastResult } from './wire.js';

export const DRILL_READY_PREFIX = 'RKE-SNAPSHOT-DRILL-READY ';

/** Written by the CLI on the supervisor's stdin once the member container runs. */
export const MEMBER_STARTED = 'member-started';

/** Scratch directories are `/backup/.restore-drill-<12 hex>`: only such names are ever swept. */
export const SCRATCH_PREFIX = '.restore-drill-';
export const SCRATCH_PATTERN = /^\.restore-drill-[0-9a-f]{12}$/;

/**
 * A copy brought to the node only to be drilled (an S3 copy, placed by the CLI over SFTP):
 * `/backup/.restore-drill-<12 hex>.zip`. The supervisor removes it when it ends; the next
 * drill sweeps one a killed run left.
 */
export const PLACED_COPY_PATTERN = /^\.restore-drill-[0-9a-f]{12}\.zip$/;

export interface DrillRequest {
  name: string;
  /** The supervisor's own deadline: it tears down and exits when it passes. */
  timeoutSeconds: number;
  /** A placed copy (PLACED_COPY_PATTERN) to drill instead of NAME.zip; removed when the drill ends. */
  placedCopy?: string;
}

export interface DrillReady {
  /** The scratch directory's name in /backup (the node's /opt/rke/etcd-snapshots). */
  scratch: string;
  ports: DrillPorts;
  /** The throw-away cluster's token (random). */
  token: string;
  /** The etcd snapshot's size, extracted. */
  snapshotSize: number;
}

export type AgentDrillResult = RestoredCopy | Failure;

export function agentDrillArgs(request: DrillRequest): string[] {
  return ['drill', '--name', request.name, '--timeout', String(request.timeoutSeconds), ...(request.placedCopy ? ['--placed-copy', request.placedCopy] : [])];
}

export function formatDrillReadyLine(ready: DrillReady): string {
  return DRILL_READY_PREFIX + JSON.stringify(ready);
}

export function parseDrillReadyLine(line: string): DrillReady | undefined {
  if (!line.startsWith(DRILL_READY_PREFIX)) return undefined;
  try {
    const value = JSON.parse(line.slice(DRILL_READY_PREFIX.length)) as Partial<DrillReady>;
    const port = (p: unknown) => typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536;
    if (typeof value.scratch !== 'string' || !SCRATCH_PATTERN.test(value.scratch)) return undefined;
    if (!value.ports || !port(value.ports.client) || !port(value.ports.peer)) return undefined;
    if (typeof value.token !== 'string' || !/^[A-Za-z0-9-]+$/.test(value.token) || typeof value.snapshotSize !== 'number') return undefined;
    return { scratch: value.scratch, ports: { client: value.ports.client, peer: value.ports.peer }, token: value.token, snapshotSize: value.snapshotSize };
  } catch {
    return undefined;
  }
}

export function parseDrillResultLine(stdout: string): AgentDrillResult | undefined {
  return parseLastResult(
    stdout,
    outcomeCheck<AgentDrillResult>(
      (record) =>
        typeof record.file === 'string' &&
        typeof record.etcdVersion === 'string' &&
        typeof record.census === 'object' &&
        record.census !== null &&
        typeof (record.census as { keys?: unknown }).keys === 'number' &&
        typeof (record.census as { revision?: unknown }).revision === 'number',
    ),
  );
}
