import { Transform, type TransformCallback } from 'node:stream';
import type { AgentProgress } from './protocol.js';

export type ProgressReport = (progress: AgentProgress) => void;

/** The agent reports a phase's bytes at most this often (and once more when the phase's bytes are complete). */
export const PROGRESS_INTERVAL_MS = 1000;

/**
 * A pass-through that counts the bytes of one phase and reports them: at the first byte,
 * then at most every `intervalMs`, then the total at the end.
 */
export function progressCounter(
  phase: AgentProgress['phase'],
  report: ProgressReport,
  options: { intervalMs?: number; now?: () => number } = {},
): Transform {
  const intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let bytes = 0;
  let reportedAt: number | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      const time = now();
      if (reportedAt === undefined || time - reportedAt >= intervalMs) {
        reportedAt = time;
        report({ phase, bytes });
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      report({ phase, bytes });
      callback();
    },
  });
}
