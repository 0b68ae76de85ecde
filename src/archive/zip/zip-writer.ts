import { Readable, Transform, Writable, type Duplex, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw } from 'node:zlib';
import { BlockDeflate, type BlockCounts } from './block-deflate.js';
import { crc32 } from './crc32.js';
import {
  encodeCentralDirectoryHeader,
  encodeDataDescriptor,
  encodeDirectoryEnd,
  encodeLocalFileHeader,
  type EntryHeader,
  type EntryRecord,
} from './records.js';

/** Where the archive's bytes go, in order. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

export interface EntryOptions {
  /** Streams the entry's data passes through before it is compressed (e.g. a verifier). */
  through?: Duplex[];
  /** zlib level, 0 (stored blocks) to 9, or `auto` (a method per block, block-deflate.ts); default zlib's own (6). */
  level?: number | 'auto';
  signal?: AbortSignal;
}

/** An entry as written; `blocks`: with `auto`, how many blocks went each way. */
export type WrittenEntry = EntryRecord & { blocks?: BlockCounts };

export interface FinishedZip {
  /** Offset of the archive's end: its size when it starts at offset 0. */
  size: number;
  entries: readonly EntryRecord[];
}

/**
 * etcd streams its snapshot in 32 KiB messages, and streams pass 16 KiB at a time by
 * default: each piece then costs a trip through every stage and one to zlib's thread
 * pool. Pieces of 256 KiB (and zlib output of 256 KiB) made the agent's CPU time per
 * byte several times smaller. Pieces of 1 MiB cost no less CPU, but each stage holds
 * one, and the agent peaked about 10 MiB higher (docs/performance.md).
 */
const PIECE_BYTES = 256 * 1024;
const DEFLATE_CHUNK_BYTES = 256 * 1024;

/**
 * A streaming ZIP writer: each entry is deflated as it arrives, with its CRC-32 and
 * sizes in a data descriptor after the data, so nothing is held in memory and
 * entries of any size work (ZIP64 where needed). Entries are added one at a time.
 */
export class ZipWriter {
  readonly #sink: ByteSink;
  readonly #forceZip64: boolean;
  readonly #entries: EntryRecord[] = [];
  #offset = 0;
  #state: 'ready' | 'writing' | 'finished' | 'failed' = 'ready';

  /**
   * forceZip64: use the ZIP64 records even for small archives (to test that path).
   * startOffset: bytes already in the file before the archive (offsets count from the file's start).
   */
  constructor(sink: ByteSink, options: { forceZip64?: boolean; startOffset?: number } = {}) {
    this.#sink = sink;
    this.#forceZip64 = options.forceZip64 ?? false;
    this.#offset = options.startOffset ?? 0;
  }

  addEntry(header: EntryHeader, source: Readable | readonly Uint8Array[], options: EntryOptions = {}): Promise<WrittenEntry> {
    return this.#step(async () => {
      const localHeaderOffset = this.#offset;
      await this.#write(encodeLocalFileHeader(header));
      const dataStart = this.#offset;
      const checksum = new Crc32Counter();
      const input = source instanceof Readable ? source : Readable.from(source);
      const deflate =
        options.level === 'auto'
          ? new BlockDeflate()
          : createDeflateRaw({ chunkSize: DEFLATE_CHUNK_BYTES, ...(options.level === undefined ? {} : { level: options.level }) });
      await pipeline([input, new Coalescer(PIECE_BYTES), ...(options.through ?? []), checksum, deflate, this.#sinkStream()], {
        signal: options.signal,
      });
      const record: EntryRecord = {
        ...header,
        crc32: checksum.crc32,
        uncompressedSize: checksum.size,
        compressedSize: this.#offset - dataStart,
        localHeaderOffset,
      };
      await this.#write(encodeDataDescriptor(record, this.#forceZip64));
      this.#entries.push(record);
      return deflate instanceof BlockDeflate ? { ...record, blocks: { ...deflate.counts } } : record;
    });
  }

  /** Writes the central directory and the end records. */
  finish(): Promise<FinishedZip> {
    return this.#step(async () => {
      const directoryOffset = this.#offset;
      for (const record of this.#entries) await this.#write(encodeCentralDirectoryHeader(record, this.#forceZip64));
      const directorySize = this.#offset - directoryOffset;
      await this.#write(
        encodeDirectoryEnd({ entryCount: this.#entries.length, directoryOffset, directorySize }, this.#forceZip64),
      );
      this.#state = 'finished';
      return { size: this.#offset, entries: [...this.#entries] };
    });
  }

  async #step<T>(work: () => Promise<T>): Promise<T> {
    if (this.#state !== 'ready') throw new Error(`zip writer is ${this.#state}`);
    this.#state = 'writing';
    try {
      const result = await work();
      if (this.#state === 'writing') this.#state = 'ready';
      return result;
    } catch (error) {
      this.#state = 'failed';
      throw error;
    }
  }

  async #write(chunk: Uint8Array): Promise<void> {
    await this.#sink.write(chunk);
    this.#offset += chunk.length;
  }

  #sinkStream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.#write(chunk).then(() => callback(), callback);
      },
    });
  }
}

/** Passes the bytes on in pieces of `size` (the last one shorter), whatever sizes arrive. */
export class Coalescer extends Transform {
  readonly #size: number;
  #parts: Buffer[] = [];
  #length = 0;

  constructor(size: number) {
    super({ highWaterMark: size });
    this.#size = size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#parts.push(chunk);
    this.#length += chunk.length;
    if (this.#length >= this.#size) this.#release();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#length > 0) this.#release();
    callback();
  }

  #release(): void {
    this.push(Buffer.concat(this.#parts, this.#length));
    this.#parts = [];
    this.#length = 0;
  }
}

class Crc32Counter extends Transform {
  crc32 = 0;
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.crc32 = crc32(chunk, this.crc32);
    this.size += chunk.length;
    callback(null, chunk);
  }
}
