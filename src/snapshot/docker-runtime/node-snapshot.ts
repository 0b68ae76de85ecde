import { DEFAULT_COMPRESSION, type CompressionMode } from '../../model/compression.js';
import type Docker from 'dockerode';
import { CONTAINER_BACKUP_DIR, CONTAINER_KUBERNETES_DIR, CONTAINER_SSL_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { agentSaveArgs, parseSaveResultLine } from '../../agent/protocol/save.js';
import { parseProgressLine, type AgentInput } from '../../agent/protocol/wire.js';
import type { Failure } from '../../model/snapshot.js';
import type { ClusterConfig, NodeConfig } from '../../config/cluster.js';
import { deadline } from '../../deadline.js';
import { describeDockerError, dockerOverSsh, isNotFound, readEngineInfo } from '../../docker/engine.js';
import { ensureImage, type ImageSource } from '../../docker/image.js';
import { runOneOffContainer, type OneOffOutcome } from '../../docker/one-off-container.js';
import { checkDockerVersion } from '../../docker/versions.js';
import { OperatorError, messageOf } from '../../errors.js';
import type { Bastion } from '../../ssh/bastion.js';
import { SshConnection } from '../../ssh/connection.js';
import { chooseCredentialSource, loadCredentials } from '../../ssh/credentials.js';
import type { HostKeyVerifier } from '../../ssh/host-key-verifier.js';
import type { Logger } from '../../log.js';
import { nodeKubernetesDir, withNodePaths } from '../node-paths.js';
import type { NodeResult, NodeTimings, RuntimeName } from '../result.js';
import type { ProgressEvent } from '../progress.js';
import { resolveImageContract, rkeToolsSnapshot, type ImageContractChoice } from './rke-tools-image.js';

export const SNAPSHOT_CONTAINER_NAME = 'etcd-snapshot-once';

/** Everything a node's snapshot needs that is the same for every node of the run. */
export interface RunContext {
  cluster: ClusterConfig;
  name: string;
  overwrite: boolean;
  ignoreDockerVersion: boolean;
  sshAgentAuth: boolean;
  image: ImageSource;
  /** How to drive the image (rke-tools-node.ts); default `auto`. */
  imageContract?: ImageContractChoice;
  /** known_hosts and the policy for unknown or changed host keys. */
  hostKeys: HostKeyVerifier;
  /** `bastion_host`: every node's SSH connection goes through it. */
  bastion?: Bastion;
  /** The cluster's state file, to travel inside the archive; undefined when there is none. */
  stateFile?: Buffer;
  /** --pki-bundle: also write (and with --s3 upload) each node's pki.bundle.tar.gz. Absent: false. */
  pkiBundle?: boolean;
  /** --compression; absent: the agent's default. */
  compression?: CompressionMode;
  /** --runtime: how a node's snapshot is taken (a container on its Docker engine, or agentless over SSH). Absent: docker. */
  runtime?: RuntimeName;
  timeouts: Timeouts;
  signal: AbortSignal;
  log: Logger;
  /** Live progress (snapshot-save's display); absent: none. */
  progress?: (event: ProgressEvent) => void;
}

export interface Timeouts {
  sshConnectMs: number;
  dockerApiMs: number;
  imageTransferMs: number;
  /** services.etcd.backup_config.timeout */
  snapshotMs: number;
}

/** Take one node's snapshot. Never throws: failures become the result's `error`. */
export async function snapshotNode(node: NodeConfig, context: RunContext): Promise<NodeResult> {
  const started = Date.now();
  const base = { address: node.address, hostnameOverride: node.hostnameOverride, warnings: [] as string[] };
  const timings: NodeTimings = {};
  let lapStart = started;
  const lap = (phase: 'sshConnectMs' | 'dockerChecksMs' | 'imageMs') => {
    const now = Date.now();
    timings[phase] = now - lapStart;
    lapStart = now;
  };
  try {
    context.progress?.({ node: node.address, phase: 'connecting' });
    const result = await withNodeEngine(node, context, async (docker, nodeContext) => {
      lap('sshConnectMs');
      await checkEngine(docker, node, nodeContext);
      await checkEtcdRunning(docker, node, nodeContext);
      lap('dockerChecksMs');
      context.progress?.({ node: node.address, phase: 'image' });
      const image = await ensureAgentImage(docker, node, nodeContext);
      const contract = await resolveImageContract(docker, image, node, nodeContext);
      lap('imageMs');
      context.progress?.({ node: node.address, phase: 'snapshot' });
      if (contract === 'rke-tools') return rkeToolsSnapshot(docker, image, node, nodeContext, base.warnings);
      return runSnapshotAgent(docker, image, node, nodeContext, base.warnings, timings);
    });
    return { ...base, ...result, ok: true, durationMs: Date.now() - started, timings };
  } catch (error) {
    return { ...base, ok: false, error: failureMessage(error, node, context), durationMs: Date.now() - started, timings };
  }
}

/**
 * Connect to the node over SSH, hand its Docker engine to `work`, always disconnect.
 * `work` gets a context whose signal also aborts when the SSH connection drops, so
 * nothing waits out its timeout on a node that is gone.
 */
export async function withNodeEngine<T>(
  node: NodeConfig,
  context: RunContext,
  work: (docker: Docker, nodeContext: RunContext) => Promise<T>,
): Promise<T> {
  return withNodeSsh(node, context, lostConnectionAdvice, (ssh, nodeContext) =>
    work(dockerOverSsh(ssh, node.dockerSocket, context.timeouts.dockerApiMs), nodeContext),
  );
}

/**
 * Connect to the node over SSH, hand the connection to `work`, always disconnect. The
 * context given to `work` aborts when the connection drops; then the node's error is
 * that the connection was lost, followed by `advice`.
 */
export async function withNodeSsh<T>(
  node: NodeConfig,
  context: RunContext,
  advice: string,
  work: (ssh: SshConnection, nodeContext: RunContext) => Promise<T>,
): Promise<T> {
  const ssh = await connect(node, context);
  const nodeContext = { ...context, signal: AbortSignal.any([context.signal, ssh.lostSignal]) };
  try {
    return await work(ssh, nodeContext);
  } catch (error) {
    if (ssh.lostSignal.aborted && !context.signal.aborted) {
      // The lost connection is the cause; what it broke (a wait, a removal) is detail.
      context.log.debug(`host ${node.address}: after the SSH connection was lost: ${messageOf(error)}`);
      throw new OperatorError(`the SSH connection to host ${node.address} was lost; ${advice}`);
    }
    throw error;
  } finally {
    ssh.close();
  }
}

const lostConnectionAdvice =
  'a container already started there finishes on its own and the engine removes it (AutoRemove); check that sshd is up and run again';

/** The operator's one line for a node's failure; anything unexpected keeps its stack under --debug. */
export function failureMessage(error: unknown, node: NodeConfig, context: RunContext): string {
  if (error instanceof OperatorError) return error.message;
  context.log.debug(`host ${node.address}: ${(error as Error)?.stack ?? String(error)}`);
  return `unexpected error on host ${node.address}: ${messageOf(error)}`;
}

export function ensureAgentImage(docker: Docker, node: NodeConfig, context: RunContext): Promise<string> {
  return ensureImage(docker, context.image, {
    host: node.address,
    timeoutMs: context.timeouts.imageTransferMs,
    signal: context.signal,
    debug: context.log.debug,
  });
}

async function connect(node: NodeConfig, context: RunContext): Promise<SshConnection> {
  const source = chooseCredentialSource(
    { ...node, fieldPrefix: node.field },
    context.cluster,
    context.sshAgentAuth,
  );
  const credentials = await loadCredentials(source);
  const { bastion } = context;
  context.log.debug(
    `host ${node.address}: connecting over SSH as ${node.user} with ${credentials.description}${bastion ? ` ${bastion.via}` : ''}`,
  );
  const sock = bastion ? await bastion.tunnelTo(node.address, node.port) : undefined;
  const opening = SshConnection.open({ host: node.address, port: node.port, user: node.user }, credentials, {
    timeoutMs: context.timeouts.sshConnectMs,
    hostKeys: context.hostKeys,
    ...(sock && bastion ? { sock, via: bastion.via } : {}),
  });
  try {
    return await deadline(opening, context.timeouts.sshConnectMs + 5_000, `connecting over SSH to host ${node.address}`, context.signal);
  } catch (error) {
    opening.then((late) => late.close(), () => undefined);
    sock?.destroy();
    throw error;
  }
}

async function checkEngine(docker: Docker, node: NodeConfig, context: RunContext): Promise<void> {
  const info = await deadline(
    readEngineInfo(docker, node.address, node.dockerSocket),
    context.timeouts.dockerApiMs,
    `reading Docker info on host ${node.address}`,
    context.signal,
  );
  context.log.debug(`host ${node.address}: Docker ${info.serverVersion}`);
  if (context.ignoreDockerVersion) return;
  const check = checkDockerVersion(info.serverVersion, context.cluster.kubernetesVersion);
  if (!check.supported) {
    throw new OperatorError(`host ${node.address}: ${check.message} (pass --ignore-docker-version to skip this check)`);
  }
}

async function checkEtcdRunning(docker: Docker, node: NodeConfig, context: RunContext): Promise<void> {
  const notRunning = new OperatorError(`etcd is not running on host [${node.address}]`);
  try {
    const inspected = await deadline(
      docker.getContainer('etcd').inspect(),
      context.timeouts.dockerApiMs,
      `inspecting the etcd container on host ${node.address}`,
      context.signal,
    );
    if (!inspected.State.Running) throw notRunning;
  } catch (error) {
    if (isNotFound(error)) throw notRunning;
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot inspect the etcd container on host ${node.address}: ${describeDockerError(error)}`);
  }
}

async function runSnapshotAgent(
  docker: Docker,
  image: string,
  node: NodeConfig,
  context: RunContext,
  warnings: string[],
  timings: NodeTimings,
): Promise<Omit<NodeResult, 'address' | 'hostnameOverride' | 'ok' | 'durationMs' | 'warnings'>> {
  const input: AgentInput = context.stateFile ? { stateFileBase64: context.stateFile.toString('base64') } : {};
  const outcome = await runAgentContainer(docker, image, node, context, warnings, {
    name: SNAPSHOT_CONTAINER_NAME,
    cmd: agentSaveArgs({
      name: context.name,
      endpoint: `https://${node.internalAddress}:2379`,
      cacert: `${CONTAINER_SSL_DIR}/kube-ca.pem`,
      cert: `${CONTAINER_SSL_DIR}/kube-node.pem`,
      key: `${CONTAINER_SSL_DIR}/kube-node-key.pem`,
      overwrite: context.overwrite,
      healthTimeoutSeconds: 30,
      ...(context.pkiBundle ? { pkiBundle: true } : {}),
      // Sent only when it is not the default: a copy of an older agent (--backup-image) does not know the flag.
      ...(context.compression && context.compression !== DEFAULT_COMPRESSION ? { compression: context.compression } : {}),
    }),
    binds: [
      `${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}`,
      `${nodeKubernetesDir(context.cluster.prefixPath)}:${CONTAINER_KUBERNETES_DIR}`,
    ],
    input,
    onStdoutLine: (line) => {
      const progress = parseProgressLine(line);
      if (progress !== undefined) context.progress?.({ node: node.address, phase: progress.phase, ...(progress.bytes === undefined ? {} : { bytes: progress.bytes }) });
    },
  });
  timings.containerStartMs = outcome.timings.startMs;
  timings.agentMs = outcome.timings.runMs;
  timings.containerRemoveMs = outcome.timings.removeMs;
  let result;
  try {
    result = agentSuccess(outcome, parseSaveResultLine, node, 'snapshot', context.log);
  } catch (error) {
    if (error instanceof OperatorError) throw new OperatorError(withNodePaths(error.message, context.cluster.prefixPath));
    throw error;
  }
  if (context.pkiBundle && result.pkiBundle === undefined) {
    throw new OperatorError(
      `host ${node.address}: the snapshot agent wrote ${result.file} but reported no PKI bundle; the image given with --backup-image may not support --pki-bundle`,
    );
  }
  return {
    file: result.file,
    size: result.size,
    sha256: result.sha256,
    snapshotSize: result.snapshotSize,
    snapshotSha256: result.snapshotSha256,
    ...(typeof result.revision === 'number' ? { revision: result.revision } : {}),
    stateFileIncluded: result.stateFileIncluded,
    ...(result.pkiBundle ? { pkiBundle: result.pkiBundle } : {}),
    ...(result.peakRssBytes !== undefined ? { agentPeakRssBytes: result.peakRssBytes } : {}),
  };
}

