/**
 * What every node job of one run shares: the cluster, how nodes are reached (host keys,
 * bastion, SSH agent), the timeouts, the run's abort signal, the log and the progress
 * display. Each job takes this scope plus a request of its own (runtime.ts).
 */
import type { ClusterConfig } from '../config/cluster.js';
import type { Logger } from '../log.js';
import { Bastion } from '../ssh/bastion.js';
import type { HostKeyVerifier } from '../ssh/host-key-verifier.js';
import type { ProgressEvent } from './progress.js';

export interface Timeouts {
  sshConnectMs: number;
  dockerApiMs: number;
  imageTransferMs: number;
  /** services.etcd.backup_config.timeout */
  snapshotMs: number;
}

export interface RunScope {
  cluster: ClusterConfig;
  sshAgentAuth: boolean;
  /** known_hosts and the policy for unknown or changed host keys. */
  hostKeys: HostKeyVerifier;
  /** `bastion_host`: every node's SSH connection goes through it. */
  bastion?: Bastion;
  timeouts: Timeouts;
  signal: AbortSignal;
  log: Logger;
  /** Live progress (the CLI's display); absent: none. */
  progress?: (event: ProgressEvent) => void;
}

/** The run's timeouts: fixed SSH and Docker API bounds, --image-timeout, and the cluster's backup_config.timeout. */
export function runTimeouts(cluster: ClusterConfig, imageTimeoutSeconds: number): Timeouts {
  return {
    sshConnectMs: 15_000,
    dockerApiMs: 30_000,
    imageTransferMs: imageTimeoutSeconds * 1000,
    snapshotMs: cluster.etcd.backupTimeoutSeconds * 1000,
  };
}

/** Open the bastion (when the cluster has one) for `work`, and close it whatever happens. */
export async function withRunScope<T>(scope: Omit<RunScope, 'bastion'>, work: (scope: RunScope) => Promise<T>): Promise<T> {
  const bastion = openBastion(scope);
  try {
    return await work(bastion ? { ...scope, bastion } : scope);
  } finally {
    bastion?.close();
  }
}

function openBastion(scope: Omit<RunScope, 'bastion'>): Bastion | undefined {
  const config = scope.cluster.bastionHost;
  if (config === undefined) return undefined;
  scope.log.info(`Connecting to the etcd nodes through bastion host ${config.address} port ${config.port}`);
  return new Bastion(config, {
    cluster: scope.cluster,
    sshAgentAuth: scope.sshAgentAuth,
    hostKeys: scope.hostKeys,
    timeoutMs: scope.timeouts.sshConnectMs,
    signal: scope.signal,
    log: scope.log,
  });
}

/** Like Promise.all over `items`, with at most `limit` in flight; keeps the input order. */
export async function mapConcurrently<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
