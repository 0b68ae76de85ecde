import { readFile } from 'node:fs/promises';
import { OperatorError, messageOf } from '../errors.js';
import type { NodeConfig } from '../config/cluster.js';
import type { S3Settings } from '../s3/settings.js';
import { Bastion } from '../ssh/bastion.js';
import type { RunContext } from './docker-runtime/node-snapshot.js';
import { uploadOneCopy } from './docker-runtime/node-upload.js';
import { formatTimings } from './report.js';
import type { NodeResult } from './result.js';
import { runtimeFor } from './runtime.js';

export type SaveRequest = Omit<RunContext, 'stateFile'> & {
  /** How many nodes are worked on at once (RKE: one after another). */
  concurrency: number;
  /** With --s3: where the one copy of this run goes. */
  s3?: S3Settings;
};

/**
 * Take the snapshot on every etcd node of the cluster, `concurrency` at a time. One
 * node's failure never stops or hides the others: each gets its own result.
 */
export async function saveSnapshots(request: SaveRequest): Promise<NodeResult[]> {
  const stateFile = await readStateFile(request);
  const bastion = openBastion(request);
  const context: RunContext = { ...request, ...(stateFile ? { stateFile } : {}), ...(bastion ? { bastion } : {}) };
  try {
    return await snapshotAll(context, request);
  } finally {
    bastion?.close();
  }
}

export function openBastion(request: Pick<SaveRequest, 'cluster' | 'sshAgentAuth' | 'hostKeys' | 'timeouts' | 'signal' | 'log'>): Bastion | undefined {
  const config = request.cluster.bastionHost;
  if (config === undefined) return undefined;
  request.log.info(`Connecting to the etcd nodes through bastion host ${config.address} port ${config.port}`);
  return new Bastion(config, {
    cluster: request.cluster,
    sshAgentAuth: request.sshAgentAuth,
    hostKeys: request.hostKeys,
    timeoutMs: request.timeouts.sshConnectMs,
    signal: request.signal,
    log: request.log,
  });
}

async function snapshotAll(context: RunContext, request: SaveRequest): Promise<NodeResult[]> {
  const nodes = request.cluster.etcdNodes;
  const runtime = runtimeFor(request.runtime);
  request.log.info(
    `Starting snapshot ${request.name} on ${nodes.length} etcd node(s): ${nodes.map((node) => node.address).join(', ')}` +
      (runtime.name === 'ssh' ? ' (--runtime ssh: etcd through SSH tunnels, written over SFTP, no Docker)' : ''),
  );
  const results = await mapConcurrently(nodes, request.concurrency, async (node: NodeConfig) => {
    request.log.info(`[${node.address}] taking snapshot ${request.name}`);
    const result = await runtime.snapshot(node, context);
    request.progress?.({ node: node.address, phase: result.ok ? 'done' : 'failed' });
    if (result.ok) {
      request.log.info(`[${node.address}] saved ${result.file} (${result.size} bytes)`);
      if (result.pkiBundle) request.log.info(`[${node.address}] saved ${result.pkiBundle.file} (${result.pkiBundle.size} bytes)`);
    } else {
      request.log.warn(`[${node.address}] failed: ${result.error}`);
    }
    for (const warning of result.warnings) request.log.warn(`[${node.address}] ${warning}`);
    if (result.timings) request.log.debug(`[${node.address}] took ${result.durationMs} ms: ${formatTimings(result.timings)}`);
    return result;
  });
  if (request.s3) await uploadOneCopy(results, nodes, request.s3, context, runtime.upload);
  return results;
}

/** RKE puts the state file into the archive when it exists, and warns when it does not. */
async function readStateFile(request: SaveRequest): Promise<Buffer | undefined> {
  const file = request.cluster.stateFile;
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      request.log.warn(`state file ${file} not found: the snapshot will not contain the cluster state`);
      return undefined;
    }
    throw new OperatorError(`cannot read state file ${file}: ${messageOf(error)}`);
  }
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
