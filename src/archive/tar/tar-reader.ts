import { createHash } from 'node:crypto';
import { BLOCK_SIZE, type TarEntryType } from './tar-writer.js';

/** One entry as read back from an archive: enough to compare it with what was written. */
export interface ListedEntry {
  name: string;
  type: TarEntryType;
  mode: number;
  size: number;
  /** SHA-256 (hex) of the content; of nothing for directories and symlinks. */
  sha256: string;
  linkName?: string;
}

const TYPES: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '5': 'directory', '2': 'symlink' };

/**
 * Lists a tar stream (the kinds tar-writer writes: ustar, PAX 'x' headers for path,
 * linkpath, uid, gid), hashing each file's content as it passes. Checks every header's
 * checksum and magic and that the archive ends with its zero blocks; anything else
 * is an error.
 */
export async function listTar(chunks: AsyncIterable<Uint8Array>): Promise<ListedEntry[]> {
  const reader = new BlockReader(chunks);
  const entries: ListedEntry[] = [];
  let pax = new Map<string, string>();
  for (;;) {
    const header = await reader.read(BLOCK_SIZE);
    if (header === undefined) throw new Error('the archive ends without its end-of-archive blocks');
    if (header.every((byte) => byte === 0)) {
      const second = await reader.read(BLOCK_SIZE);
      if (second === undefined || !second.every((byte) => byte === 0)) throw new Error('a zero block is not followed by a second one');
      return entries;
    }
    checkHeader(header, entries.length);
    const typeFlag = String.fromCharCode(header[156]!);
    const size = readOctal(header, 124, 12);
    if (typeFlag === 'x') {
      const body = await reader.readContent(size);
      pax = parsePax(body);
      continue;
    }
    const type = TYPES[typeFlag];
    if (type === undefined) throw new Error(`entry ${entries.length + 1} has an unexpected type ${JSON.stringify(typeFlag)}`);
    const prefix = readString(header, 345, 155);
    const shortName = readString(header, 0, 100);
    const name = pax.get('path') ?? (prefix === '' ? shortName : `${prefix}/${shortName}`);
    const linkName = pax.get('linkpath') ?? readString(header, 157, 100);
    const hash = createHash('sha256');
    if (type === 'file') {
      for await (const part of reader.contentParts(size)) hash.update(part);
    } else if (size !== 0) {
      throw new Error(`${name}: a ${type} entry with ${size} bytes of content`);
    }
    entries.push({
      name,
      type,
      mode: readOctal(header, 100, 8),
      size,
      sha256: hash.digest('hex'),
      ...(type === 'symlink' ? { linkName } : {}),
    });
    pax = new Map();
  }
}

function checkHeader(header: Buffer, index: number): void {
  const magic = header.subarray(257, 263).toString('latin1');
  if (magic !== 'ustar\0' && magic !== 'ustar ') throw new Error(`entry ${index + 1} has no ustar magic`);
  const stored = readOctal(header, 148, 8);
  let sum = 0;
  for (let offset = 0; offset < BLOCK_SIZE; offset++) sum += offset >= 148 && offset < 156 ? 0x20 : header[offset]!;
  if (stored !== sum) throw new Error(`entry ${index + 1}: header checksum ${stored}, computed ${sum}`);
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`a header field holds ${JSON.stringify(text)}, not an octal number`);
  return text === '' ? 0 : parseInt(text, 8);
}

function parsePax(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  for (let offset = 0; offset < body.length; ) {
    const space = body.indexOf(0x20, offset);
    const length = Number(body.subarray(offset, space).toString('ascii'));
    if (space < 0 || !Number.isInteger(length) || length <= 0 || offset + length > body.length) throw new Error('a malformed PAX record');
    const record = body.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}

/** Exact-length reads over a stream of chunks. */
class BlockReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #pending: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#iterator = chunks[Symbol.asyncIterator]();
  }

  /** Exactly `length` bytes; undefined at a clean end of stream; an error if it ends inside. */
  async read(length: number): Promise<Buffer | undefined> {
    while (this.#pending.length < length && !this.#done) {
      const next = await this.#iterator.next();
      if (next.done) this.#done = true;
      else this.#pending = Buffer.concat([this.#pending, Buffer.from(next.value)]);
    }
    if (this.#pending.length === 0 && this.#done) return undefined;
    if (this.#pending.length < length) throw new Error('the archive is truncated');
    const result = this.#pending.subarray(0, length);
    this.#pending = this.#pending.subarray(length);
    return result;
  }

  async readContent(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.contentParts(size)) parts.push(part);
    return Buffer.concat(parts);
  }

  /** `size` content bytes in parts of at most 64 KiB, then the padding is skipped. */
  async *contentParts(size: number): AsyncGenerator<Buffer> {
    for (let left = size; left > 0; ) {
      const part = await this.read(Math.min(left, 64 * 1024));
      if (part === undefined) throw new Error('the archive is truncated');
      left -= part.length;
      yield part;
    }
    const rest = size % BLOCK_SIZE;
    if (rest !== 0 && (await this.read(BLOCK_SIZE - rest)) === undefined) throw new Error('the archive is truncated');
  }
}
