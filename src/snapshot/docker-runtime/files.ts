/** docker runtime, the node's snapshots directory: short agent containers that list, remove or verify. */
import { agentListArgs, agentRemoveArgs, agentSweepArgs, parseListResultLine, parseRemoveResultLine, parseSweepResultLine } from '../../agent/protocol/files.js';
import { agentVerifyArgs, parseVerifyResultLine } from '../../agent/protocol/verify.js';
import type { NodeConfig } from '../../config/cluster.js';
import type { Failure } from '../../model/snapshot.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { failureMessage } from '../node-ssh.js';
import type { Outcome } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { agentSuccess, ensureAgentImage, runAgentContainer, type AgentJobName } from './agent-container.js';
import { withNodeEngine, type NodeEngine } from './engine.js';
import { messageOf } from '../../errors.js';
import { AGENT_LIMIT_DEFAULTS, limitsOf, type AgentLimits, type DockerRuntimeOptions } from './options.js';

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

/**
 * After a save the kernel killed (its memory limit): its temporary files, which it could not
 * remove itself, go now (`sweep` in a short container). Returns the warnings to report: what
 * was removed, or that it could not be and what to remove by hand.
 */
export async function sweepAfterKill(engine: NodeEngine, run: { image: string; name: string; limits: AgentLimits }): Promise<string[]> {
  const leftover = `${NODE_SNAPSHOT_DIR}/.${run.name}.zip.tmp-*`;
  try {
    const outcome = await runAgentContainer(engine, {
      job: 'sweep',
      image: run.image,
      cmd: agentSweepArgs(run.name),
      binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}`],
      input: {},
      // Its own job is tiny, but the limit that killed the save may be too small for node itself.
      limits: { ...run.limits, memoryMiB: Math.max(run.limits.memoryMiB, AGENT_LIMIT_DEFAULTS.memoryMiB) },
    });
    const swept = agentSuccess(outcome, parseSweepResultLine, engine, 'sweep');
    return [
      ...(outcome.removalError ? [outcome.removalError] : []),
      ...(swept.swept.length ? [`removed the killed snapshot's temporary file(s): ${swept.swept.map((file) => `${NODE_SNAPSHOT_DIR}/${file}`).join(', ')}`] : []),
    ];
  } catch (error) {
    return [`could not remove the killed snapshot's temporary file (${leftover}): ${messageOf(error)}; the next snapshot-save of that name on this node removes it`];
  }
}

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
        limits: limitsOf(options),
      });
      if (outcome.removalError) warnings.push(outcome.removalError);
      return agentSuccess(outcome, directoryJob.parse, engine, directoryJob.job);
    });
    return { ok: true, result, warnings };
  } catch (error) {
    return { ok: false, error: failureMessage(error, node, scope), warnings };
  }
}