export interface AgentContainerJob {
  name: string;
  cmd: string[];
  binds: string[];
  /** Sent on stdin: secrets never go into arguments, env or labels. */
  input: AgentInput;
  /** Each stdout line as it streams (the agent's progress lines). */
  onStdoutLine?: (line: string) => void;
}

/**
 * Run one agent job in a one-off container on the node. Its stderr goes to the debug
 * log; a container that could not be removed becomes a warning.
 */
export async function runAgentContainer(
  docker: Docker,
  image: string,
  node: NodeConfig,
  context: RunContext,
  warnings: string[],
  job: AgentContainerJob,
): Promise<OneOffOutcome> {
  const outcome = await runOneOffContainer(
    docker,
    node.address,
    {
      name: job.name,
      image,
      cmd: job.cmd,
      env: context.cluster.etcd.extraEnv,
      binds: job.binds,
      labels: { 'io.rke-etcd-snapshot.name': context.name },
      stdin: Buffer.from(JSON.stringify(job.input)),
      ...(job.onStdoutLine ? { onStdoutLine: job.onStdoutLine } : {}),
    },
    {
      runTimeoutMs: context.timeouts.snapshotMs,
      apiTimeoutMs: context.timeouts.dockerApiMs,
      signal: context.signal,
    },
  );
  if (outcome.removalError) warnings.push(outcome.removalError);
  for (const line of outcome.stderr.split('\n').filter(Boolean)) context.log.debug(`host ${node.address}: agent: ${line}`);
  return outcome;
}

