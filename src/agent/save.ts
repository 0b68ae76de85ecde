import { posix } from 'node:path';
import { connectEtcd, type EtcdClient } from '../etcd/client.js';
import { describeGrpcError } from '../etcd/grpc-error.js';
import { checkEtcdHealth } from '../etcd/health.js';
import { DEFAULT_SNAPSHOT_IDLE_TIMEOUT_MS, snapshotStream } from '../etcd/snapshot-stream.js';
import { OperatorError, messageOf } from '../errors.js';
import { checkTargetFree, ensureDirectory, type AtomicTarget } from '../archive/atomic-file.js';
import { writeSnapshotArchive } from '../archive/snapshot-zip.js';
import { describeBlocks } from '../archive/zip/block-deflate.js';
import { COMPRESSION_LEVELS, DEFAULT_COMPRESSION } from '../model/compression.js';
import { checkPkiBundleTarget, pkiBundleTarget, scanPkiDirectory, writePkiBundle, type PkiScan } from '../archive/pki-bundle.js';
import { CONTAINER_BACKUP_DIR, CONTAINER_SSL_DIR, NODE_SNAPSHOT_DIR, PKI_BUNDLE_FILE_NAME } from '../model/paths.js';
import type { AgentInput } from './protocol/wire.js';
import type { PkiBundleFile, SavedSnapshot } from '../model/snapshot.js';
import type { AgentSaveRequest } from './protocol/save.js';
import { sweepTemporaryFiles } from '../archive/snapshot-files.js';
import { localDirectory } from '../archive/snapshot-directory.js';
import type { ProgressReport } from '../archive/progress-tally.js';

export interface AgentDirectories {
  /** Where the node's /opt/rke/etcd-snapshots is seen (bound read-write: the only place the agent writes). */
  backupDir: string;
  /** Where the node's <prefix_path>/etc/kubernetes/ssl is seen (bound read-only: certificates, and --pki-bundle's source). */
  sslDir: string;
}

export const CONTAINER_DIRECTORIES: AgentDirectories = {
  backupDir: CONTAINER_BACKUP_DIR,
  sslDir: CONTAINER_SSL_DIR,
};

export interface SaveOptions {
  directories?: AgentDirectories;
  snapshotIdleTimeoutMs?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  now?: () => Date;
  /** Live progress for the CLI (main.ts prints it as progress lines on stdout). */
  onProgress?: ProgressReport;
}

/** A temporary file of another snapshot untouched this long belongs to a writer that died. */
export const STALE_TEMPORARY_FILE_MS = 10 * 60 * 1000;

/**
 * The agent's job on one etcd node: health check, snapshot streamed into
 * /opt/rke/etcd-snapshots/NAME.zip (with the state file when given), verified. The state
 * file goes from standard input straight into the archive as /etc/kubernetes/NAME.rkestate,
 * the entry rke-tools writes; it is never placed on the node (RKE places it there only so
 * that rke-tools can zip it from disk, and leaves it behind when the snapshot fails).
 */
