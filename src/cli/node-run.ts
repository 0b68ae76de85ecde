/**
 * What every command that works on the nodes does around its one call into the snapshot
 * layer: the run's scope (host keys, bastion, timeouts, the log and progress display),
 * Ctrl-C turned into an abort (the nodes' work stops and cleans up; exit 130/143), and
 * the runtime that reaches the nodes.
 */
import { Option, type Command } from 'commander';
import type { ClusterConfig } from '../config/cluster.js';
import type { Logger } from '../log.js';
import { RUNTIME_NAMES, type RuntimeName } from '../snapshot/result.js';
import type { NodeRuntime } from '../snapshot/runtime.js';
import { runTimeouts, withRunScope, type RunScope } from '../snapshot/scope.js';
import { sshRuntime } from '../snapshot/ssh-runtime/index.js';
import type { HostKeyVerifier } from '../ssh/host-key-verifier.js';
import type { NodeAccessFlags } from './common-flags.js';
import { listenForInterruption } from './interruption.js';
import type { ProgressDisplay } from './progress-display.js';

export function addRuntimeOption(command: Command, docker: string, ssh: string): Command {
  return command.addOption(
    new Option('--runtime <runtime>', `docker: ${docker}; ssh: ${ssh}`).choices(RUNTIME_NAMES).default('docker'),
  );
}

/** The runtime --runtime names: ssh, or docker as `docker()` builds it (only then: it may need the agent image). */
export async function chooseRuntime(name: RuntimeName, docker: () => Promise<NodeRuntime>): Promise<NodeRuntime> {
  return name === 'ssh' ? sshRuntime : docker();
}

export interface NodeRun {
  cluster: ClusterConfig;
  flags: NodeAccessFlags;
  /** From prepareNodeAccess (common-flags.ts), checked before anything else happens. */
  hostKeys: HostKeyVerifier;
  log: Logger;
  display?: ProgressDisplay;
  /** What Ctrl-C stops and cleans up, for its message: "snapshot containers", ... */
  interrupts: string;
}

/**
 * Runs `work` in the run's scope; returns its exit status, or 130/143 when interrupted
 * (then an error `work` throws because of the interruption is not the story).
 */
export async function withNodeRun(run: NodeRun, work: (scope: RunScope, interrupted: () => number | undefined) => Promise<number>): Promise<number> {
  const interruption = listenForInterruption(run.log, run.interrupts);
  run.display?.start(run.cluster.etcdNodes.map((node) => node.address));
  try {
    const scope = {
      cluster: run.cluster,
      sshAgentAuth: run.flags.sshAgentAuth,
      hostKeys: run.hostKeys,
      timeouts: runTimeouts(run.cluster, run.flags.imageTimeout),
      signal: interruption.signal,
      log: run.log,
      ...(run.display ? { progress: run.display.event } : {}),
    };
    const code = await withRunScope(scope, (runScope) => work(runScope, () => interruption.exitCode));
    return interruption.exitCode ?? code;
  } catch (error) {
    if (interruption.exitCode !== undefined) return interruption.exitCode;
    throw error;
  } finally {
    interruption.dispose();
  }
}
