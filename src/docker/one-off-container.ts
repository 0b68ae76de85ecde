import { PassThrough, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { InterruptedError, deadline, formatSeconds } from '../deadline.js';
import { OperatorError, messageOf } from '../errors.js';
import { confinementConfig, type Confinement } from './confinement.js';
import { describeDockerError, isNotFound } from './engine.js';
import { EngineLostError, watchEngine } from './engine-watch.js';
import { exitEventsSince, KILLED_STATUS } from './exit-events.js';

export interface OneOffContainerSpec {
  name: string;
  image: string;
  cmd: string[];
  env: string[];
  binds: string[];
  labels: Record<string, string>;
  /**
   * Let the engine remove the container when it exits (default), so that nothing is left
   * even if this run loses the node. Off when the exited container must still be read.
   */
  autoRemove?: boolean;
  /**
   * Written to the container's stdin, which is then closed. Never stored by Docker.
   * Absent: the container gets no stdin at all (as RKE runs rke-tools).
   */
  stdin?: Buffer;
  /** Called with each complete line of the container's stdout as it streams (live progress), besides collecting it. */
  onStdoutLine?: (line: string) => void;
  /** What the container may do and use (docs/security.md); absent: the engine's defaults. */
  confinement?: Confinement;
  /** What it does, for messages: "the snapshot" (default), "the upload". */
  purpose?: string;
  /** Replaces the image's entrypoint (images without a shell: the program itself). */
  entrypoint?: string[];
  /** `host` (default), `none`, or `container:NAME` (join that container's namespace). */
  networkMode?: string;
  /** `container:NAME`: run in that container's PID namespace (its PID 1 ending ends this one). */
  pidMode?: string;
  /** `uid:gid` to run as; absent: the image's user. */
  user?: string;
  /**
   * Keep stdin open after `stdin` is written: given the stream once the container runs, and
   * ended by the caller (StdinOnce: the container's stdin also closes when this run is gone).
   */
  holdStdin?: (stdin: NodeJS.WritableStream) => void;
  /** How long it gets after SIGTERM to clean up before it is killed (default 5 s). */
  stopGraceSeconds?: number;
}

/** Checks on the container's files while it exists but does not run (the archive API works on created and exited containers). */
export interface OneOffContainerHooks {
  /** After create, before start; throwing stops here (the container is removed). */
  beforeStart?: (container: Docker.Container) => Promise<void>;
  /** After it exited, before it is removed; throwing fails the run (the container is removed). */
  afterExit?: (container: Docker.Container, exitCode: number) => Promise<void>;
}

export interface OneOffContainerLimits {
  /** How long the container may run (services.etcd.backup_config.timeout). */
  runTimeoutMs: number;
  /** How long each Docker API call may take. */
  apiTimeoutMs: number;
  signal?: AbortSignal;
}

export interface OneOffOutcome {
  exitCode: number;
  /** The kernel killed it for going over its memory limit (the engine's `oom` event; confined containers only). */
  oomKilled?: boolean;
  stdout: string;
  stderr: string;
  /** Set when the container could not be removed afterwards: the operator must act. */
  removalError?: string;
  /** Where the time went: stale check, create, attach and start; the run; the removal. */
  timings: { startMs: number; runMs: number; removeMs: number };
}

/** Keep at most this much of each output stream; the agent's result line comes last. */
const OUTPUT_LIMIT_BYTES = 256 * 1024;

/** How long the agent gets to clean up after SIGTERM before it is killed. */
const STOP_GRACE_SECONDS = 5;

/**
 * Run a container once, like `docker run --rm -i --network host`, and remove it
 * whatever happens: success, failure, timeout or interruption, and (through the engine's
 * AutoRemove) even when this process loses the node or is killed. A stale (exited) container
 * of the same name, left by a killed run, is removed first; a running one is refused.
 */
export async function runOneOffContainer(
  docker: Docker,
  host: string,
  spec: OneOffContainerSpec,
  limits: OneOffContainerLimits,
  hooks: OneOffContainerHooks = {},
): Promise<OneOffOutcome> {
  const api = apiCall(host, limits);
  const began = Date.now();
  // Not abandoned on interruption: a create still in flight would leave a container we hold no handle to.
  const create = () => deadline(createContainer(docker, spec), limits.apiTimeoutMs, `creating ${spec.name} on host ${host}`);
  const container = await create()
    .catch(async (error) => {
      // The name is taken (409): by a container a killed run left behind (removed here, then
      // created again), or by another run's (refused). Checked only then: one API call less per run.
      if (!isNameConflict(error)) throw error;
      await api(removeStaleContainer(docker, host, spec.name), `checking for a stale ${spec.name} container`);
      return create().catch((again) => {
        if (isNameConflict(again)) throw alreadyRunning(host, spec.name); // another run took the name in between
        throw again;
      });
    })
    .catch((error) => {
      if (error instanceof OperatorError) throw error;
      throw new OperatorError(`cannot create container ${spec.name} on host ${host}: ${describeDockerError(error)}`);
    });
  let outcome: Omit<OneOffOutcome, 'timings'> & { startedAt: number };
  try {
    if (limits.signal?.aborted) throw new InterruptedError(`the snapshot on host ${host}`);
    if (hooks.beforeStart) await hooks.beforeStart(container);
    outcome = await runAttached(docker, container, host, spec, limits);
    if (hooks.afterExit) await hooks.afterExit(container, outcome.exitCode);
  } catch (error) {
    // No engine to ask: the container goes on under containerd, and the engine removes it
    // (AutoRemove) once it is back. The caller finds out what the container left on the node.
    if (error instanceof EngineLostError) throw error;
    const removalError = await removeContainer(container, limits.apiTimeoutMs, host, spec);
    if (removalError) throw new OperatorError(`${messageOf(error)}; also ${removalError}`);
    throw error;
  }
  const exited = Date.now();
  const removalError = await removeContainer(container, limits.apiTimeoutMs, host, spec);
  const { startedAt, ...result } = outcome;
  const timings = { startMs: startedAt - began, runMs: exited - startedAt, removeMs: Date.now() - exited };
  return { ...result, timings, ...(removalError ? { removalError } : {}) };
}

async function runAttached(
  docker: Docker,
  container: Docker.Container,
  host: string,
  spec: OneOffContainerSpec,
  limits: OneOffContainerLimits,
): Promise<Omit<OneOffOutcome, 'timings'> & { startedAt: number }> {
  const api = apiCall(host, limits);
  const withStdin = spec.stdin !== undefined || spec.holdStdin !== undefined;
  const stream = (await api(
    container.attach({ stream: true, hijack: withStdin, stdin: withStdin, stdout: true, stderr: true }),
    `attaching to ${spec.name}`,
  )) as Duplex;
  const stdout = new BoundedText(OUTPUT_LIMIT_BYTES);
  const stderr = new BoundedText(OUTPUT_LIMIT_BYTES);
  const outputDone = collectOutput(docker, stream, stdout, stderr, spec.onStdoutLine);

  await api(container.start(), `starting ${spec.name}`).catch((error) => {
    throw new OperatorError(`cannot start container ${spec.name} on host ${host}: ${describeDockerError(error)}`);
  });
  const startedAt = Date.now();
  if (spec.holdStdin !== undefined) {
    if (spec.stdin !== undefined) stream.write(spec.stdin);
    spec.holdStdin(stream);
  } else if (spec.stdin !== undefined) stream.end(spec.stdin);
  const exit = await waitWatchingEngine(container, host, spec, limits, startedAt);
  // The output may still be in flight when the engine reports the exit.
  await deadline(outputDone, 5_000, 'reading the container output').catch(() => undefined);
  const { exitCode, oomKilled } = await howItEnded(docker, container.id, host, exit.StatusCode, spec, limits, startedAt);
  return { exitCode, ...(oomKilled ? { oomKilled } : {}), stdout: stdout.text(), stderr: stderr.text(), startedAt };
}

/**
 * The exit status, and whether the memory limit killed it. The engine removes the container
 * as it exits (AutoRemove), so `docker inspect` cannot be asked: its events are (exit-events.ts),
 * when the wait found it already gone (status -1) or it was killed (137) under a memory limit.
 */
async function howItEnded(
  docker: Docker,
  id: string,
  host: string,
  statusCode: number,
  spec: OneOffContainerSpec,
  limits: OneOffContainerLimits,
  startedAt: number,
): Promise<{ exitCode: number; oomKilled: boolean }> {
  const gone = statusCode === -1;
  const underMemoryLimit = spec.confinement !== undefined;
  if (!gone && !(underMemoryLimit && statusCode === KILLED_STATUS)) return { exitCode: statusCode, oomKilled: false };
  const events = await apiCall(host, limits)(exitEventsSince(docker, id, Math.floor(startedAt / 1000) - 1), `asking for ${spec.name}'s exit events`);
  return { exitCode: events.exitCode ?? statusCode, oomKilled: underMemoryLimit && events.oomKilled };
}


/** The container's exit, unless the engine is lost first (EngineLostError, within seconds: engine-watch.ts). */
async function waitWatchingEngine(
  container: Docker.Container,
  host: string,
  spec: OneOffContainerSpec,
  limits: OneOffContainerLimits,
  startedAt: number,
): Promise<{ StatusCode: number }> {
  const watch = watchEngine(container, { host, what: spec.purpose ?? 'the snapshot', startedAt });
  // Once the engine is lost, the wait (and its run-timeout timer) is given up.
  const giveUp = new AbortController();
  const signal = limits.signal ? AbortSignal.any([limits.signal, giveUp.signal]) : giveUp.signal;
  try {
    return await Promise.race([waitWithin(container, host, { ...limits, signal }), watch.lost]);
  } finally {
    watch.stop();
    giveUp.abort();
  }
}

async function waitWithin(container: Docker.Container, host: string, limits: OneOffContainerLimits): Promise<{ StatusCode: number }> {
  return deadline(waitForExit(container), limits.runTimeoutMs, `the snapshot on host ${host}`, limits.signal).catch((error: unknown) => {
    if (error instanceof OperatorError && /did not finish within/.test(error.message)) {
      throw new OperatorError(
        `the snapshot container on host ${host} did not finish within ${formatSeconds(limits.runTimeoutMs)} ` +
          `(services.etcd.backup_config.timeout); it was stopped and removed`,
      );
    }
    throw error;
  });
}

/**
 * The container's exit status. The engine removes it on exit (AutoRemove), so a container
 * that finished before the wait reached the engine is already gone: its status is then
 * unknown, and the agent's result line (or its absence) in the output decides.
 */
async function waitForExit(container: Docker.Container): Promise<{ StatusCode: number }> {
  try {
    return (await container.wait()) as { StatusCode: number };
  } catch (error) {
    if (isNotFound(error)) return { StatusCode: -1 };
    throw error;
  }
}

/** One Docker API call on `host`, bounded by the API timeout and the run's interruption. */
function apiCall(host: string, limits: OneOffContainerLimits) {
  return <T>(work: Promise<T>, what: string) => deadline(work, limits.apiTimeoutMs, `${what} on host ${host}`, limits.signal);
}

function createContainer(docker: Docker, spec: OneOffContainerSpec): Promise<Docker.Container> {
  const withStdin = spec.stdin !== undefined || spec.holdStdin !== undefined;
  return docker.createContainer({
    name: spec.name,
    Image: spec.image,
    ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
    Cmd: spec.cmd,
    Env: spec.env,
    Labels: spec.labels,
    ...(spec.user ? { User: spec.user } : {}),
    AttachStdin: withStdin,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: withStdin,
    StdinOnce: withStdin,
    Tty: false,
    HostConfig: {
      NetworkMode: spec.networkMode ?? 'host',
      ...(spec.pidMode ? { PidMode: spec.pidMode } : {}),
      Binds: spec.binds,
      RestartPolicy: { Name: 'no' },
      // The engine removes it when it exits, even if this run is gone by then (SSH lost, CLI killed).
      AutoRemove: spec.autoRemove ?? true,
      ...(spec.confinement ? confinementConfig(spec.confinement) : {}),
    },
  });
}

/**
 * A container of that name that has exited is stale (a killed earlier run) and goes;
 * one that is running belongs to another run and is left alone.
 */
async function removeStaleContainer(docker: Docker, host: string, name: string): Promise<void> {
  const existing = docker.getContainer(name);
  let state: { Running: boolean; StartedAt?: string };
  try {
    state = (await existing.inspect()).State;
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  if (state.Running) throw alreadyRunning(host, name, state.StartedAt);
  await existing.remove({ force: true }).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
}

function isNameConflict(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 409;
}

function alreadyRunning(host: string, name: string, startedAt?: string): OperatorError {
  const since = startedAt ? ` since ${startedAt}` : '';
  return new OperatorError(
    `a snapshot is already running on host ${host} (container ${name}${since}); ` +
      `wait for it to finish, or remove it with "docker rm -f ${name}" if it is stuck`,
  );
}

/**
 * Stop with SIGTERM first so the agent can delete its temporary file, then remove
 * with force. Returns an operator message on failure.
 */
async function removeContainer(
  container: Docker.Container,
  timeoutMs: number,
  host: string,
  { name, stopGraceSeconds = STOP_GRACE_SECONDS }: Pick<OneOffContainerSpec, 'name' | 'stopGraceSeconds'>,
): Promise<string | undefined> {
  try {
    await deadline(container.stop({ t: stopGraceSeconds }), timeoutMs + stopGraceSeconds * 1000, `stopping ${name}`).catch((error: unknown) => {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 304 && status !== 404) throw error;
    });
  } catch {
    // Removal with force below kills it anyway.
  }
  try {
    await deadline(container.remove({ force: true }), timeoutMs, `removing ${name}`);
    return undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    // The engine is removing it (AutoRemove): wait for that, so that no container is left
    // when this run reports (on a loaded node, vfs storage takes seconds to delete one).
    if (isRemovalInProgress(error)) {
      await untilGone(container, timeoutMs).catch(() => undefined);
      return undefined;
    }
    if (/SSH connection to host .* is closed/.test(messageOf(error))) {
      return `the SSH connection to host ${host} was lost; the engine removes ${name} when it exits (AutoRemove), check with "docker ps -a"`;
    }
    return `could not remove container ${name} on host ${host}: ${describeDockerError(error)}; remove it with "docker rm -f ${name}"`;
  }
}

/** Resolves once the engine no longer knows the container; gives up (resolves too) after `timeoutMs`. */
async function untilGone(container: Docker.Container, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    try {
      await deadline(container.inspect(), Math.max(1, giveUpAt - Date.now()), 'inspecting');
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The engine is already removing it: AutoRemove after the container exited. */
function isRemovalInProgress(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 409 && /already in progress/i.test(messageOf(error));
}

function collectOutput(docker: Docker, stream: Duplex, stdout: BoundedText, stderr: BoundedText, onLine?: (line: string) => void): Promise<void> {
  const out = new PassThrough();
  const err = new PassThrough();
  const lines = onLine === undefined ? undefined : new LineSplitter(onLine);
  out.on('data', (chunk: Buffer) => {
    stdout.append(chunk);
    lines?.push(chunk);
  });
  err.on('data', (chunk: Buffer) => stderr.append(chunk));
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

/** Cuts a byte stream into lines (without their newline); a line longer than 64 KiB is dropped, not held. */
export class LineSplitter {
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #overlong = false;
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      this.#take(chunk.subarray(start, newline));
      const line = this.#overlong ? undefined : Buffer.concat(this.#pending).toString('utf8');
      this.#pending = [];
      this.#pendingLength = 0;
      this.#overlong = false;
      if (line !== undefined) this.onLine(line);
      start = newline + 1;
    }
    this.#take(chunk.subarray(start));
  }

  #take(part: Buffer): void {
    if (this.#overlong || part.length === 0) return;
    this.#pendingLength += part.length;
    if (this.#pendingLength > 64 * 1024) {
      this.#overlong = true;
      this.#pending = [];
      return;
    }
    this.#pending.push(Buffer.from(part));
  }
}

/** Accumulates text, keeping only the last `limit` bytes. */
class BoundedText {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
