import { OperatorError } from './errors.js';

/**
 * Settle with `work`, or reject with an OperatorError saying `what` did not finish in
 * time, or that the run was interrupted when `signal` aborts first. The work itself is
 * not cancelled: callers close the connection or remove the container it was using.
 */
export function deadline<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      cleanup();
      reject(new InterruptedError(what));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new OperatorError(`${what} did not finish within ${formatSeconds(ms)}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

/** The operator interrupted the run (SIGINT/SIGTERM) while `what` was going on. */
export class InterruptedError extends OperatorError {
  constructor(what: string) {
    super(`interrupted during ${what}`);
  }
}

export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return Number.isInteger(seconds) ? `${seconds} s` : `${seconds.toFixed(1)} s`;
}
