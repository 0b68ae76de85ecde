import { Transform, type TransformCallback } from 'node:stream';
import type { ByteProgress } from '../model/snapshot.js';

export type ProgressReport = (progress: ByteProgress) => void;

/** The agent reports a phase's bytes at most this often (and once more when the phase's bytes are complete). */
export const PROGRESS_INTERVAL_MS = 1000;

/** Counts the bytes of one phase and reports them: at the first byte, then at most every `intervalMs`, then the total at the end. */
export interface ProgressTally {
  add(bytes: number): void;
  end(): void;
}

export function progressTally(
  phase: ByteProgress['phase'],
  report: ProgressReport,
  options: { intervalMs?: number; now?: () => number } = {},
): ProgressTally {
  const intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let bytes = 0;
  let reportedAt: number | undefined;
  return {
    add(count) {
      bytes += count;
      const time = now();
      if (reportedAt === undefined || time - reportedAt >= intervalMs) {
        reportedAt = time;
        report({ phase, bytes });
      }
    },
    end() {
      report({ phase, bytes });
    },
  };
}

/** The same tally as a pass-through stream. */
export function progressCounter(
  phase: ByteProgress['phase'],
  report: ProgressReport,
  options: { intervalMs?: number; now?: () => number } = {},
): Transform {
  const tally = progressTally(phase, report, options);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      tally.add(chunk.length);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      tally.end();
      callback();
    },
  });
}
