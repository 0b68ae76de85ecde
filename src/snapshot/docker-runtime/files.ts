/** docker runtime, the node's snapshots directory: short agent containers that list, remove or verify. */
import { agentListArgs, agentRemoveArgs, parseListResultLine, parseRemoveResultLine } from '../../agent/protocol/files.js';
import { agentVerifyArgs, parseVerifyResultLine } from '../../agent/protocol/verify.js';
import type { NodeConfig } from '../../config/cluster.js';
import type { Failure } from '../../model/snapshot.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { failureMessage } from '../node-ssh.js';
import type { Outcome } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { agentSuccess, ensureAgentImage, runAgentContainer, type AgentJobName } from './agent-container.js';
import { withNodeEngine } from './engine.js';
import type { DockerRuntimeOptions } from './options.js';

/** One job on the node's /opt/rke/etcd-snapshots: what the agent runs, how it is bound, how its result is read. */
export interface DirectoryJob<T> {
  job: Extract<AgentJobName, 'list' | 'remove' | 'verify'>;
  cmd: string[];
  /** remove writes; list and verify see the directory read-only. */
  mode: 'ro' | 'rw';
  parse: (stdout: string) => T | Failure | undefined;
}

export const listJob = { job: 'list', cmd: agentListArgs(), mode: 'ro', parse: parseListResultLine } as const;
export const removeJob = (names: string[]) => ({ job: 'remove', cmd: agentRemoveArgs({ names }), mode: 'rw', parse: parseRemoveResultLine }) as const;
export const verifyJob = (name: string) => ({ job: 'verify', cmd: agentVerifyArgs(name), mode: 'ro', parse: parseVerifyResultLine }) as const;

/** Never throws. */
export async function runOnDirectory<T extends { ok: true; peakRssBytes?: number }>(
  node: NodeConfig,
  directoryJob: DirectoryJob<T>,
  scope: RunScope,
  options: DockerRuntimeOptions,
): Promise<Outcome<T>> {
  const warnings: string[] = [];
  try {
    const result = await withNodeEngine(node, scope, async (engine) => {
      const image = await ensureAgentImage(engine, options.image);
      const outcome = await runAgentContainer(engine, {
        job: directoryJob.job,
        image,
        cmd: directoryJob.cmd,
        binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}${directoryJob.mode === 'ro' ? ':ro' : ''}`],
        input: {},
      });
      if (outcome.removalError) warnings.push(outcome.removalError);
      return agentSuccess(outcome, directoryJob.parse, engine, directoryJob.job);
    });
    return { ok: true, result, warnings };
  } catch (error) {
    return { ok: false, error: failureMessage(error, node, scope), warnings };
  }
}
