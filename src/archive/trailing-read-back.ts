import { createHash } from 'node:crypto';
import { crc32 } from './zip/crc32.js';
import type { RandomAccessFile } from './verify-zip.js';

const READ_CHUNK = 1024 * 1024;

/** What was read back: every byte from offset 0 to `size`. */
export interface ReadBackDigest {
  size: number;
  sha256: string;
  crc32: number;
}

/**
 * Reads a file back while it is still being written: each region once its write has returned,
 * one read at a time just behind the writer. The read-back then ends a moment after the last
 * write instead of taking a second pass over the whole file (under the agent's memory limit
 * that pass read the disk: 0.4-0.6 s for a 373 MiB snapshot). What it checks is unchanged:
 * the file gives back, in full, the bytes that were written (the caller compares the CRC-32s).
 */
export class TrailingReadBack {
  readonly #file: RandomAccessFile;
  readonly #sha256 = createHash('sha256');
  readonly #buffer = Buffer.allocUnsafe(READ_CHUNK);
  #crc32 = 0;
  #read = 0;
  #written = 0;
  #running: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(file: RandomAccessFile) {
    this.#file = file;
  }

  /** The file now holds written bytes up to `end`; reads them back in the background. */
  writtenUpTo(end: number): void {
    this.#written = Math.max(this.#written, end);
    if (this.#running === undefined && this.#failure === undefined) {
      this.#running = this.#catchUp().then(
        () => void (this.#running = undefined),
        (error: unknown) => {
          this.#failure = { error };
          this.#running = undefined;
        },
      );
    }
  }

  /** Reads whatever is left up to `size` and returns the digest of bytes [0, size). */
  async finish(size: number): Promise<ReadBackDigest> {
    this.writtenUpTo(size);
    while (this.#running !== undefined) await this.#running;
    if (this.#failure !== undefined) throw this.#failure.error;
    if (this.#read !== size) throw new Error(`read back ${this.#read} bytes, ${size} were written`);
    return { size, sha256: this.#sha256.digest('hex'), crc32: this.#crc32 };
  }

  async #catchUp(): Promise<void> {
    while (this.#read < this.#written) {
      const length = Math.min(READ_CHUNK, this.#written - this.#read);
      const { bytesRead } = await this.#file.read(this.#buffer, 0, length, this.#read);
      if (bytesRead === 0) throw new Error(`the file ends at ${this.#read} while reading it back`);
      const bytes = this.#buffer.subarray(0, bytesRead);
      this.#sha256.update(bytes);
      this.#crc32 = crc32(bytes, this.#crc32);
      this.#read += bytesRead;
    }
  }
}
