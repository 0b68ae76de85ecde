import http from 'node:http';
import type { Duplex } from 'node:stream';
import { inspect } from 'node:util';
import Docker from 'dockerode';
import { OperatorError, messageOf } from '../errors.js';
import type { SshConnection } from '../ssh/connection.js';

/**
 * An http.Agent whose every connection is a fresh SSH channel to the node's Docker
 * socket, so the Docker Engine API is used exactly as locally, with nothing exposed
 * on the node's network.
 */
class SshUnixSocketAgent extends http.Agent {
  constructor(
    private readonly ssh: SshConnection,
    private readonly socketPath: string,
  ) {
    super({ keepAlive: false });
  }

  override createConnection(
    _options: http.ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    this.ssh.forwardToUnixSocket(this.socketPath).then(
      (channel) => callback?.(null, withSocketMethods(channel)),
      (error: Error) =>
        callback?.(
          new OperatorError(
            `cannot reach Docker at ${this.socketPath}: ${error.message} ` +
              `(is Docker running there, is docker_socket right, and does sshd allow AllowStreamLocalForwarding?)`,
          ),
          undefined as unknown as Duplex,
        ),
    );
    return undefined;
  }

  /**
   * docker-modem formats every request's options with util.inspect (depth unbounded, hidden
   * properties shown) whether or not its debug log is on; those options hold this agent, and
   * through it the whole SSH connection: tens of MiB of strings per call. Say what it is instead.
   */
  [inspect.custom](): string {
    return `SshUnixSocketAgent(${this.socketPath})`;
  }
}

/** http.ClientRequest calls a few net.Socket methods that an SSH channel lacks. */
function withSocketMethods(channel: Duplex): Duplex {
  const socketLike = channel as unknown as Record<string, unknown>;
  for (const method of ['setNoDelay', 'setKeepAlive', 'setTimeout', 'ref', 'unref']) {
    if (typeof socketLike[method] !== 'function') socketLike[method] = () => channel;
  }
  return channel;
}

/** The Docker Engine API of one node, reached through its SSH connection. */
export function dockerOverSsh(ssh: SshConnection, socketPath: string, requestTimeoutMs: number): Docker {
  return new Docker({
    protocol: 'http',
    host: 'docker-over-ssh',
    port: 80,
    agent: new SshUnixSocketAgent(ssh, socketPath),
    timeout: requestTimeoutMs,
  } as Docker.DockerOptions);
}

export interface EngineInfo {
  serverVersion: string;
  /** The node's clock minus this machine's, from the engine's SystemTime (absent if it gave none). */
  clockOffsetMs?: number;
  /** The engine's machine architecture as it reports it (uname -m: x86_64, aarch64, ...); '' when absent. */
  architecture: string;
}

export async function readEngineInfo(docker: Docker, host: string, socketPath: string): Promise<EngineInfo> {
  try {
    const asked = Date.now();
    const info = (await docker.info()) as { ServerVersion?: string; Architecture?: string; SystemTime?: string };
    const nodeTime = info.SystemTime ? Date.parse(info.SystemTime) : Number.NaN;
    return {
      serverVersion: info.ServerVersion ?? 'unknown',
      architecture: info.Architecture ?? '',
      ...(Number.isFinite(nodeTime) ? { clockOffsetMs: nodeTime - (asked + Date.now()) / 2 } : {}),
    };
  } catch (error) {
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot talk to Docker at ${socketPath} on host ${host}: ${describeDockerError(error)}`);
  }
}

/** Docker API errors carry the engine's JSON message; show that, not the HTTP wrapper. */
export function describeDockerError(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  if (json?.message) return json.message;
  const statusCode = (error as { statusCode?: number }).statusCode;
  const reason = (error as { reason?: string }).reason;
  if (statusCode !== undefined && reason) return `${reason} (HTTP ${statusCode})`;
  const text = messageOf(error);
  if (/socket hang up|ETIMEDOUT|timeout/i.test(text)) return `no answer from the Docker engine (${text})`;
  return text;
}

export function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}
