/**
 * A node's SSH connection, as both runtimes open it: directly or through the bastion,
 * with the node's (or the cluster's) key, certificate or agent, and its host key checked.
 */
import type { NodeConfig } from '../config/cluster.js';
import { deadline } from '../deadline.js';
import { OperatorError, messageOf } from '../errors.js';
import { SshConnection } from '../ssh/connection.js';
import { chooseCredentialSource, loadCredentials } from '../ssh/credentials.js';
import type { RunScope } from './scope.js';

/**
 * Connect to the node over SSH, hand the connection to `work`, always disconnect. The
 * scope given to `work` aborts when the connection drops; then the node's error is that
 * the connection was lost, followed by `advice` (what may be left on the node, what to do).
 */
export async function withNodeSsh<T>(
  node: NodeConfig,
  scope: RunScope,
  advice: string,
  work: (ssh: SshConnection, nodeScope: RunScope) => Promise<T>,
): Promise<T> {
  const ssh = await connect(node, scope);
  const nodeScope = { ...scope, signal: AbortSignal.any([scope.signal, ssh.lostSignal]) };
  try {
    return await work(ssh, nodeScope);
  } catch (error) {
    if (ssh.lostSignal.aborted && !scope.signal.aborted) {
      // The lost connection is the cause; what it broke (a wait, a removal) is detail.
      scope.log.debug(`host ${node.address}: after the SSH connection was lost: ${messageOf(error)}`);
      throw new OperatorError(`${lostConnection(node, ssh, scope)}; ${advice}`);
    }
    throw error;
  } finally {
    ssh.close();
  }
}

/** What was lost: the bastion (every node behind it), or this node's own connection, and how when known. */
function lostConnection(node: NodeConfig, ssh: SshConnection, scope: RunScope): string {
  const bastionLost = scope.bastion?.lossMessage();
  return bastionLost ? `host ${node.address}: ${bastionLost}` : ssh.lossDescription();
}

/** The operator's one line for a node's failure; anything unexpected keeps its stack under --debug. */
export function failureMessage(error: unknown, node: NodeConfig, scope: Pick<RunScope, 'log'>): string {
  if (error instanceof OperatorError) return error.message;
  scope.log.debug(`host ${node.address}: ${(error as Error)?.stack ?? String(error)}`);
  return `unexpected error on host ${node.address}: ${messageOf(error)}`;
}

async function connect(node: NodeConfig, scope: RunScope): Promise<SshConnection> {
  const source = chooseCredentialSource({ ...node, fieldPrefix: node.field }, scope.cluster, scope.sshAgentAuth);
  const credentials = await loadCredentials(source);
  const { bastion } = scope;
  scope.log.debug(`host ${node.address}: connecting over SSH as ${node.user} with ${credentials.description}${bastion ? ` ${bastion.via}` : ''}`);
  const sock = bastion ? await bastion.tunnelTo(node.address, node.port) : undefined;
  const opening = SshConnection.open({ host: node.address, port: node.port, user: node.user }, credentials, {
    timeoutMs: scope.timeouts.sshConnectMs,
    hostKeys: scope.hostKeys,
    ...(sock && bastion ? { sock, via: bastion.via } : {}),
  });
  try {
    return await deadline(opening, scope.timeouts.sshConnectMs + 5_000, `connecting over SSH to host ${node.address}`, scope.signal);
  } catch (error) {
    opening.then((late) => late.close(), () => undefined);
    sock?.destroy();
    throw error;
  }
}