export async function saveSnapshot(request: AgentSaveRequest, input: AgentInput, options: SaveOptions = {}): Promise<SavedSnapshot> {
  const started = Date.now();
  const directories = options.directories ?? CONTAINER_DIRECTORIES;
  const log = options.log ?? (() => undefined);
  const target = zipTarget(request, directories.backupDir);

  await ensureDirectory(directories.backupDir, NODE_SNAPSHOT_DIR);
  // Only one save runs on a node at a time (its container's name is fixed): temporary files of
  // this name are an earlier run's that was killed before it could remove them; those of other
  // names go once stale (an agent killed with its CLI, docs/reliability.md).
  await sweepTemporaryFiles(localDirectory(directories.backupDir, NODE_SNAPSHOT_DIR), [target.fileName, PKI_BUNDLE_FILE_NAME], log, {
    staleAfterMs: STALE_TEMPORARY_FILE_MS,
  });
  await checkTargetFree(target);
  // --pki-bundle: a node whose certificates cannot be bundled fails before etcd is asked for anything.
  const pkiScan = request.pkiBundle ? await scanPkiDirectory(directories.sslDir, CONTAINER_SSL_DIR) : undefined;
  if (request.pkiBundle) await checkPkiBundleTarget(pkiBundleTarget(directories.backupDir));
  const stateFile = input.stateFileBase64 === undefined ? undefined : Buffer.from(input.stateFileBase64, 'base64');

  const client = await connectEtcd(request.endpoint, request);
  try {
    await checkEtcdHealth(client, request.healthTimeoutSeconds * 1000, options.signal);
    await logStatus(client, request.healthTimeoutSeconds * 1000, log);
    const idleTimeoutMs = options.snapshotIdleTimeoutMs ?? DEFAULT_SNAPSHOT_IDLE_TIMEOUT_MS;
    const written = await writeSnapshotArchive({
      target,
      snapshotName: request.name,
      endpoint: request.endpoint,
      openSnapshot: () => snapshotStream(client.snapshotCall(), { endpoint: request.endpoint, idleTimeoutMs }),
      stateFile,
      level: COMPRESSION_LEVELS[request.compression ?? DEFAULT_COMPRESSION],
      modified: (options.now ?? (() => new Date()))(),
      signal: options.signal,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    log(`wrote ${target.displayPath}: ${written.archive.size} bytes, sha256 ${written.archive.sha256}, etcd revision ${written.revision ?? 'unknown'}`);
    if (written.revisionProblem !== undefined) log(`WARNING ${written.revisionProblem}`);
    if (written.census !== undefined) log(`census: ${written.census.keys} live keys in ${Object.keys(written.census.resources).length} resource group(s)`);
    if (written.censusProblem !== undefined) log(`WARNING ${written.censusProblem}`);
    if (written.blocks !== undefined) log(`compression auto: ${describeBlocks(written.blocks)}`);
    const pkiBundle = pkiScan === undefined ? undefined : await savePkiBundle(pkiScan, directories.backupDir, target.displayPath, options.signal);
    if (pkiBundle !== undefined) log(`wrote ${pkiBundle.file}: ${pkiBundle.size} bytes, ${pkiBundle.entries} entries, sha256 ${pkiBundle.sha256}`);
    return {
      ok: true,
      file: target.displayPath,
      size: written.archive.size,
      sha256: written.archive.sha256,
      snapshotSize: written.snapshot.snapshotSize,
      snapshotSha256: written.snapshot.snapshotSha256,
      ...(written.revision === undefined ? {} : { revision: written.revision }),
      ...(written.census === undefined ? {} : { census: written.census }),
      ...(written.censusProblem === undefined ? {} : { censusProblem: written.censusProblem }),
      stateFileIncluded: stateFile !== undefined,
      durationMs: Date.now() - started,
      ...(pkiBundle === undefined ? {} : { pkiBundle }),
    };
  } finally {
    client.close();
  }
}

/** RKE wrote the bundle after the snapshot too; if it fails now, the operator learns that the snapshot itself is there. */
async function savePkiBundle(scan: PkiScan, backupDir: string, zipPath: string, signal?: AbortSignal): Promise<PkiBundleFile> {
  try {
    return await writePkiBundle(scan, pkiBundleTarget(backupDir), signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new OperatorError(`${messageOf(error)} (the snapshot ${zipPath} was saved; no PKI bundle was written)`, { cause: error });
  }
}

function zipTarget(request: AgentSaveRequest, backupDir: string): AtomicTarget {
  const fileName = `${request.name}.zip`;
  return {
    dir: backupDir,
    fileName,
    mode: 0o600,
    overwrite: request.overwrite,
    displayPath: posix.join(NODE_SNAPSHOT_DIR, fileName),
  };
}

/** Informational only: a member that answers the health check but not Status still gets snapshotted. */
async function logStatus(client: EtcdClient, deadlineMs: number, log: (line: string) => void): Promise<void> {
  try {
    const status = await client.status(deadlineMs);
    log(`etcd at ${client.endpoint.url} is healthy: version ${status.version}, db ${status.dbSize} bytes`);
    if (status.errors.length > 0) log(`etcd at ${client.endpoint.url} reports: ${status.errors.join('; ')}`);
  } catch (error) {
    log(`etcd at ${client.endpoint.url} is healthy; its status is unavailable: ${describeGrpcError(error, deadlineMs)}`);
  }
}
