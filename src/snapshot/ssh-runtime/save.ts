import { COMPRESSION_LEVELS, DEFAULT_COMPRESSION } from '../../model/compression.js';
import { posix } from 'node:path';
import type { AtomicTarget } from '../../archive/atomic-file.js';
import { NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import type { NodeConfig } from '../../config/cluster.js';
import { formatSeconds } from '../../deadline.js';
import { createEtcdClient, type EtcdTlsPems } from '../../etcd/client.js';
import { parseEtcdEndpoint } from '../../etcd/endpoint.js';
import { checkEtcdHealth } from '../../etcd/health.js';
import { DEFAULT_SNAPSHOT_IDLE_TIMEOUT_MS, snapshotStream } from '../../etcd/snapshot-stream.js';
import { OperatorError } from '../../errors.js';
import { NodeSftp, SftpError } from '../../ssh/sftp.js';
import type { SshConnection } from '../../ssh/connection.js';
import { SshTcpTunnel } from '../../ssh/tcp-tunnel.js';
import { failureMessage, withNodeSsh } from '../node-ssh.js';
import { nodeSslDir } from '../node-paths.js';
import type { NodeResult } from '../result.js';
import type { SaveJob } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { checkRemoteTargetFree, checkSftpExtensions, ensureRemoteDirectory, writeArchiveOverSftp } from './sftp-archive.js';

/** etcd's client port, as the container path dials it (https://<internal_address>:2379). */
export const ETCD_CLIENT_PORT = 2379;
/** The same client certificate the snapshot container uses, from the node's <prefix_path>/etc/kubernetes/ssl. */
export const ETCD_CLIENT_FILES = { ca: 'kube-ca.pem', cert: 'kube-node.pem', key: 'kube-node-key.pem' } as const;
/** A PEM file larger than this is not a certificate or key. */
const MAX_PEM_BYTES = 1024 * 1024;
/** The agent's health check deadline (docker-runtime/save.ts passes 30 s to the container). */
const HEALTH_TIMEOUT_MS = 30_000;
/** Each SFTP request (a write of 128 KiB, a stat) must be answered within this. */
export const SFTP_REQUEST_TIMEOUT_MS = 60_000;

const lostConnectionAdvice = 'a temporary .NAME.zip.tmp-* file may remain in /opt/rke/etcd-snapshots there (never under the final name); check that sshd is up and run again';

/**
 * --runtime ssh: one node's snapshot without Docker. Over the node's SSH connection:
 * its etcd client certificate and key are read over SFTP into memory, etcd's client
 * port is reached through a tunnel (direct-tcpip), the snapshot is streamed from etcd
 * through the trailer check into the same zip the agent writes, over SFTP, atomically.
 * Never throws: failures become the result's `error`.
 */
export async function saveOverSsh(node: NodeConfig, job: SaveJob, scope: RunScope): Promise<NodeResult> {
  const started = Date.now();
  const base = { address: node.address, hostnameOverride: node.hostnameOverride, warnings: [] as string[], runtime: 'ssh' as const };
  try {
    scope.progress?.({ node: node.address, phase: 'connecting' });
    const result = await withNodeSsh(node, scope, lostConnectionAdvice.replace('NAME', job.name), async (ssh, nodeScope) => {
      const sftp = await openNodeSftp(ssh, scope);
      try {
        return await withSnapshotTimeout(node, nodeScope, (signal) => writeSnapshot({ ssh, sftp, node, job, scope: { ...nodeScope, signal } }));
      } finally {
        sftp.end();
      }
    });
    return { ...base, ...result, ok: true, durationMs: Date.now() - started };
  } catch (error) {
    return { ...base, ok: false, error: failureMessage(error, node, scope), durationMs: Date.now() - started };
  }
}

/** The node's SFTP session, each request bounded by SFTP_REQUEST_TIMEOUT_MS. */
export function openNodeSftp(ssh: SshConnection, scope: RunScope): Promise<NodeSftp> {
  return NodeSftp.open(ssh, { openTimeoutMs: scope.timeouts.sshConnectMs, requestTimeoutMs: SFTP_REQUEST_TIMEOUT_MS });
}

type SavedFields = Pick<NodeResult, 'file' | 'size' | 'sha256' | 'snapshotSize' | 'snapshotSha256' | 'revision' | 'stateFileIncluded'>;

interface SshSave {
  ssh: SshConnection;
  sftp: NodeSftp;
  node: NodeConfig;
  job: SaveJob;
  scope: RunScope;
}

async function writeSnapshot({ ssh, sftp, node, job, scope }: SshSave): Promise<SavedFields> {
  checkSftpExtensions(sftp);
  const target = zipTarget(job);
  await ensureRemoteDirectory(sftp, target.dir);
  await checkRemoteTargetFree(sftp, target);
  const endpoint = parseEtcdEndpoint(`https://${hostForUrl(node.internalAddress)}:${ETCD_CLIENT_PORT}`);
  const pems = await readEtcdPems(sftp, node, scope);
  const tunnel = await SshTcpTunnel.open(ssh, { host: node.internalAddress, port: ETCD_CLIENT_PORT }, {
    timeoutMs: scope.timeouts.sshConnectMs,
    signal: scope.signal,
    debug: scope.log.debug,
  });
  try {
    const client = createEtcdClient(endpoint, pems, { via: tunnel.target, filesForMessages: pemDescription(scope) });
    pems.key.fill(0); // the TLS context holds what it needs; no other copy of the key stays around
    try {
      await checkEtcdHealth(client, HEALTH_TIMEOUT_MS, scope.signal);
      scope.log.debug(`host ${node.address}: etcd at ${endpoint.url} is healthy (through SSH); streaming the snapshot over SFTP`);
      const written = await writeArchiveOverSftp(
        sftp,
        target,
        {
          snapshotName: job.name,
          endpoint: endpoint.url,
          openSnapshot: () => snapshotStream(client.snapshotCall(), { endpoint: endpoint.url, idleTimeoutMs: DEFAULT_SNAPSHOT_IDLE_TIMEOUT_MS }),
          ...(job.stateFile ? { stateFile: job.stateFile } : {}),
          level: COMPRESSION_LEVELS[job.compression ?? DEFAULT_COMPRESSION],
          modified: new Date(),
          signal: scope.signal,
          onProgress: (progress) => scope.progress?.({ node: node.address, ...progress }),
        },
        scope.log,
      );
      if (written.revisionProblem !== undefined) scope.log.debug(`host ${node.address}: ${written.revisionProblem}`);
      if (written.censusProblem !== undefined) scope.log.debug(`host ${node.address}: ${written.censusProblem}`);
      return {
        file: target.displayPath,
        size: written.archive.size,
        sha256: written.archive.sha256,
        snapshotSize: written.snapshot.snapshotSize,
        snapshotSha256: written.snapshot.snapshotSha256,
        ...(written.revision !== undefined ? { revision: written.revision } : {}),
        ...(written.census !== undefined ? { census: written.census } : {}),
        ...(written.censusProblem !== undefined ? { censusProblem: written.censusProblem } : {}),
        stateFileIncluded: job.stateFile !== undefined,
      };
    } finally {
      client.close();
    }
  } finally {
    await tunnel.close();
  }
}

function zipTarget(job: SaveJob): AtomicTarget {
  const fileName = `${job.name}.zip`;
  return { dir: NODE_SNAPSHOT_DIR, fileName, mode: 0o600, overwrite: job.overwrite, displayPath: posix.join(NODE_SNAPSHOT_DIR, fileName) };
}

function pemDescription(scope: RunScope): string {
  const dir = nodeSslDir(scope.cluster.prefixPath);
  return Object.values(ETCD_CLIENT_FILES).map((file) => posix.join(dir, file)).join(', ');
}

/** The three PEMs, over SFTP, into memory only. A missing or unreadable one names the node and its path. */
async function readEtcdPems(sftp: NodeSftp, node: NodeConfig, scope: RunScope): Promise<EtcdTlsPems> {
  const dir = nodeSslDir(scope.cluster.prefixPath);
  const read = async (file: string, what: string): Promise<Buffer> => {
    const path = posix.join(dir, file);
    try {
      return await sftp.readSmallFile(path, MAX_PEM_BYTES);
    } catch (error) {
      const cause = error instanceof SftpError ? error.message.replace(/^.* over SFTP failed: /, '') : error instanceof OperatorError ? error.message : String(error);
      throw new OperatorError(
        `host ${node.address}: cannot read the etcd ${what} ${path} over SFTP: ${cause}; --runtime ssh authenticates to etcd with the node's ${Object.values(ETCD_CLIENT_FILES).join(', ')} there (as the snapshot container does)`,
      );
    }
  };
  const ca = await read(ETCD_CLIENT_FILES.ca, 'CA certificate');
  const cert = await read(ETCD_CLIENT_FILES.cert, 'client certificate');
  const key = await read(ETCD_CLIENT_FILES.key, 'client key');
  return { ca, cert, key };
}

/**
 * services.etcd.backup_config.timeout bounds the snapshot as it bounds the container: when
 * it expires the work is aborted (the temporary file is removed) and the node fails.
 */
async function withSnapshotTimeout<T>(node: NodeConfig, scope: RunScope, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), scope.timeouts.snapshotMs);
  try {
    return await work(AbortSignal.any([scope.signal, timer.signal]));
  } catch (error) {
    if (scope.signal.aborted) {
      throw new OperatorError(`interrupted: the snapshot on host ${node.address} was stopped; its temporary file was removed`);
    }
    if (timer.signal.aborted) {
      throw new OperatorError(
        `the snapshot over SSH on host ${node.address} did not finish within ${formatSeconds(scope.timeouts.snapshotMs)} (services.etcd.backup_config.timeout); it was stopped and its temporary file removed`,
      );
    }
    throw error;
  } finally {
    clearTimeout(timeout);
  }
}

function hostForUrl(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}
