import type { Duplex } from 'node:stream';
import ssh2, { type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { OperatorError, messageOf } from '../errors.js';
import { certificateAuthHandler } from './certificate-auth.js';
import { describeCertificate } from './certificate.js';
import type { SshCredentials } from './credentials.js';
import type { HostKeyDecision, HostKeyVerifier } from './host-key-verifier.js';

/** Where to connect, and how to name the host in messages. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** A bastion is named as such in messages, and its settings are bastion_host's. */
  role?: 'node' | 'bastion';
}

export interface SshConnectOptions {
  /** Time allowed for TCP connect + handshake + authentication. */
  timeoutMs: number;
  /** Checks the host's key against known_hosts. */
  hostKeys: HostKeyVerifier;
  /** An open byte stream to the host's sshd (a channel through the bastion) instead of a TCP connection. */
  sock?: Duplex;
  /** For messages: how the stream was obtained, e.g. "through bastion host 10.0.0.1". */
  via?: string;
}

/**
 * A keepalive every 5 s; after 3 without a reply (ssh2 gives up at the 4th tick) the
 * connection is declared lost: a silent network (packets dropped, no RST) fails the node
 * within about 20 s instead of waiting on TCP for many minutes.
 */
const KEEPALIVE_INTERVAL_MS = 5_000;
const KEEPALIVE_COUNT_MAX = 3;
export const SILENCE_DETECTED_AFTER_S = (KEEPALIVE_INTERVAL_MS * (KEEPALIVE_COUNT_MAX + 1)) / 1000;

/** An authenticated SSH connection to one node. */
export class SshConnection {
  private closed = false;
  private readonly channels = new Set<Duplex>();
  private readonly lost = new AbortController();
  /** Aborts when the connection drops without close() being called: the node is gone mid-work. */
  readonly lostSignal: AbortSignal = this.lost.signal;

  /** The other end stopped answering keepalives: the network (or the host) went silent. */
  private silent = false;

  private constructor(
    private readonly client: InstanceType<typeof ssh2.Client>,
    readonly target: SshTarget,
  ) {
    client.on('error', (error: Error & { level?: string }) => {
      if (error.level === 'client-timeout') this.silent = true;
    });
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
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      ...(options.sock ? { sock: options.sock } : {}),
      ...authConfig(client, target, credentials),
    };
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      // `on`, not `once`: ssh2 may emit more than one error (a handshake timeout, then the
      // lost connection), and an error with no listener would end the whole process.
      client.on('error', (error) => {
        const refusal = hostKey?.decision.refusal;
        const whose = target.role === 'bastion' ? 'bastion_host: ' : '';
        reject(refusal ? new OperatorError(`${whose}${refusal}`) : describeConnectError(error, target, credentials, options));
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

  /**
   * A byte stream to host:port as this SSH server sees it (direct-tcpip), destroyed when
   * the connection is lost: how a bastion reaches a node's sshd, and how --runtime ssh
   * reaches the node's etcd.
   */
  openTcpChannel(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new OperatorError(`the SSH connection to ${nameOf(this.target)} is closed`));
        return;
      }
      this.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
        if (error) reject(error);
        else {
          this.channels.add(channel);
          channel.once('close', () => this.channels.delete(channel));
          resolve(channel);
        }
      });
    });
  }

  /** An SFTP session on the node (the `sftp` subsystem), ended when the connection is lost. */
  openSftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new OperatorError(`the SSH connection to ${nameOf(this.target)} is closed`));
        return;
      }
      this.client.sftp((error, sftp) => {
        if (error) reject(error);
        else {
          this.channels.add(sftp as unknown as Duplex);
          sftp.once('close', () => this.channels.delete(sftp as unknown as Duplex));
          resolve(sftp);
        }
      });
    });
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

  /** The operator's words for the loss (after `lostSignal` aborted), saying how when known: the other end went silent. */
  lossDescription(): string {
    const cause = this.silent ? `: it stopped answering (no reply to SSH keepalives for ${SILENCE_DETECTED_AFTER_S} s: the network to it may be down)` : '';
    return `the SSH connection to ${nameOf(this.target)} was lost${cause}`;
  }

  close(): void {
    if (!this.closed) this.client.end();
    this.closed = true;
  }
}

function authConfig(client: InstanceType<typeof ssh2.Client>, target: SshTarget, credentials: SshCredentials): Partial<ConnectConfig> {
  if (credentials.kind === 'agent') return { agent: credentials.agentSocket };
  if (credentials.certificate === undefined) return { privateKey: credentials.privateKey };
  return { authHandler: certificateAuthHandler(client, target.user, credentials.privateKey, credentials.certificate.certificate) };
}

/** "host 10.0.0.1" or "bastion host 10.0.0.1" */
export function nameOf(target: SshTarget): string {
  return `${target.role === 'bastion' ? 'bastion host' : 'host'} ${target.host}`;
}

function describeConnectError(
  error: unknown,
  target: SshTarget,
  credentials: SshCredentials,
  options: SshConnectOptions,
): OperatorError {
  const where = `${nameOf(target)} port ${target.port}${options.via ? ` ${options.via}` : ''}`;
  const code = (error as { code?: string }).code;
  const level = (error as { level?: string }).level;
  const text = messageOf(error);
  const whose = target.role === 'bastion' ? 'of bastion_host' : 'of this node';
  if (level === 'client-authentication') {
    if (credentials.kind === 'key' && credentials.certificate) {
      const { certificate, description } = credentials.certificate;
      const principal =
        certificate.principals.length > 0 && !certificate.principals.includes(target.user)
          ? `the certificate is not for user ${target.user} (its principals: ${certificate.principals.join(', ')}); `
          : '';
      return new OperatorError(
        `SSH authentication as ${target.user}@${target.host}${options.via ? ` (${options.via})` : ''} failed with ${description} ` +
          `(${describeCertificate(certificate)}) and ${credentials.description}: the server refused it; ${principal}` +
          `check that the server trusts the certificate's CA (TrustedUserCAKeys) and the user ${whose} in the cluster file`,
      );
    }
    return new OperatorError(
      `SSH authentication as ${target.user}@${target.host}${options.via ? ` (${options.via})` : ''} failed with ${credentials.description}: ` +
        `the server refused it; check the user and ssh key ${whose} in the cluster file`,
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
