import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { deadline } from '../deadline.js';
import { OperatorError, messageOf } from '../errors.js';
import type { SshConnection } from './connection.js';

/**
 * A local entry to host:port as a node sees it, through the node's SSH connection
 * (direct-tcpip, like `ssh -L`): a unix socket in a fresh private directory (0700, so
 * only this user can use it), each connection to it one SSH channel. gRPC dials it as
 * `unix:PATH`. Nothing listens on a TCP port of the operator's machine.
 */
export class SshTcpTunnel {
  private readonly sockets = new Set<Socket | Duplex>();
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    readonly socketPath: string,
  ) {}

  /** The gRPC target. */
  get target(): string {
    return `unix:${this.socketPath}`;
  }

  /**
   * Opens one channel first, so that an unreachable destination (etcd down, forwarding
   * refused by the node's sshd) fails at once, in words, rather than as gRPC retries.
   */
  static async open(
    ssh: SshConnection,
    destination: { host: string; port: number },
    options: { timeoutMs: number; signal?: AbortSignal; debug?: (line: string) => void },
  ): Promise<SshTcpTunnel> {
    const where = `${destination.host}:${destination.port}`;
    const node = ssh.target.host;
    const probe = await openChannel(ssh, destination, options.timeoutMs, options.signal);
    probe.destroy();
    const dir = await mkdtemp(join(tmpdir(), 'rke-etcd-tunnel-'));
    const socketPath = join(dir, 'etcd.sock');
    const server = createServer();
    const tunnel = new SshTcpTunnel(server, dir, socketPath);
    server.on('connection', (local) => tunnel.accept(local, ssh, destination, options));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw new OperatorError(`cannot open a local socket for the SSH tunnel to ${where} on host ${node}: ${messageOf(error)}`);
    }
    options.debug?.(`host ${node}: tunnel to ${where} at ${socketPath}`);
    return tunnel;
  }

  private accept(local: Socket, ssh: SshConnection, destination: { host: string; port: number }, options: { timeoutMs: number; signal?: AbortSignal; debug?: (line: string) => void }): void {
    if (this.closed) {
      local.destroy();
      return;
    }
    this.track(local);
    openChannel(ssh, destination, options.timeoutMs, options.signal).then(
      (channel) => {
        if (this.closed || local.destroyed) {
          channel.destroy();
          return;
        }
        this.track(channel);
        local.pipe(channel).pipe(local);
        const end = () => {
          local.destroy();
          channel.destroy();
        };
        local.once('close', end);
        channel.once('close', end);
        local.on('error', end);
        channel.on('error', end);
      },
      (error: unknown) => {
        options.debug?.(`host ${ssh.target.host}: tunnel: ${messageOf(error)}`);
        local.destroy();
      },
    );
  }

  private track(stream: Socket | Duplex): void {
    this.sockets.add(stream);
    stream.once('close', () => this.sockets.delete(stream));
  }

  /** Stops listening, cuts every connection, removes the socket's directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.sockets) stream.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function openChannel(ssh: SshConnection, destination: { host: string; port: number }, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
  const where = `${destination.host}:${destination.port}`;
  const node = ssh.target.host;
  const opening = ssh.openTcpChannel(destination.host, destination.port);
  try {
    return await deadline(opening, timeoutMs, `opening an SSH tunnel to ${where} on host ${node}`, signal);
  } catch (error) {
    opening.then((late) => late.destroy(), () => undefined);
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot reach ${where} from host ${node} through SSH: ${describeChannelFailure(error)}`);
  }
}

/** ssh2 reports OpenSSH's refusal reasons as "(SSH) Channel open failure: REASON". */
export function describeChannelFailure(error: unknown): string {
  const text = messageOf(error).replace(/^\(SSH\) Channel open failure:\s*/i, '');
  if (/prohibited/i.test(text)) return `${text} (the node's sshd must allow TCP forwarding: AllowTcpForwarding yes)`;
  if (/refused/i.test(text)) return 'connection refused (is etcd running and listening there?)';
  return text;
}
