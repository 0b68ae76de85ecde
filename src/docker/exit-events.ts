/**
 * How a one-off container ended, told by the engine's event log once the container is gone.
 * The engine removes our containers as they exit (AutoRemove), so `docker inspect` often
 * cannot be asked: a container killed within milliseconds of its start (Docker's smallest
 * memory limit does that) is removed before the wait request reaches the engine, which then
 * answers "no such container". Its `die` event still carries the exit code, and an `oom`
 * event says its memory limit killed it. The engine keeps its last few hundred events; they
 * are asked for once, after the fact, so nothing is held open while the container runs.
 *
 * The engine does not record every such kill: a container killed by its limit as it starts
 * (before containerd watches its cgroup) exits 137 with no `oom` event, nor OOMKilled in
 * `docker inspect` (5 of 51 such kills on the lab, 3 nodes at --agent-memory 6). A kill without
 * the event is therefore reported as "no OOM kill recorded", never as "not its memory limit".
 */
import type Docker from 'dockerode';

/** 128 + SIGKILL: what the engine reports for a container the kernel (or `docker kill`) killed. */
export const KILLED_STATUS = 137;

export interface ExitEvents {
  /** The exit code of the container's `die` event; undefined when the engine has none. */
  exitCode?: number;
  /** Whether the engine recorded an `oom` event for it. */
  oomKilled: boolean;
}

/** The container's `die` and `oom` events since `sinceSeconds` (Unix time). */
export async function exitEventsSince(docker: Docker, id: string, sinceSeconds: number): Promise<ExitEvents> {
  return readExitEvents(docker, id, sinceSeconds, Math.ceil(Date.now() / 1000));
}

async function readExitEvents(docker: Docker, id: string, sinceSeconds: number, untilSeconds: number): Promise<ExitEvents> {
  const stream = (await docker.getEvents({
    since: sinceSeconds,
    until: untilSeconds,
    filters: { container: [id], event: ['die', 'oom'] },
  })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return parseExitEvents(text);
}

/** The engine's event stream: one JSON document per line. */
export function parseExitEvents(text: string): ExitEvents {
  const result: ExitEvents = { oomKilled: false };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as { Action?: string; status?: string; Actor?: { Attributes?: Record<string, string> } };
    const action = event.Action ?? event.status;
    if (action === 'oom') result.oomKilled = true;
    const code = event.Actor?.Attributes?.exitCode;
    if (action === 'die' && code !== undefined && /^\d+$/.test(code)) result.exitCode = Number(code);
  }
  return result;
}
