import type { Duplex } from 'node:stream';
import ssh2, { type ConnectConfig } from 'ssh2';
import { OperatorError, messageOf } from '../errors.js';
import type { SshCredentials } from './credentials.js';
import type { HostKeyDecision, HostKeyVerifier } from './host-key-verifier.js';

/** Where to connect, and how to name the host in messages. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
}

export interface SshConnectOptions {
  /** Time allowed for TCP connect + handshake + authentication. */
  timeoutMs: number;
  /** Checks the host's key against known_hosts. */
  hostKeys: HostKeyVerifier;
}

/** An authenticated SSH connection to one node. */
export class SshConnection {
  private closed = false;
  private readonly channels = new Set<Duplex>();
  private readonly lost = new AbortController();
  /** Aborts when the connection drops without close() being called: the node is gone mid-work. */
  readonly lostSignal: AbortSignal = this.lost.signal;

  private constructor(
    private readonly client: InstanceType<typeof ssh2.Client>,
    readonly target: SshTarget,
  ) {
    client.on('close', () => {
      const lost = !this.closed;
      this.closed = true;
      if (!lost) return;
      // A response already under way on a channel (a container's wait) is not failed by
      // the channel closing; the signal lets callers stop waiting for it.
      for (const channel of this.channels) channel.destroy(new Error(`the SSH connection to host ${target.host} was lost`));
      this.lost.abort();
    });
  }

  static async open(target: SshTarget, credentials: SshCredentials, options: SshConnectOptions): Promise<SshConnection> {
    const client = new ssh2.Client();
    let hostKey: { key: Buffer; decision: HostKeyDecision } | undefined;
    const preferred = options.hostKeys.preferredAlgorithms(target.host, target.port);
    const config: ConnectConfig = {
      hostVerifier: (key: Buffer) => {
        hostKey = { key, decision: options.hostKeys.decide(target.host, target.port, key) };
        return hostKey.decision.accept;
      },
      ...(preferred.length ? { algorithms: { serverHostKey: { prepend: preferred } } as ConnectConfig['algorithms'] } : {}),
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: options.timeoutMs,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      ...(credentials.kind === 'agent' ? { agent: credentials.agentSocket } : { privateKey: credentials.privateKey }),
    };
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', (error) => {
        const refusal = hostKey?.decision.refusal;
        reject(refusal ? new OperatorError(refusal) : describeConnectError(error, target, credentials, options));
      });
      try {
        client.connect(config);
      } catch (error) {
        reject(describeConnectError(error, target, credentials, options));
      }
    });
    if (hostKey?.decision.isNew) {
      try {
        await options.hostKeys.record(target.host, target.port, hostKey.key);
      } catch (error) {
        client.end();
        throw error;
      }
    }
    return new SshConnection(client, target);
  }

  /** A byte stream to a unix socket on the node (OpenSSH's stream-local forwarding). */
  forwardToUnixSocket(socketPath: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error(`the SSH connection to host ${this.target.host} is closed`));
        return;
      }
      this.client.openssh_forwardOutStreamLocal(socketPath, (error, channel) => {
        if (error) reject(new Error(`cannot open ${socketPath} on host ${this.target.host} through SSH: ${messageOf(error)}`));
        else {
          this.channels.add(channel);
          channel.once('close', () => this.channels.delete(channel));
          resolve(channel);
        }
      });
    });
  }

  close(): void {
    if (!this.closed) this.client.end();
    this.closed = true;
  }
}

function describeConnectError(
  error: unknown,
  target: SshTarget,
  credentials: SshCredentials,
  options: SshConnectOptions,
): OperatorError {
  const where = `host ${target.host} port ${target.port}`;
  const code = (error as { code?: string }).code;
  const level = (error as { level?: string }).level;
  const text = messageOf(error);
  if (level === 'client-authentication') {
    return new OperatorError(
      `SSH authentication as ${target.user}@${target.host} failed with ${credentials.description}: the server refused it; ` +
        `check the user and ssh key of this node in the cluster file`,
    );
  }
  if (code === 'ECONNREFUSED') return new OperatorError(`cannot connect over SSH to ${where}: connection refused (is sshd running there?)`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new OperatorError(`cannot connect over SSH to ${where}: host unreachable`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new OperatorError(`cannot connect over SSH to ${where}: unknown host name`);
  if (/Timed out while waiting for handshake/i.test(text)) {
    return new OperatorError(`cannot connect over SSH to ${where}: no answer within ${Math.round(options.timeoutMs / 1000)} s`);
  }
  if (/encrypted private key|passphrase/i.test(text)) {
    return new OperatorError(
      `ssh key ${credentials.description} is encrypted with a passphrase: add it to ssh-agent (ssh-add) and pass --ssh-agent-auth`,
    );
  }
  if (/Cannot parse privateKey|Unsupported key format/i.test(text)) {
    return new OperatorError(`ssh key ${credentials.description} is not a private key ssh can read: ${text}`);
  }
  return new OperatorError(`cannot connect over SSH to ${where}: ${text}`);
}
