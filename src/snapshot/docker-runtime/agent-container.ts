/** One agent job in a one-off container on a node's engine: the image there, the run, its result line. */
import type { AgentInput } from '../../agent/protocol/wire.js';
import { ensureImage, type ImageSource, type NodeImage } from '../../docker/image.js';
import { imageForEngine } from '../../docker/platform.js';
import type { Confinement } from '../../docker/confinement.js';
import { KILLED_STATUS } from '../../docker/exit-events.js';
import { runOneOffContainer, type OneOffContainerSpec, type OneOffOutcome } from '../../docker/one-off-container.js';
import { OperatorError } from '../../errors.js';
import type { Failure } from '../../model/snapshot.js';
import { engineInfo, type NodeEngine } from './engine.js';
import type { AgentLimits } from './options.js';

/** The containers this runtime starts, one name per job (a stale one of that name is removed first). */
export const CONTAINER_NAMES = {
  save: 'etcd-snapshot-once',
  upload: 'etcd-snapshot-upload',
  list: 'etcd-snapshot-ls',
  remove: 'etcd-snapshot-rm',
  verify: 'etcd-snapshot-verify',
  sweep: 'etcd-snapshot-sweep',
  's3-list': 'etcd-snapshot-s3-ls',
  's3-remove': 'etcd-snapshot-s3-rm',
  's3-verify': 'etcd-snapshot-s3-verify',
  drill: 'etcd-snapshot-drill',
} as const;

export type AgentJobName = keyof typeof CONTAINER_NAMES;

/** What each job is, in the operator's messages ("lost the Docker engine on host X during the snapshot"). */
const JOB_PURPOSES: Record<AgentJobName, string> = {
  save: 'the snapshot',
  upload: 'the upload',
  list: 'the listing',
  remove: 'the removal',
  verify: 'the check',
  sweep: 'the sweep of temporary files',
  's3-list': 'the S3 listing',
  's3-remove': 'the S3 removal',
  's3-verify': 'the S3 check',
  drill: 'the restore drill',
};

export interface AgentContainerJob {
  job: AgentJobName;
  /** The image on the node's engine (ensureAgentImage). */
  image: string;
  cmd: string[];
  binds: string[];
  /** Sent on stdin: secrets never go into arguments, env or labels. Absent: nothing (the drill's supervisor, whose stdin is held open). */
  input?: AgentInput;
  /** The snapshot the job is about, as a label on the container (save, upload). */
  snapshotName?: string;
  /** Each stdout line as it streams (the agent's progress lines). */
  onStdoutLine?: (line: string) => void;
  /** The run's --agent-* bounds. */
  limits: AgentLimits;
  /** How the container differs from the others' (the drill's supervisor: its own network, its stdin held open). */
  container?: Pick<OneOffContainerSpec, 'networkMode' | 'holdStdin' | 'stopGraceSeconds'>;
}

/**
 * What every agent container may do (docs/security.md): no capability at all (the files it
 * reads and writes are root's own, so root needs none to use them), no privilege gain, a
 * read-only image with a small /tmp, and the run's resource bounds. It writes only to the
 * binds its job declares writable.
 */
export function agentConfinement(limits: AgentLimits, options: { readonlyRootfs: boolean } = { readonlyRootfs: true }): Confinement {
  return {
    capAdd: [],
    readonlyRootfs: options.readonlyRootfs,
    tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=16m,mode=1777' },
    memoryBytes: limits.memoryMiB * 1024 * 1024,
    pidsLimit: limits.pids,
    cpuShares: limits.cpuShares,
    ...(limits.cpus !== undefined ? { cpus: limits.cpus } : {}),
  };
}

/**
 * The image on the node: found there, or loaded (the bundled image built for the engine's
 * architecture) / pulled (--backup-image, whatever the architecture: the registry chooses).
 */
