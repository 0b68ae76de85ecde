import type { FileHandle } from 'node:fs/promises';
import type { ByteSink } from './zip/zip-writer.js';

export interface FileSinkOptions {
  position?: number;
  bufferSize?: number;
  /** Called once each write has returned, with its bytes and the file position after them. */
  onWritten?: (bytes: Uint8Array, end: number) => void;
}

/** Writes a byte stream to a file at consecutive positions, in large writes. */
export class FileSink implements ByteSink {
  readonly #handle: FileHandle;
  readonly #buffer: Buffer;
  readonly #onWritten: FileSinkOptions['onWritten'];
  #buffered = 0;
  #position: number;

  constructor(handle: FileHandle, options: FileSinkOptions = {}) {
    this.#handle = handle;
    this.#position = options.position ?? 0;
    this.#buffer = Buffer.allocUnsafe(options.bufferSize ?? 1024 * 1024);
    this.#onWritten = options.onWritten;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#buffered + chunk.length > this.#buffer.length) await this.flush();
    if (chunk.length >= this.#buffer.length) {
      await this.#writeFully(chunk);
      return;
    }
    this.#buffer.set(chunk, this.#buffered);
    this.#buffered += chunk.length;
  }

  async flush(): Promise<void> {
    if (this.#buffered === 0) return;
    await this.#writeFully(this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }

  async #writeFully(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await this.#handle.write(bytes, done, bytes.length - done, this.#position);
      done += bytesWritten;
      this.#position += bytesWritten;
    }
    this.#onWritten?.(bytes, this.#position);
  }
}
