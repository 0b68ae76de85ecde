/**
 * `agent drill`: the supervisor of a restore drill (protocol/drill.ts has the exchange with the
 * CLI). It is PID 1 of the PID namespace the drill's etcd containers join, so when it exits —
 * done, failed, its deadline, SIGTERM, or its stdin closed because the CLI is gone — the kernel
 * kills every process of the drill and the engine removes their containers (AutoRemove). Before
 * it exits it kills them itself and removes its scratch directory; a directory a SIGKILLed
 * supervisor left is swept by the next drill on the node.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rm, statfs } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { Transform } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { randomAccessSource, extractSnapshotEntry } from '../archive/verify-copy.js';
import { localDirectory } from '../archive/snapshot-directory.js';
import { readCensus } from '../etcd/census-read.js';
import { EtcdClient } from '../etcd/client.js';
import { DRILL_SNAPSHOT_FILE, drillSpaceNeeded, type DrillPorts } from '../etcd/restore-drill.js';
import type { StatusResponse } from '../etcd/messages.js';
import { OperatorError, messageOf } from '../errors.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../model/paths.js';
import type { RestoredCopy } from '../model/restore.js';
import { MEMBER_STARTED, PLACED_COPY_PATTERN, SCRATCH_PATTERN, SCRATCH_PREFIX, formatDrillReadyLine, type DrillRequest } from './protocol/drill.js';

export interface DrillIo {
  log: (line: string) => void;
  /** SIGTERM/SIGINT. */
  signal: AbortSignal;
  stdin: NodeJS.ReadableStream;
  /** A line on stdout (the ready line). */
  print: (line: string) => void;
}

/** How long one gRPC call to the drill member may take. */
const CALL_TIMEOUT_MS = 30_000;

export async function runRestoreDrill(request: DrillRequest, io: DrillIo): Promise<RestoredCopy> {
  const started = Date.now();
  const stop = new AbortController();
  const onSignal = () => stop.abort(`${String(io.signal.reason)} (its container was stopped)`);
  io.signal.addEventListener('abort', onSignal, { once: true });
  const timer = setTimeout(() => stop.abort(`its deadline (${request.timeoutSeconds} s)`), request.timeoutSeconds * 1000);
  const memberStarted = lineOnStdin(io.stdin, MEMBER_STARTED, stop);
  const scratchName = SCRATCH_PREFIX + randomBytes(6).toString('hex');
  const scratch = `${CONTAINER_BACKUP_DIR}/${scratchName}`;
  const zipName = request.placedCopy ?? `${request.name}.zip`;
  const file = `${NODE_SNAPSHOT_DIR}/${zipName}`;
  let client: EtcdClient | undefined;
  let failed = false;
  try {
    await sweepStaleScratch(io.log, request.placedCopy);
    await mkdir(scratch, { mode: 0o700 });
    const snapshotSize = await extractSnapshot(zipName, request.name, scratch, stop.signal);
    const ports = await freePorts();
    const token = `rke-restore-drill-${randomBytes(6).toString('hex')}`;
    io.print(formatDrillReadyLine({ scratch: scratchName, ports, token, snapshotSize }));
    await untilStopped(memberStarted, stop.signal);
    client = new EtcdClient({ url: `http://127.0.0.1:${ports.client}`, target: `127.0.0.1:${ports.client}` }, grpc.credentials.createInsecure());
    const status = await firstStatus(client, stop.signal);
    const census = await readCensus((range) => client!.range(range, CALL_TIMEOUT_MS, stop.signal));
    io.log(`restored with etcd ${status.version}: ${census.keys} keys at revision ${census.revision}`);
    return { ok: true, file, etcdVersion: status.version, census, durationMs: Date.now() - started };
  } catch (error) {
    failed = true;
    if (stop.signal.aborted) throw new OperatorError(`the restore drill of ${file} was stopped by ${String(stop.signal.reason)}`);
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`the restore drill of ${file}: ${messageOf(error)}`);
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener('abort', onSignal);
    client?.close();
    await endNamespace(io.log);
    const placed = request.placedCopy === undefined ? [] : [`${CONTAINER_BACKUP_DIR}/${request.placedCopy}`];
    await Promise.all([scratch, ...placed].map((path) => rm(path, { recursive: true, force: true }))).catch((error: unknown) => {
      // A failure already says what went wrong; this adds to it only when nothing else did.
      const message = `could not remove the drill's scratch directory ${NODE_SNAPSHOT_DIR}/${scratchName}${placed.length ? ` or ${file}` : ''}: ${messageOf(error)}; the next restore drill on this node removes it`;
      if (failed) io.log(message);
      else throw new OperatorError(message);
    });
  }
}

/**
 * What a killed drill left: scratch directories and placed copies, only entries of exactly
 * those name patterns and kinds (one drill runs on a node at a time: its container's name).
 */
