/**
 * Live progress of `snapshot-save`, per node: pure state and rendering (the terminal
 * display and the plain log lines); src/cli/progress-display.ts does the writing.
 */
import { formatBytes } from './report.js';

export type ProgressPhase = 'waiting' | 'connecting' | 'image' | 'snapshot' | 'verify' | 'upload' | 'done' | 'failed';

/** What the run reports about one node; `atMs` is added by the display. */
export interface ProgressEvent {
  node: string;
  phase?: ProgressPhase;
  /** Bytes done so far in the current phase (the agent's etcd stream, the upload). */
  bytes?: number;
}

export interface NodeProgress {
  node: string;
  phase: ProgressPhase;
  /** When the node left `waiting`; undefined before. */
  startedMs?: number;
  /** When it reached done/failed (its TIME stops there). */
  endedMs?: number;
  phaseStartedMs: number;
  bytes?: number;
  bytesAtMs?: number;
  /** What the last phase that counted bytes ended with (shown until another phase counts). */
  lastBytes?: number;
  lastRate?: string;
  /** Plain mode: when the last byte-count line for this node was printed. */
  bytesLineMs?: number;
}

export interface ProgressState {
  nodes: NodeProgress[];
}

/** Plain mode prints at most one byte-count line per node this often. */
export const PLAIN_BYTES_INTERVAL_MS = 10_000;

export function initialProgress(nodes: string[], atMs: number): ProgressState {
  return { nodes: nodes.map((node) => ({ node, phase: 'waiting', phaseStartedMs: atMs })) };
}

/**
 * The state after an event, and the plain log lines it is worth: one per phase change
 * (with the bytes the phase ended with), and a byte count at most every 10 s per node.
 */
export function applyProgress(state: ProgressState, event: ProgressEvent, atMs: number): { state: ProgressState; plainLines: string[] } {
  const index = state.nodes.findIndex((candidate) => candidate.node === event.node);
  if (index === -1) return { state, plainLines: [] };
  const before = state.nodes[index] as NodeProgress;
  let after: NodeProgress = { ...before };
  const plainLines: string[] = [];
  if (event.phase !== undefined && event.phase !== before.phase) {
    const finished = before.bytes === undefined ? '' : ` (${before.phase}: ${describeBytes(before)})`;
    after = { node: before.node, phase: event.phase, phaseStartedMs: atMs, startedMs: before.startedMs ?? atMs };
    if (before.bytes !== undefined) {
      after.lastBytes = before.bytes;
      const rate = rateOf(before);
      if (rate !== undefined) after.lastRate = rate;
    } else if (before.lastBytes !== undefined) {
      after.lastBytes = before.lastBytes;
      if (before.lastRate !== undefined) after.lastRate = before.lastRate;
    }
    if (event.phase === 'done' || event.phase === 'failed') after.endedMs = atMs;
    plainLines.push(`INFO [${before.node}] progress: ${event.phase}${finished}`);
  }
  if (event.bytes !== undefined) {
    after.bytes = event.bytes;
    after.bytesAtMs = atMs;
    if (after.bytesLineMs === undefined || atMs - after.bytesLineMs >= PLAIN_BYTES_INTERVAL_MS) {
      after.bytesLineMs = atMs;
      plainLines.push(`INFO [${before.node}] progress: ${after.phase} ${describeBytes(after)}`);
    }
  }
  const nodes = state.nodes.slice();
  nodes[index] = after;
  return { state: { nodes }, plainLines };
}

/** The terminal block: a header and one line per node, each cut to `width` columns (a wrapped line would break the redraw). */
export function renderProgress(state: ProgressState, nowMs: number, width = 200): string[] {
  const rows = state.nodes.map((node) => [
    node.node,
    node.phase,
    node.bytes !== undefined ? formatBytes(node.bytes) : node.lastBytes !== undefined ? formatBytes(node.lastBytes) : '',
    node.bytes !== undefined ? (rateOf(node) ?? '') : (node.lastRate ?? ''),
    node.startedMs === undefined ? '' : `${(((node.endedMs ?? nowMs) - node.startedMs) / 1000).toFixed(1)}s`,
  ]);
  const headers = ['NODE', 'PHASE', 'BYTES', 'RATE', 'TIME'];
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] as number))
      .join('  ')
      .trimEnd()
      .slice(0, Math.max(1, width - 1));
  return [line(headers), ...rows.map(line)];
}

function describeBytes(node: NodeProgress): string {
  const rate = rateOf(node);
  return `${formatBytes(node.bytes ?? 0)}${rate === undefined ? '' : ` at ${rate}`}`;
}

/** Average rate over the phase so far (bytes since the phase started). */
function rateOf(node: NodeProgress): string | undefined {
  if (node.bytes === undefined || node.bytesAtMs === undefined) return undefined;
  const seconds = (node.bytesAtMs - node.phaseStartedMs) / 1000;
  if (seconds <= 0) return undefined;
  return `${formatBytes(Math.round(node.bytes / seconds))}/s`;
}
