import type { Duplex } from 'node:stream';
import type { BastionConfig, ClusterConfig } from '../config/cluster.js';
import { deadline } from '../deadline.js';
import { OperatorError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { SshConnection, type SshTarget } from './connection.js';
import { chooseCredentialSource, loadCredentials } from './credentials.js';
import type { HostKeyVerifier } from './host-key-verifier.js';

export interface BastionOptions {
  cluster: ClusterConfig;
  /** --ssh-agent-auth */
  sshAgentAuth: boolean;
  hostKeys: HostKeyVerifier;
  /** connect + handshake + authentication, and opening one tunnel */
  timeoutMs: number;
  signal: AbortSignal;
  log: Logger;
}

/**
 * `bastion_host`: one SSH connection to the bastion, opened on first use and shared by
 * every node of the run; each node's sshd is reached through a direct-tcpip channel on
 * it. If the bastion cannot be reached, every node fails with the bastion's error.
 */
export class Bastion {
  private connection: Promise<SshConnection> | undefined;
  private opened: SshConnection | undefined;
  private closed = false;
  readonly target: SshTarget;

  constructor(
    readonly config: BastionConfig,
    private readonly options: BastionOptions,
  ) {
    this.target = { host: config.address, port: config.port, user: config.user, role: 'bastion' };
  }

  /** "through bastion host 10.0.0.1", for messages about nodes */
  get via(): string {
    return `through bastion host ${this.config.address}`;
  }

  /** A byte stream to `host:port` as the bastion sees it: give it to ssh2 as `sock`. */
  async tunnelTo(host: string, port: number): Promise<Duplex> {
    const bastion = await this.connect();
    try {
      return await deadline(
        bastion.openTcpChannel(host, port),
        this.options.timeoutMs,
        `reaching host ${host} port ${port} from bastion host ${this.config.address}`,
        this.options.signal,
      );
    } catch (error) {
      if (error instanceof OperatorError) throw error;
      throw new OperatorError(`cannot reach host ${host} port ${port} from bastion host ${this.config.address}: ${describeChannelFailure(error)}`);
    }
  }

  /** Set once the bastion's connection dropped mid-run: the one line for every node behind it. */
  lossMessage(): string | undefined {
    if (!this.opened?.lostSignal.aborted) return undefined;
    return `${this.opened.lossDescription()}; every node reached through it fails`;
  }

  /** Close the bastion connection (the nodes' channels on it close with it). */
  close(): void {
    this.closed = true;
    this.connection?.then(
      (connection) => connection.close(),
      () => undefined,
    );
  }

  private connect(): Promise<SshConnection> {
    if (this.closed) return Promise.reject(new OperatorError(`the SSH connection to bastion host ${this.config.address} is closed`));
    const lost = this.lossMessage();
    if (lost) return Promise.reject(new OperatorError(lost));
    this.connection ??= this.open();
    return this.connection;
  }

  private async open(): Promise<SshConnection> {
    const { cluster, log } = this.options;
    const source = chooseCredentialSource({ ...this.config, fieldPrefix: 'bastion_host' }, cluster, this.options.sshAgentAuth);
    const credentials = await loadCredentials(source);
    log.debug(`bastion host ${this.config.address}: connecting over SSH as ${this.config.user} with ${credentials.description}`);
    const opening = SshConnection.open(this.target, credentials, { timeoutMs: this.options.timeoutMs, hostKeys: this.options.hostKeys });
    try {
      const connection = await deadline(
        opening,
        this.options.timeoutMs + 5_000,
        `connecting over SSH to bastion host ${this.config.address}`,
        this.options.signal,
      );
      if (this.closed) connection.close();
      this.opened = connection;
      return connection;
    } catch (error) {
      // A connection that completes after the deadline is closed, not left open.
      opening.then((late) => late.close(), () => undefined);
      throw error;
    }
  }
}

/** ssh2's channel open failure: OpenSSH's reason text, with a hint where we have one. */
export function describeChannelFailure(error: unknown): string {
  const reason = (error as { reason?: number }).reason;
  const text = messageOf(error).replace(/^\(SSH\) Channel open failure:\s*/i, '');
  // RFC 4254 §5.1: 1 = administratively prohibited
  if (reason === 1) return `${text || 'refused'} (is AllowTcpForwarding off on the bastion?)`;
  return text === '' ? 'the bastion could not open the connection' : text.charAt(0).toLowerCase() + text.slice(1);
}
