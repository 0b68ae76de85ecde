#!/usr/bin/env node
/**
 * The backup agent, run in the one-off `etcd-snapshot-once` container on each etcd node:
 *   agent save --name NAME --endpoint URL --cacert F --cert F --key F [--health-timeout S] [--overwrite] < input.json
 *   agent upload --name NAME --endpoint HOST[:PORT] --bucket B --folder F [--region R] [--overwrite] < input.json
 *   agent list                                   (container etcd-snapshot-ls: the snapshots directory's files)
 *   agent remove --name NAME [--name NAME ...]   (container etcd-snapshot-rm: unlink NAME.zip and NAME)
 *   agent verify --name NAME                     (container etcd-snapshot-verify: NAME.zip intact, etcd's trailer)
 *   agent s3-list|s3-remove|s3-verify --endpoint E --bucket B --folder F [--region R] [--name N ...] < input.json
 *                                                (containers etcd-snapshot-s3-ls/-rm/-verify: the S3 location)
 *   agent drill --name NAME --timeout SECONDS   (container etcd-snapshot-drill: a restore drill's supervisor, protocol/drill.ts)
 *   agent version
 *   agent /opt/rke-tools/rke-etcd-backup etcd-backup save --once ...   (rke-tools' command line, rke-tools/contract.ts)
 * Logs go to stderr; stdout gets exactly one result line (protocol/wire.ts). Exit 0 on success, 1 on failure.
 */
import { OperatorError, messageOf } from '../errors.js';
import { parseAgentArgs, type AgentCommand } from './args.js';
import { parseAgentInput, readAllInput } from './input.js';
import { formatProgressLine, formatResultLine, type AgentInput } from './protocol/wire.js';
import type { ByteProgress } from '../model/snapshot.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR, PKI_BUNDLE_FILE_NAME } from '../model/paths.js';
import { localDirectory } from '../archive/snapshot-directory.js';
import { AGENT_VERSION } from './version.js';
import { RKE_TOOLS_BINARY } from '../rke-tools/contract.js';

// Each command's code is imported when that command runs: the AWS SDK alone takes about
// half a second of CPU to load, which a snapshot (most runs) does not need.

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * grpc-js passes an IP address as the TLS server name (etcd endpoints are IPs), and
 * Node warns about that (DEP0123) on every connection; the AWS SDK warns about its
 * future Node versions, which nobody on the node can act on: keep every other warning.
 */
function quietIpServerNameWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code === 'DEP0123' || warning.message.startsWith('NodeVersionSupportWarning')) return;
    log(`${warning.name}: ${warning.message}`);
  });
}

/** Progress lines go to stdout, before the result line (protocol/wire.ts PROGRESS_PREFIX). */
function printProgress(progress: ByteProgress): void {
  process.stdout.write(`${formatProgressLine(progress)}\n`);
}

/**
 * Run one job and report its outcome: the job's result, or one line of error. When the
 * run was interrupted that is the error (with `interruptedNote`), for save even when the
 * job's own error says something else; an unexpected error's stack goes to stderr (the
 * S3 code turns any error that mentions a key into an OperatorError: such stacks hold none).
 */
async function runJob(work: () => Promise<{ ok: true } | { ok: false; error: string }>, interruption?: { signal: AbortSignal; note?: string; overridesErrors?: boolean }): Promise<number> {
  try {
    return await report(await work());
  } catch (error) {
    return report({ ok: false, error: failureOf(error, interruption) });
  }
}

function failureOf(error: unknown, interruption?: { signal: AbortSignal; note?: string; overridesErrors?: boolean }): string {
  const interrupted = interruption?.signal.aborted
    ? `stopped by ${String(interruption.signal.reason)} (its container was stopped: by this run, an operator, or the engine shutting down)${interruption.note ? `; ${interruption.note}` : ''}`
    : undefined;
  if (interrupted !== undefined && interruption?.overridesErrors) return interrupted;
  if (error instanceof OperatorError) return error.message;
  if (interrupted !== undefined) return interrupted;
  log(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
  return messageOf(error);
}

async function readInput(): Promise<AgentInput> {
  return parseAgentInput(await readAllInput(process.stdin));
}

/** As PID 1 in a container, node ignores SIGTERM unless it handles it: abort the work, which removes the temp file. */
function abortOnSignals(): AbortSignal {
  const controller = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.once(name, () => {
      log(`received ${name}, stopping`);
      controller.abort(name);
    });
  }
  return controller.signal;
}

