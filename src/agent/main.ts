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
 *   agent version
 *   agent /opt/rke-tools/rke-etcd-backup etcd-backup save --once ...   (rke-tools' command line, rke-tools/contract.ts)
 * Logs go to stderr; stdout gets exactly one result line (protocol.ts). Exit 0 on success, 1 on failure.
 */
import { OperatorError, messageOf } from '../errors.js';
import { parseAgentArgs, type AgentCommand } from './args.js';
import { parseAgentInput, readAllInput } from './input.js';
import { formatProgressLine, formatResultLine } from './protocol/wire.js';
import type { ByteProgress, S3Listing, S3Removal } from '../model/snapshot.js';
import type { AgentSaveResult, AgentSaveRequest } from './protocol/save.js';
import type { UploadRequest } from '../s3/upload/upload.js';
import type { AgentUploadResult } from './protocol/upload.js';
import type { AgentListResult, AgentRemoveResult } from './protocol/files.js';
import type { AgentVerifyResult } from './protocol/verify.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../model/paths.js';
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

/** Progress lines go to stdout, before the result line (protocol.ts PROGRESS_PREFIX). */
function printProgress(progress: ByteProgress): void {
  process.stdout.write(`${formatProgressLine(progress)}\n`);
}

async function runSave(request: AgentSaveRequest, signal: AbortSignal): Promise<AgentSaveResult> {
  try {
    const input = parseAgentInput(await readAllInput(process.stdin));
    const { saveSnapshot } = await import('./save.js');
    return await saveSnapshot(request, input, { log, signal, onProgress: printProgress });
  } catch (error) {
    if (signal.aborted) return { ok: false, error: `interrupted (${String(signal.reason)}); no snapshot was written` };
    if (!(error instanceof OperatorError)) log(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
    return { ok: false, error: messageOf(error) };
  }
}

async function runUpload(request: UploadRequest, signal: AbortSignal): Promise<AgentUploadResult> {
  try {
    const input = parseAgentInput(await readAllInput(process.stdin));
    const { uploadSnapshot } = await import('../s3/upload/upload.js');
    return await uploadSnapshot(request, input, { log, signal, onProgress: printProgress });
  } catch (error) {
    if (error instanceof OperatorError) return { ok: false, error: error.message };
    if (signal.aborted) return { ok: false, error: `interrupted (${String(signal.reason)}); the upload was stopped` };
    // uploadSnapshot turns any error that mentions a key into an OperatorError: this stack holds none.
    log(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
    return { ok: false, error: messageOf(error) };
  }
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
  if (command.command === 'upload') return report(await runUpload(command.request, abortOnSignals()));
  if (command.command === 'list' || command.command === 'remove' || command.command === 'verify') {
    const options = { backupDir: CONTAINER_BACKUP_DIR, displayDir: NODE_SNAPSHOT_DIR, log };
    try {
      if (command.command === 'verify') return report(await (await import('../archive/verify-copy.js')).verifySnapshotCopy(command.name, options));
      const { listSnapshotFiles, removeSnapshotFiles } = await import('./files.js');
      return report(command.command === 'list' ? await listSnapshotFiles(options) : await removeSnapshotFiles(command.request.names, options));
    } catch (error) {
      if (!(error instanceof OperatorError)) log(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
      return report({ ok: false, error: messageOf(error) });
    }
  }
  if ('target' in command) {
    const signal = abortOnSignals();
    try {
      const input = parseAgentInput(await readAllInput(process.stdin));
      const options = { log, signal };
      const { listS3Snapshots, removeS3Snapshots, verifyS3Snapshot } = await import('../s3/inventory.js');
      if (command.command === 's3-list') return report(await listS3Snapshots(command.target, input, options));
      if (command.command === 's3-remove') return report(await removeS3Snapshots(command.target, command.names, input, options));
      return report(await verifyS3Snapshot(command.target, command.names[0]!, input, options));
    } catch (error) {
      if (error instanceof OperatorError) return report({ ok: false, error: error.message });
      if (signal.aborted) return report({ ok: false, error: `interrupted (${String(signal.reason)})` });
      // s3-inventory.ts turns any error that mentions a key into an OperatorError: this stack holds none.
      log(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
      return report({ ok: false, error: messageOf(error) });
    }
  }
  return report(await runSave(command.request, abortOnSignals()));
}

async function report(
  result: AgentSaveResult | AgentUploadResult | AgentListResult | AgentRemoveResult | AgentVerifyResult | S3Listing | S3Removal,
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