/** The agent's result line (success or its own failure), or an OperatorError saying it printed none. */
export function agentResult<T>(outcome: OneOffOutcome, parse: (stdout: string) => T | Failure | undefined, node: NodeConfig, job: string): T | Failure {
  const result = parse(outcome.stdout);
  if (result !== undefined) return result;
  const lastLine = outcome.stderr.trim().split('\n').pop() ?? '';
  throw new OperatorError(
    `the ${job} container on host ${node.address} exited ${outcome.exitCode >= 0 ? `with status ${outcome.exitCode}` : '(status unknown)'} without a result` +
      (lastLine ? `: ${lastLine}` : ''),
  );
}

/** The agent's result, or an OperatorError naming the node: its own error, or that it printed none. */
export function agentSuccess<T extends { ok: true; peakRssBytes?: number; cpuMs?: number }>(
  outcome: OneOffOutcome,
  parse: (stdout: string) => T | Failure | undefined,
  node: NodeConfig,
  job: string,
  log: Logger,
): T {
  const result = agentResult(outcome, parse, node, job);
  if (!result.ok) throw new OperatorError(`host ${node.address}: ${result.error}`);
  if (result.peakRssBytes !== undefined) {
    const cpu = typeof result.cpuMs === 'number' ? `, CPU time ${(result.cpuMs / 1000).toFixed(2)} s` : '';
    log.debug(`host ${node.address}: peak RSS of the ${job} agent: ${(result.peakRssBytes / 1024 / 1024).toFixed(1)} MiB${cpu}`);
  }
  return result;
}
