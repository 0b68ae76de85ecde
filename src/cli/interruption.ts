import type { Logger } from '../log.js';

/**
 * SIGINT/SIGTERM during a run: the first aborts `signal` (every node stops and removes its
 * container), a second quits at once. `exitCode` is 130/143 once interrupted.
 */
export interface Interruption {
  readonly signal: AbortSignal;
  readonly exitCode: number | undefined;
  /** Stop listening for the signals (call when the run is over). */
  dispose(): void;
}

export function listenForInterruption(log: Logger, containers: string): Interruption {
  const controller = new AbortController();
  let exitCode: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (exitCode !== undefined) process.exit(exitCode);
    exitCode = signal === 'SIGINT' ? 130 : 143;
    log.warn(`${signal} received: stopping and removing the ${containers} (send it again to quit at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
