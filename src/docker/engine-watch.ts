/**
 * Is the node's Docker engine still there, and does it still run our container, while we wait
 * for the container's exit? That wait (and the attach stream) can stay open for the whole run
 * timeout after dockerd died, or after it was restarted and lost the container: nothing closes
 * our side. So the container is inspected every few seconds while we wait; two failed
 * inspections in a row (no answer, or the socket gone) mean the engine is lost, and a
 * container the engine no longer runs while the wait has not returned means it was restarted.
 */
import type Docker from 'dockerode';
import { deadline } from '../deadline.js';
import { OperatorError, messageOf } from '../errors.js';
import { isNotFound } from './engine.js';

/** An inspection every 2 s, each answered within 4 s: a dead engine is noticed within about 8 s. */
export const ENGINE_CHECK_INTERVAL_MS = 2_000;
export const ENGINE_CHECK_TIMEOUT_MS = 4_000;
/** Consecutive failed (or container-less) inspections that mean the engine is lost. */
const CHECKS_FOR_LOSS = 2;

/** The engine stopped answering while `what` ran in container `container` (started at `startedAt`, this machine's clock). */
export class EngineLostError extends OperatorError {
  constructor(
    readonly host: string,
    readonly what: string,
    readonly reason: string,
    readonly startedAt: number,
  ) {
    super(`lost the Docker engine on host ${host} during ${what} (${reason})`);
  }
}

export interface EngineWatch {
  /** Rejects with EngineLostError once the engine is lost; never resolves. */
  lost: Promise<never>;
  stop(): void;
}

export interface EngineWatchOptions {
  host: string;
  /** "the snapshot", "the upload": what was running. */
  what: string;
  startedAt: number;
  intervalMs?: number;
  timeoutMs?: number;
}

export function watchEngine(container: Docker.Container, options: EngineWatchOptions): EngineWatch {
  const intervalMs = options.intervalMs ?? ENGINE_CHECK_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? ENGINE_CHECK_TIMEOUT_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let unreachable = 0;
  let notRunning = 0;
  const lost = new Promise<never>((_resolve, reject) => {
    const check = async () => {
      try {
        const inspected = await deadline(container.inspect(), timeoutMs, 'inspecting the container');
        unreachable = 0;
        notRunning = inspected.State.Running ? 0 : notRunning + 1;
      } catch (error) {
        if (isNotFound(error)) notRunning++;
        else unreachable++;
        if (unreachable >= CHECKS_FOR_LOSS && !stopped) {
          reject(new EngineLostError(options.host, options.what, describeCheckFailure(error), options.startedAt));
          return;
        }
      }
      // Not running for two checks while the exit was not reported: the engine was restarted under us.
      if (notRunning >= CHECKS_FOR_LOSS && !stopped) {
        reject(new EngineLostError(options.host, options.what, 'the engine no longer runs the container: it was restarted', options.startedAt));
        return;
      }
      if (!stopped) timer = setTimeout(() => void check(), intervalMs);
    };
    timer = setTimeout(() => void check(), intervalMs);
  });
  lost.catch(() => undefined); // settled through a race; never an unhandled rejection
  return {
    lost,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function describeCheckFailure(error: unknown): string {
  const text = messageOf(error);
  if (/did not finish within/.test(text)) return `it did not answer within ${ENGINE_CHECK_TIMEOUT_MS / 1000} s, twice`;
  if (/Channel open failure|cannot reach Docker/i.test(text)) return 'its socket no longer accepts connections';
  return `it fails: ${text}`;
}
