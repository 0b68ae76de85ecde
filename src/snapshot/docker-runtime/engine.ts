/** A node's Docker engine, reached over its SSH connection, and the checks RKE makes before a snapshot. */
import type Docker from 'dockerode';
import type { NodeConfig } from '../../config/cluster.js';
import { deadline } from '../../deadline.js';
import { describeDockerError, dockerOverSsh, isNotFound, readEngineInfo, type EngineInfo } from '../../docker/engine.js';
import { checkDockerVersion } from '../../docker/versions.js';
import { OperatorError } from '../../errors.js';
import type { SshConnection } from '../../ssh/connection.js';
import { withNodeSsh } from '../node-ssh.js';
import type { RunScope } from '../scope.js';

/** One node's engine for the length of a job; `scope.signal` also aborts when the node's SSH connection drops. */
export interface NodeEngine {
  node: NodeConfig;
  docker: Docker;
  scope: RunScope;
  /** The connection the engine is reached through: also how the node's files are read when the engine is lost. */
  ssh: SshConnection;
}

const lostConnectionAdvice =
  'a container already started there finishes on its own and the engine removes it (AutoRemove); check that sshd is up and run again';

/** Connect to the node over SSH, hand its Docker engine to `work`, always disconnect. */
export function withNodeEngine<T>(node: NodeConfig, scope: RunScope, work: (engine: NodeEngine) => Promise<T>): Promise<T> {
  return withNodeSsh(node, scope, lostConnectionAdvice, (ssh, nodeScope) =>
    work({ node, docker: dockerOverSsh(ssh, node.dockerSocket, scope.timeouts.dockerApiMs), scope: nodeScope, ssh }),
  );
}

/** Each engine's `docker info`, read once per connection (the version check and the image's architecture both need it). */
const engineInfos = new WeakMap<NodeEngine, Promise<EngineInfo>>();

/** The node engine's `docker info` (version, architecture), asked once per connection. */
export function engineInfo(engine: NodeEngine): Promise<EngineInfo> {
  let info = engineInfos.get(engine);
  if (info === undefined) {
    const { node, docker, scope } = engine;
    info = deadline(readEngineInfo(docker, node.address, node.dockerSocket), scope.timeouts.dockerApiMs, `reading Docker info on host ${node.address}`, scope.signal);
    engineInfos.set(engine, info);
  }
  return info;
}

/** `docker info`, and unless ignored, the engine's version against the cluster's Kubernetes version (RKE's table). */
export async function checkEngine(engine: NodeEngine, ignoreDockerVersion: boolean): Promise<void> {
  const { node, scope } = engine;
  const info = await engineInfo(engine);
  scope.log.debug(`host ${node.address}: Docker ${info.serverVersion} on ${info.architecture || 'an unreported architecture'}`);
  if (ignoreDockerVersion) return;
  const check = checkDockerVersion(info.serverVersion, scope.cluster.kubernetesVersion);
  if (!check.supported) {
    throw new OperatorError(`host ${node.address}: ${check.message} (pass --ignore-docker-version to skip this check)`);
  }
}

/** RKE's check and message: the `etcd` container must be running. */
export async function checkEtcdRunning({ node, docker, scope }: NodeEngine): Promise<void> {
  const notRunning = new OperatorError(`etcd is not running on host [${node.address}]`);
  try {
    const inspected = await deadline(
      docker.getContainer('etcd').inspect(),
      scope.timeouts.dockerApiMs,
      `inspecting the etcd container on host ${node.address}`,
      scope.signal,
    );
    if (!inspected.State.Running) throw notRunning;
  } catch (error) {
    if (isNotFound(error)) throw notRunning;
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot inspect the etcd container on host ${node.address}: ${describeDockerError(error)}`);
  }
}
