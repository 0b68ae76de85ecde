import { createHash } from 'node:crypto';
import type { FileEntryWithStats, OpenMode, SFTPWrapper, Stats as SftpStats } from 'ssh2';
import { formatSeconds } from '../deadline.js';
import { OperatorError, messageOf } from '../errors.js';
import type { SshConnection } from './connection.js';

/**
 * Files on a node over SFTP (OpenSSH's sftp-server / internal-sftp), for --runtime ssh:
 * every request has a timeout and every failure names the host and the path. Writes
 * and reads are pipelined (several requests in flight), as a byte stream needs.
 */

/** SFTP status codes (draft-ietf-secsh-filexfer-02) as the operator reads them. */
const STATUS_WORDS: Record<number, string> = {
  1: 'end of file',
  2: 'no such file or directory',
  3: 'permission denied',
  4: 'failure',
  5: 'bad message',
  6: 'no connection',
  7: 'connection lost',
  8: 'operation unsupported',
};

export function sftpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const NO_SUCH_FILE = 2;

/** One piece of a read or write: OpenSSH's limit is 256 KiB per packet, ssh2 splits bigger ones. */
const PIECE_BYTES = 128 * 1024;
/** Pieces in flight while writing: 2 MiB on the way keeps a link busy without holding much. */
const WRITES_IN_FLIGHT = 16;

export class NodeSftp {
  private constructor(
    private readonly sftp: SFTPWrapper,
    readonly host: string,
    private readonly timeoutMs: number,
  ) {}

