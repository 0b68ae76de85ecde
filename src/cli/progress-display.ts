/**
 * Writes snapshot-save's live progress to stderr (src/snapshot/progress.ts renders it):
 * - tty: a block of one line per node, redrawn in place; log lines are written above it
 *   (the block is erased, the line written, the block drawn again), so they never mix;
 * - plain: log lines (one per node per phase change, a byte count at most every 10 s);
 * - none: nothing but the log.
 * Every log line of the run goes through `log`, so both share one writer.
 */
import { stderrLogger, type Logger } from '../log.js';
import { applyProgress, initialProgress, renderProgress, type ProgressEvent, type ProgressState } from '../snapshot/progress.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'none';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'tty', 'plain', 'none'];

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressDisplay {
  /** Start showing these nodes (before that, events are ignored and log lines pass straight through). */
  start(nodes: string[]): void;
  event(event: ProgressEvent): void;
  /** One log line (without newline). */
  log(line: string): void;
  /** Draw the final state and stop (the block stays on screen above what follows). */
  stop(): void;
}

/** How often the terminal block is redrawn at most, and at least (time and rate move on). */
const REDRAW_MIN_MS = 100;
const REDRAW_TICK_MS = 500;

export function resolveProgressMode(mode: ProgressMode, output: ProgressOutput): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return output.isTTY ? 'tty' : 'plain';
}

export function createProgressDisplay(mode: ProgressMode, output: ProgressOutput, now: () => number = Date.now): ProgressDisplay {
  const resolved = resolveProgressMode(mode, output);
  let state: ProgressState | undefined;
  const writeLine = (line: string) => output.write(`${line}\n`);
  if (resolved !== 'tty') {
    return {
      start: (nodes) => {
        state = initialProgress(nodes, now());
      },
      event: (event) => {
        if (state === undefined) return;
        const next = applyProgress(state, event, now());
        state = next.state;
        if (resolved === 'plain') for (const line of next.plainLines) writeLine(line);
      },
      log: writeLine,
      stop: () => {
        state = undefined;
      },
    };
  }

  let drawn = 0;
  let lastDraw = 0;
  let timer: NodeJS.Timeout | undefined;
  let pending: NodeJS.Timeout | undefined;
  // Cursor to the start of the block, then erase from there to the end of the screen.
  const erase = () => (drawn > 0 ? `\x1b[${drawn}F\x1b[J` : '');
  const block = () => {
    if (state === undefined) return '';
    const lines = renderProgress(state, now(), output.columns || 200);
    drawn = lines.length;
    return lines.map((line) => `${line}\n`).join('');
  };
  const redraw = () => {
    if (pending !== undefined) clearTimeout(pending);
    pending = undefined;
    lastDraw = now();
    output.write(erase() + block());
  };
  const scheduleRedraw = () => {
    if (pending !== undefined) return;
    const wait = Math.max(0, REDRAW_MIN_MS - (now() - lastDraw));
    pending = setTimeout(redraw, wait);
    pending.unref();
  };
  return {
    start: (nodes) => {
      state = initialProgress(nodes, now());
      redraw();
      timer = setInterval(redraw, REDRAW_TICK_MS);
      timer.unref();
    },
    event: (event) => {
      if (state === undefined) return;
      state = applyProgress(state, event, now()).state;
      scheduleRedraw();
    },
    log: (line) => {
      if (state === undefined) {
        writeLine(line);
        return;
      }
      // One write: the block erased, the log line, the block again (nothing can land in between).
      const before = erase();
      drawn = 0;
      output.write(before + `${line}\n` + block());
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      if (state !== undefined) redraw();
      if (pending !== undefined) clearTimeout(pending);
      state = undefined;
      drawn = 0;
    },
  };
}

/** Runs a command with its log going through a progress display on stderr, always stopped at the end. */
export async function withProgressDisplay(
  mode: ProgressMode,
  debug: boolean,
  run: (log: Logger, display: ProgressDisplay) => Promise<number>,
): Promise<number> {
  const display = createProgressDisplay(mode, process.stderr);
  try {
    return await run(stderrLogger({ debug, write: display.log }), display);
  } finally {
    display.stop();
  }
}
