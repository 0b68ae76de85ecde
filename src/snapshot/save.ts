/** `snapshot-save`: every etcd node's snapshot, concurrently, then with --s3 the run's one copy. */
import { readFile } from 'node:fs/promises';
import type { NodeConfig } from '../config/cluster.js';
import { OperatorError, messageOf } from '../errors.js';
import type { S3Settings } from '../s3/settings.js';
import { formatTimings } from './report.js';
import type { NodeResult } from './result.js';
import type { NodeRuntime, SaveJob } from './runtime.js';
import { mapConcurrently, type RunScope } from './scope.js';
import { uploadOneCopy } from './upload-one-copy.js';

export interface SaveRequest {
  /** What to save; the state file is read here (saveSnapshots). */
  job: Omit<SaveJob, 'stateFile'>;
  /** How many nodes are worked on at once (RKE: one after another). */
  concurrency: number;
  /** With --s3: where the one copy of this run goes. */
  s3?: S3Settings;
}

/**
 * Take the snapshot on every etcd node of the cluster, `concurrency` at a time. One
 * node's failure never stops or hides the others: each gets its own result.
 */
export async function saveSnapshots(request: SaveRequest, runtime: NodeRuntime, scope: RunScope): Promise<NodeResult[]> {
  const stateFile = await readStateFile(scope);
  const job: SaveJob = { ...request.job, ...(stateFile ? { stateFile } : {}) };
  const nodes = scope.cluster.etcdNodes;
  scope.log.info(
    `Starting snapshot ${job.name} on ${nodes.length} etcd node(s): ${nodes.map((node) => node.address).join(', ')}` +
      (runtime.name === 'ssh' ? ' (--runtime ssh: etcd through SSH tunnels, written over SFTP, no Docker)' : ''),
  );
  const results = await mapConcurrently(nodes, request.concurrency, (node: NodeConfig) => saveOnNode(node, job, runtime, scope));
  if (request.s3) {
    const uploadJob = { name: job.name, overwrite: job.overwrite, ...(job.pkiBundle ? { pkiBundle: true } : {}), ...(stateFile ? { stateFile } : {}), s3: request.s3 };
    await uploadOneCopy(results, nodes, uploadJob, runtime, scope);
  }
  return results;
}

async function saveOnNode(node: NodeConfig, job: SaveJob, runtime: NodeRuntime, scope: RunScope): Promise<NodeResult> {
  scope.log.info(`[${node.address}] taking snapshot ${job.name}`);
  const result = await runtime.save(node, job, scope);
  scope.progress?.({ node: node.address, phase: result.ok ? 'done' : 'failed' });
  if (result.ok) {
    scope.log.info(`[${node.address}] saved ${result.file} (${result.size} bytes)`);
    if (result.pkiBundle) scope.log.info(`[${node.address}] saved ${result.pkiBundle.file} (${result.pkiBundle.size} bytes)`);
  } else {
    scope.log.warn(`[${node.address}] failed: ${result.error}`);
  }
  for (const warning of result.warnings) scope.log.warn(`[${node.address}] ${warning}`);
  if (result.timings) scope.log.debug(`[${node.address}] took ${result.durationMs} ms: ${formatTimings(result.timings)}`);
  return result;
}

/** RKE puts the state file into the archive when it exists, and warns when it does not. */
async function readStateFile(scope: RunScope): Promise<Buffer | undefined> {
  const file = scope.cluster.stateFile;
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      scope.log.warn(`state file ${file} not found: the snapshot will not contain the cluster state`);
      return undefined;
    }
    throw new OperatorError(`cannot read state file ${file}: ${messageOf(error)}`);
  }
}