  /** `openTimeoutMs` for the session to start; `requestTimeoutMs` for each request after that. */
  static async open(ssh: SshConnection, timeouts: { openTimeoutMs: number; requestTimeoutMs: number }): Promise<NodeSftp> {
    const host = ssh.target.host;
    const timeoutMs = timeouts.openTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new OperatorError(`opening SFTP on host ${host} did not finish within ${formatSeconds(timeoutMs)}`)), timeoutMs);
    });
    const opening = ssh.openSftp();
    try {
      return new NodeSftp(await Promise.race([opening, timeout]), host, timeouts.requestTimeoutMs);
    } catch (error) {
      opening.then((late) => late.end(), () => undefined);
      if (error instanceof OperatorError) throw error;
      throw new OperatorError(`cannot open SFTP on host ${host}: ${messageOf(error)} (--runtime ssh needs the node's sshd to offer the sftp subsystem)`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Has the server this OpenSSH extension (posix-rename@openssh.com, hardlink@openssh.com, fsync@openssh.com)? */
  hasExtension(name: string): boolean {
    const extensions = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {};
    return name in extensions;
  }

  /** Runs one SFTP request with the timeout; failures become one line naming what, the host and the path. */
  call<T>(what: string, path: string, start: (callback: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new OperatorError(`${what} ${path} on host ${this.host} over SFTP did not finish within ${formatSeconds(this.timeoutMs)}`));
      }, this.timeoutMs);
      try {
        start((error, value) => {
          clearTimeout(timer);
          if (error) reject(new SftpError(what, path, this.host, error));
          else resolve(value as T);
        });
      } catch (error) {
        clearTimeout(timer);
        reject(new SftpError(what, path, this.host, error));
      }
    });
  }

  /** lstat, or undefined when nothing has that name. */
  async lstat(path: string): Promise<SftpStats | undefined> {
    try {
      return await this.call<SftpStats>('examining', path, (done) => this.sftp.lstat(path, done));
    } catch (error) {
      if (error instanceof SftpError && error.status === NO_SUCH_FILE) return undefined;
      throw error;
    }
  }

  /** stat (follows symlinks), or undefined when nothing has that name. */
  async stat(path: string): Promise<SftpStats | undefined> {
    try {
      return await this.call<SftpStats>('examining', path, (done) => this.sftp.stat(path, done));
    } catch (error) {
      if (error instanceof SftpError && error.status === NO_SUCH_FILE) return undefined;
      throw error;
    }
  }

  /** The names in a directory (without . and ..), or undefined when it does not exist. */
  async readdir(path: string): Promise<string[] | undefined> {
    try {
      const entries = await this.call<FileEntryWithStats[]>('listing', path, (done) => this.sftp.readdir(path, done));
      return entries.map((entry) => entry.filename).filter((name) => name !== '.' && name !== '..');
    } catch (error) {
      if (error instanceof SftpError && error.status === NO_SUCH_FILE) return undefined;
      throw error;
    }
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.call('creating the directory', path, (done) => this.sftp.mkdir(path, { mode }, done));
  }

  unlink(path: string): Promise<void> {
    return this.call('removing', path, (done) => this.sftp.unlink(path, done));
  }

  /** hardlink@openssh.com: link(2), which fails on any existing name (a dangling symlink too). */
  hardlink(from: string, to: string): Promise<void> {
    return this.call('linking', to, (done) => this.sftp.ext_openssh_hardlink(from, to, done));
  }

  /** posix-rename@openssh.com: rename(2), replacing whatever has the name (a symlink itself, never its target). */
  posixRename(from: string, to: string): Promise<void> {
    return this.call('renaming to', to, (done) => this.sftp.ext_openssh_rename(from, to, done));
  }

  /** Reads a small file whole (certificates), refusing anything larger than maxBytes. */
  async readSmallFile(path: string, maxBytes: number): Promise<Buffer> {
    const file = await this.openFile(path, 'r', 'reading');
    try {
      const { size } = await file.stat();
      if (size > maxBytes) throw new OperatorError(`${path} on host ${this.host} has ${size} bytes, more than the ${maxBytes} expected`);
      const buffer = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await file.read(buffer, done, size - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buffer.subarray(0, done);
    } finally {
      await file.close().catch(() => undefined);
    }
  }

  /**
   * A new file that must not exist (O_CREAT|O_EXCL: never through a symlink either), with
   * `mode` set exactly afterwards (the server's umask applies at creation).
   */
  async createNew(path: string, mode: number): Promise<SftpFile> {
    const file = await this.openFile(path, 'wx+' as OpenMode, 'creating', mode); // O_RDWR|O_CREAT|O_EXCL: read back later
    try {
      await this.call('setting the mode of', path, (done) => this.sftp.fchmod(file.handle, mode, done));
      return file;
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
  }

  openForReading(path: string): Promise<SftpFile> {
    return this.openFile(path, 'r', 'reading');
  }

  /**
   * fsync@openssh.com on the directory (opened read-only, as a file): makes a rename in it
   * durable. Returns false when the server cannot do that (then the rename itself stands).
   */
  async syncDirectory(path: string): Promise<boolean> {
    if (!this.hasExtension('fsync@openssh.com')) return false;
    let dir: SftpFile;
    try {
      dir = await this.openFile(path, 'r', 'opening the directory');
    } catch {
      return false;
    }
    try {
      await dir.sync();
      return true;
    } catch {
      return false;
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  private async openFile(path: string, flags: OpenMode, what: string, mode?: number): Promise<SftpFile> {
    const handle = await this.call<Buffer>(what, path, (done) =>
      mode === undefined ? this.sftp.open(path, flags, done) : this.sftp.open(path, flags, { mode }, done),
    );
    return new SftpFile(this, this.sftp, handle, path);
  }

  end(): void {
    this.sftp.end();
  }
}

/** An SFTP failure: `status` is the server's status code when it sent one. */
export class SftpError extends OperatorError {
  readonly status: number | undefined;

  constructor(what: string, path: string, host: string, cause: unknown) {
    const status = sftpStatus(cause);
    const words = status === undefined ? messageOf(cause) : (STATUS_WORDS[status] ?? `status ${status}`);
    super(`${what} ${path} on host ${host} over SFTP failed: ${words}`, { cause });
    this.status = status;
  }
}

/** An open file on the node: positional reads and writes (a RandomAccessFile for the zip read-back). */
export class SftpFile {
  constructor(
    private readonly owner: NodeSftp,
    private readonly sftp: SFTPWrapper,
    readonly handle: Buffer,
    readonly path: string,
  ) {}

  async stat(): Promise<{ size: number; isFile(): boolean }> {
    const stats = await this.owner.call<SftpStats>('examining', this.path, (done) => this.sftp.fstat(this.handle, done));
    return { size: stats.size, isFile: () => stats.isFile() };
  }

  /** Reads up to `length` bytes at `position`, in pieces requested together; stops at the end of the file. */
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    const pieces: Array<Promise<number>> = [];
    for (let start = 0; start < length; start += PIECE_BYTES) {
      const size = Math.min(PIECE_BYTES, length - start);
      pieces.push(
        this.owner.call<number>('reading', this.path, (done) =>
          this.sftp.read(this.handle, buffer, offset + start, size, position + start, (error, bytesRead) => done(error, bytesRead)),
        ),
      );
    }
    const counts = await Promise.all(pieces);
    let bytesRead = 0;
    for (const [index, count] of counts.entries()) {
      bytesRead += count;
      if (count < Math.min(PIECE_BYTES, length - index * PIECE_BYTES)) break; // the end of the file
    }
    return { bytesRead };
  }

  write(bytes: Buffer, position: number): Promise<void> {
    return this.owner.call('writing', this.path, (done) => this.sftp.write(this.handle, bytes, 0, bytes.length, position, (error) => done(error)));
  }

  /** fsync@openssh.com: the data is on the node's disk. */
  sync(): Promise<void> {
    return this.owner.call('syncing', this.path, (done) => this.sftp.ext_openssh_fsync(this.handle, (error) => done(error)));
  }

  close(): Promise<void> {
    return this.owner.call('closing', this.path, (done) => this.sftp.close(this.handle, done));
  }
}

/**
 * The zip writer's sink for a file on the node: bytes are gathered into pieces and
 * written at consecutive positions with up to WRITES_IN_FLIGHT requests outstanding
 * (write() waits when the window is full, so memory stays bounded). Counts and hashes
 * exactly what it sends, for the read-back comparison.
 */
export class SftpSink {
  readonly #file: Pick<SftpFile, 'write'>;
  readonly #hash = createHash('sha256');
  readonly #inFlight = new Set<Promise<void>>();
  #gathered: Buffer[] = [];
  #gatheredBytes = 0;
  #position = 0;
  #failure: unknown;

  constructor(file: Pick<SftpFile, 'write'>) {
    this.#file = file;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#hash.update(bytes);
    this.#gathered.push(Buffer.from(bytes)); // a copy: the producer may reuse its buffer
    this.#gatheredBytes += bytes.length;
    while (this.#gatheredBytes >= PIECE_BYTES) await this.#send(this.#take(PIECE_BYTES));
  }

  /** Sends what is gathered and waits for every write to be acknowledged. */
  async flush(): Promise<void> {
    if (this.#gatheredBytes > 0) await this.#send(this.#take(this.#gatheredBytes));
    await Promise.all(this.#inFlight);
    this.#throwIfFailed();
  }

  /** Size and SHA-256 of everything written (valid after flush). */
  digest(): { size: number; sha256: string } {
    return { size: this.#position, sha256: this.#hash.copy().digest('hex') };
  }

  #take(length: number): Buffer {
    const all = this.#gathered.length === 1 ? this.#gathered[0]! : Buffer.concat(this.#gathered, this.#gatheredBytes);
    const piece = all.subarray(0, length);
    const rest = all.subarray(length);
    this.#gathered = rest.length > 0 ? [rest] : [];
    this.#gatheredBytes = rest.length;
    return piece;
  }

  async #send(piece: Buffer): Promise<void> {
    while (this.#inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
    const position = this.#position;
    this.#position += piece.length;
    const write: Promise<void> = this.#file
      .write(piece, position)
      .catch((error: unknown) => {
        this.#failure ??= error;
      })
      .finally(() => this.#inFlight.delete(write));
    this.#inFlight.add(write);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