async function main(argv: readonly string[]): Promise<number> {
  quietIpServerNameWarning();
  // rke-tools' command line (RKE runs it as the container's command, after our entrypoint,
  // or /opt/rke-tools/rke-etcd-backup runs us with it): see rke-tools/contract.ts.
  if (argv[0] === RKE_TOOLS_BINARY) {
    const { runRkeTools } = await import('./rke-tools.js');
    return runRkeTools(argv.slice(1), { env: process.env, write: log, signal: abortOnSignals() });
  }
  let command: AgentCommand;
  try {
    command = parseAgentArgs(argv);
  } catch (error) {
    return report({ ok: false, error: messageOf(error) });
  }
  if (command.command === 'version') {
    process.stdout.write(`rke-snapshot-agent ${AGENT_VERSION}\n`);
    return 0;
  }
  if (command.command === 'list' || command.command === 'remove' || command.command === 'verify' || command.command === 'sweep') {
    const backup = localDirectory(CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR);
    if (command.command === 'verify') return runJob(async () => (await import('../archive/verify-copy.js')).verifySnapshotCopy(backup, command.name));
    const { listSnapshotFiles, removeSnapshotFiles, sweepTemporaryFiles } = await import('../archive/snapshot-files.js');
    if (command.command === 'sweep') {
      const started = Date.now();
      const finalNames = [`${command.name}.zip`, PKI_BUNDLE_FILE_NAME];
      return runJob(async () => ({ ok: true, dir: NODE_SNAPSHOT_DIR, swept: await sweepTemporaryFiles(backup, finalNames, log), durationMs: Date.now() - started }));
    }
    return runJob(() => (command.command === 'list' ? listSnapshotFiles(backup) : removeSnapshotFiles(backup, command.request.names, log)));
  }
  const signal = abortOnSignals();
  if (command.command === 'drill') {
    const { runRestoreDrill } = await import('./drill.js');
    const request = command.request;
    return runJob(() => runRestoreDrill(request, { log, signal, stdin: process.stdin, print: (line) => process.stdout.write(`${line}\n`) }));
  }
  if (command.command === 'save') {
    const { saveSnapshot } = await import('./save.js');
    const request = command.request;
    return runJob(async () => saveSnapshot(request, await readInput(), { log, signal, onProgress: printProgress }), {
      signal,
      note: 'no snapshot was written',
      overridesErrors: true,
    });
  }
  if (command.command === 'upload') {
    const { uploadSnapshot } = await import('../s3/upload/upload.js');
    const request = command.request;
    return runJob(async () => uploadSnapshot(request, await readInput(), { log, signal, onProgress: printProgress }), { signal, note: 'the upload was stopped' });
  }
  const { listS3Snapshots, removeS3Snapshots, verifyS3Snapshot } = await import('../s3/inventory.js');
  const { target, names } = command;
  const options = { log, signal };
  if (command.command === 's3-list') return runJob(async () => listS3Snapshots(target, await readInput(), options), { signal });
  if (command.command === 's3-remove') return runJob(async () => removeS3Snapshots(target, names, await readInput(), options), { signal });
  return runJob(async () => verifyS3Snapshot(target, names[0]!, await readInput(), options), { signal });
}

async function report(
  result: { ok: true; peakRssBytes?: number; cpuMs?: number } | { ok: false; error: string },
): Promise<number> {
  if (!result.ok) log(`ERROR ${result.error}`);
  const usage = process.resourceUsage();
  const withMemory = result.ok
    ? { ...result, peakRssBytes: usage.maxRSS * 1024, cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000) }
    : result;
  await new Promise<void>((resolve) => process.stdout.write(`${formatResultLine(withMemory)}\n`, () => resolve()));
  return result.ok ? 0 : 1;
}

// gRPC may hold handles open for a moment after close(): exit explicitly once the result is out.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`agent crashed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