export async function ensureAgentImage(engine: NodeEngine, source: ImageSource): Promise<string> {
  const { node, docker, scope } = engine;
  let image: NodeImage;
  if (source.kind === 'bundled') {
    const { architecture } = await engineInfo(engine);
    const chosen = imageForEngine(source.images, architecture, node.address);
    scope.log.debug(`host ${node.address}: engine architecture ${architecture}: bundled image ${chosen.image.tag} (linux/${chosen.platform})`);
    image = { kind: 'bundled', image: chosen.image };
  } else {
    image = source;
  }
  return ensureImage(docker, image, {
    host: node.address,
    timeoutMs: scope.timeouts.imageTransferMs,
    signal: scope.signal,
    debug: scope.log.debug,
  });
}

/**
 * Run one agent job in a one-off container on the node; its stderr goes to the debug log.
 * The outcome's `removalError` (a container that could not be removed) is the caller's to report.
 */
export async function runAgentContainer({ node, docker, scope }: NodeEngine, job: AgentContainerJob): Promise<OneOffOutcome> {
  const outcome = await runOneOffContainer(
    docker,
    node.address,
    {
      name: CONTAINER_NAMES[job.job],
      image: job.image,
      cmd: job.cmd,
      env: scope.cluster.etcd.extraEnv,
      binds: job.binds,
      labels: job.snapshotName === undefined ? {} : { 'io.rke-etcd-snapshot.name': job.snapshotName },
      ...(job.input ? { stdin: Buffer.from(JSON.stringify(job.input)) } : {}),
      ...(job.onStdoutLine ? { onStdoutLine: job.onStdoutLine } : {}),
      confinement: agentConfinement(job.limits),
      purpose: JOB_PURPOSES[job.job],
      ...job.container,
    },
    { runTimeoutMs: scope.timeouts.snapshotMs, apiTimeoutMs: scope.timeouts.dockerApiMs, signal: scope.signal },
  );
  for (const line of outcome.stderr.split('\n').filter(Boolean)) scope.log.debug(`host ${node.address}: agent: ${line}`);
  return outcome;
}

/** The agent's result line (success or its own failure), or an OperatorError saying it printed none. */
export function agentResult<T>(outcome: OneOffOutcome, parse: (stdout: string) => T | Failure | undefined, engine: NodeEngine, job: string): T | Failure {
  if (outcome.oomKilled) {
    throw new OperatorError(
      `the ${job} container on host ${engine.node.address} was killed by its memory limit (OOMKilled, exit status ${outcome.exitCode}); ` +
        'if the node needs more, raise --agent-memory',
    );
  }
  const result = parse(outcome.stdout);
  if (result !== undefined) return result;
  const lastLine = outcome.stderr.trim().split('\n').pop() ?? '';
  if (outcome.exitCode === KILLED_STATUS) {
    throw new OperatorError(
      `the ${job} container on host ${engine.node.address} was killed (exit status 137: SIGKILL) before it reported a result: ` +
        'by "docker kill", an operator or the kernel; the engine recorded no OOM kill (it misses one as the container starts: ' +
        'if --agent-memory is low, raise it)',
    );
  }
  throw new OperatorError(
    `the ${job} container on host ${engine.node.address} exited ${outcome.exitCode >= 0 ? `with status ${outcome.exitCode}` : '(status unknown)'} without a result` +
      (lastLine ? `: ${lastLine}` : ''),
  );
}

/** The agent's result, or an OperatorError naming the node: its own error, or that it printed none. */
export function agentSuccess<T extends { ok: true; peakRssBytes?: number; cpuMs?: number }>(
  outcome: OneOffOutcome,
  parse: (stdout: string) => T | Failure | undefined,
  engine: NodeEngine,
  job: string,
): T {
  const result = agentResult(outcome, parse, engine, job);
  if (!result.ok) throw new OperatorError(`host ${engine.node.address}: ${result.error}`);
  if (result.peakRssBytes !== undefined) {
    const cpu = typeof result.cpuMs === 'number' ? `, CPU time ${(result.cpuMs / 1000).toFixed(2)} s` : '';
    engine.scope.log.debug(`host ${engine.node.address}: peak RSS of the ${job} agent: ${(result.peakRssBytes / 1024 / 1024).toFixed(1)} MiB${cpu}`);
  }
  return result;
}