async function sweepStaleScratch(log: (line: string) => void, placedCopy: string | undefined): Promise<void> {
  for (const entry of await readdir(CONTAINER_BACKUP_DIR)) {
    const scratch = SCRATCH_PATTERN.test(entry);
    if (!scratch && (!PLACED_COPY_PATTERN.test(entry) || entry === placedCopy)) continue;
    const stats = await lstat(`${CONTAINER_BACKUP_DIR}/${entry}`);
    if (scratch ? !stats.isDirectory() : !stats.isFile()) continue;
    await rm(`${CONTAINER_BACKUP_DIR}/${entry}`, { recursive: true, force: true });
    log(`removed ${NODE_SNAPSHOT_DIR}/${entry}, left by an earlier restore drill that was killed`);
  }
}

/** The zip's snapshot entry /backup/NAME into the scratch directory, after checking there is room for the whole drill. Returns its size. */
async function extractSnapshot(zipName: string, name: string, scratch: string, signal: AbortSignal): Promise<number> {
  const directory = localDirectory(CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR);
  const zip = `${NODE_SNAPSHOT_DIR}/${zipName}`;
  const opened = await directory.openForReading(zipName).catch((error: unknown) => {
    throw new OperatorError(`cannot open ${zip}: ${messageOf(error)}`);
  });
  let output: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const { size } = await opened.stat();
    const entry = await extractSnapshotEntry(randomAccessSource(opened, size), name, async (found) => {
      await checkFreeSpace(found.uncompressedSize);
      output = await open(`${scratch}/${DRILL_SNAPSHOT_FILE}`, 'wx', 0o600);
      return writeThrough(output, signal);
    }).catch((error: unknown) => {
      if (error instanceof OperatorError) throw error;
      throw new OperatorError(`cannot extract the snapshot from ${zip}: ${messageOf(error)}`);
    });
    return entry.uncompressedSize;
  } finally {
    await output?.close();
    await opened.close();
  }
}

async function checkFreeSpace(snapshotSize: number): Promise<void> {
  const needed = drillSpaceNeeded(snapshotSize);
  const stats = await statfs(CONTAINER_BACKUP_DIR);
  const free = stats.bavail * stats.bsize;
  if (free < needed) {
    throw new OperatorError(
      `not enough free space in ${NODE_SNAPSHOT_DIR} for the restore drill: ${free} bytes free, ${needed} needed ` +
        `(the ${snapshotSize}-byte snapshot twice, extracted and restored, and 128 MiB for etcd's WAL)`,
    );
  }
}

/** Passes the bytes on after writing them to `file` (so the pipeline's pace is the disk's). */
function writeThrough(file: Awaited<ReturnType<typeof open>>, signal: AbortSignal): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (signal.aborted) {
        callback(new Error(`stopped by ${String(signal.reason)}`));
        return;
      }
      file.write(chunk).then(
        () => callback(null, chunk),
        (error: unknown) => callback(error as Error),
      );
    },
  });
}

/** Two distinct free ports on 127.0.0.1, as the kernel hands them out (in the drill's own network namespace). */
async function freePorts(): Promise<DrillPorts> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let index = 0; index < 2; index++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
      ports.push((server.address() as { port: number }).port);
    }
    return { client: ports[0]!, peer: ports[1]! };
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Resolves when `line` arrives on stdin; stdin's end (the CLI gone or done) stops the drill. */
function lineOnStdin(stdin: NodeJS.ReadableStream, line: string, stop: AbortController): Promise<void> {
  return new Promise((resolve) => {
    let pending = '';
    stdin.on('data', (chunk: Buffer | string) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      if (complete.some((received) => received.trim() === line)) resolve();
      // A line is a word: anything longer is not ours, and is not kept.
      if (pending.length > 1024) pending = '';
    });
    stdin.on('end', () => stop.abort('its standard input closing (the CLI is done with it, or gone)'));
    stdin.on('error', () => stop.abort('its standard input failing (the CLI is gone)'));
  });
}

function untilStopped<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('stopped'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The member's first Status answer (it is starting: refused connections are retried until the drill stops). */
async function firstStatus(client: EtcdClient, signal: AbortSignal): Promise<StatusResponse> {
  for (;;) {
    try {
      return await client.status(5_000, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * Kill every other process of the drill's PID namespace (the restore, the member) and wait until
 * they are gone, so the scratch directory is no longer written. Only as PID 1 of a container:
 * anywhere else kill(-1) would reach every process of the user.
 */
async function endNamespace(log: (line: string) => void): Promise<void> {
  if (process.pid !== 1) return;
  try {
    process.kill(-1, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') log(`could not kill the drill's processes: ${messageOf(error)}`);
  }
  for (let waited = 0; waited < 10_000; waited += 100) {
    if ((await otherLiveProcesses()).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  log(`the drill's processes ${(await otherLiveProcesses()).join(', ')} did not end within 10 s of SIGKILL`);
}

async function otherLiveProcesses(): Promise<string[]> {
  const live: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || entry === String(process.pid)) continue;
    // A zombie (state Z) is dead already; its shim, outside the namespace, reaps it.
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (stat !== '' && !/^\d+ \(.*\) Z /s.test(stat)) live.push(entry);
  }
  return live;
}
