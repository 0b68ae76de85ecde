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

/** An inspection every 2 s, each answered within 4 s: a dead engine is noticed within about 8 s (3 s on the lab when its socket is gone). */
export const ENGINE_CHECK_INTERVAL_MS = 2_000;
export const ENGINE_CHECK_TIMEOUT_MS = 4_000;
/** Consecutive failed (or container-less) inspections that mean the engine is lost. */
const CHECKS_FOR_LOSS = 2;

/** The engine stopped answering while `what` ran in `container` (started at `startedAt`, this machine's clock). */
export class EngineLostError extends OperatorError {
  constructor(
    readonly host: string,
    readonly what: string,
    readonly reason: string,
    readonly startedAt: number,
    readonly container: Docker.Container,
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
}

/** What one inspection says: the engine runs the container, no longer does, or did not answer (`error`). */
export type ContainerState = { kind: 'running' } | { kind: 'gone' } | { kind: 'unknown'; error: unknown };

export async function containerState(container: Docker.Container): Promise<ContainerState> {
  try {
    const inspected = await deadline(container.inspect(), ENGINE_CHECK_TIMEOUT_MS, 'inspecting the container');
    return inspected.State.Running ? { kind: 'running' } : { kind: 'gone' };
  } catch (error) {
    return isNotFound(error) ? { kind: 'gone' } : { kind: 'unknown', error };
  }
}

export function watchEngine(container: Docker.Container, options: EngineWatchOptions): EngineWatch {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let unreachable = 0;
  let notRunning = 0;
  const lost = new Promise<never>((_resolve, reject) => {
    const lose = (reason: string) => reject(new EngineLostError(options.host, options.what, reason, options.startedAt, container));
    const check = async () => {
      const state = await containerState(container);
      unreachable = state.kind === 'unknown' ? unreachable + 1 : state.kind === 'running' ? 0 : unreachable;
      notRunning = state.kind === 'gone' ? notRunning + 1 : state.kind === 'running' ? 0 : notRunning;
      if (stopped) return;
      if (state.kind === 'unknown' && unreachable >= CHECKS_FOR_LOSS) return lose(describeCheckFailure(state.error));
      // Not running for two checks while the exit was not reported: the engine was restarted under us.
      if (notRunning >= CHECKS_FOR_LOSS) return lose('the engine no longer runs the container: it was restarted');
      timer = setTimeout(() => void check(), ENGINE_CHECK_INTERVAL_MS);
    };
    timer = setTimeout(() => void check(), ENGINE_CHECK_INTERVAL_MS);
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
