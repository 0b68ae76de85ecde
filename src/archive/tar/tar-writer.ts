/**
 * A small streaming tar writer (POSIX ustar, with a PAX extended header only for a
 * name, link target or id that does not fit ustar's fields), for the PKI bundle.
 *
 * Ours rather than a library's because it is about 150 lines, the bundle holds a
 * handful of small files, and the agent image stays free of another dependency; what
 * it writes is read in the tests by GNU tar and Python's tarfile.
 */

export const BLOCK_SIZE = 512;

export type TarEntryType = 'file' | 'directory' | 'symlink';

export interface TarEntryHeader {
  /** Relative path inside the archive, '/'-separated; a directory's name ends with '/'. */
  name: string;
  type: TarEntryType;
  /** Permission bits (e.g. 0o600). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length: files only; 0 for directories and symlinks. */
  size: number;
  /** Modification time, whole seconds since the epoch. */
  mtimeSeconds: number;
  /** Symlinks: the link's target. */
  linkName?: string;
}

const TYPE_FLAGS: Record<TarEntryType, string> = { file: '0', directory: '5', symlink: '2' };
const PAX_TYPE_FLAG = 'x';
/** Largest value of an 8-byte octal field (7 digits) and of the 12-byte size/mtime fields (11 digits). */
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/**
 * The header block(s) of one entry: a PAX header first when a value does not fit
 * ustar. Throws for what tar cannot express here (sizes of 8 GiB and more).
 */
export function entryHeaderBlocks(entry: TarEntryHeader): Buffer {
  validateEntry(entry);
  const pax: Array<[string, string]> = [];
  let name = entry.name;
  let prefix = '';
  const split = splitUstarName(entry.name);
  if (split === undefined) {
    pax.push(['path', entry.name]);
    name = truncateBytes(entry.name, 100);
  } else {
    ({ name, prefix } = split);
  }
  let linkName = entry.linkName ?? '';
  if (Buffer.byteLength(linkName) > 100) {
    pax.push(['linkpath', linkName]);
    linkName = truncateBytes(linkName, 100);
  }
  let uid = entry.uid;
  let gid = entry.gid;
  if (uid > MAX_OCTAL_7) {
    pax.push(['uid', String(uid)]);
    uid = 0;
  }
  if (gid > MAX_OCTAL_7) {
    pax.push(['gid', String(gid)]);
    gid = 0;
  }
  const main = ustarHeader({ ...entry, uid, gid, linkName }, name, prefix, TYPE_FLAGS[entry.type]);
  if (pax.length === 0) return main;
  const records = Buffer.from(pax.map(([key, value]) => paxRecord(key, value)).join(''), 'utf8');
  const paxName = truncateBytes(`PaxHeader/${lastSegment(entry.name)}`, 100);
  const paxHeader = ustarHeader(
    { name: paxName, type: 'file', mode: 0o644, uid: 0, gid: 0, size: records.length, mtimeSeconds: entry.mtimeSeconds, linkName: '' },
    paxName,
    '',
    PAX_TYPE_FLAG,
  );
  return Buffer.concat([paxHeader, records, padding(records.length), main]);
}

/** Zero bytes that bring `size` content bytes to a whole number of blocks. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK_SIZE;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK_SIZE - rest);
}

/** The end of the archive: two zero blocks. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK_SIZE);
}

/** A source of one entry's content, read while the archive is written. */
export type ContentSource = AsyncIterable<Uint8Array>;

export interface TarInput {
  header: TarEntryHeader;
  /** Files: the content; it must yield exactly header.size bytes. */
  content?: () => ContentSource;
}

/**
 * The archive's bytes, entry by entry: header, content (checked against the declared
 * size, so a file that grows or shrinks while it is read fails the archive), padding,
 * and the end-of-archive blocks.
 */
export async function* tarStream(entries: Iterable<TarInput> | AsyncIterable<TarInput>): AsyncGenerator<Buffer> {
  for await (const { header, content } of entries) {
    yield entryHeaderBlocks(header);
    if (header.type !== 'file') continue;
    let written = 0;
    if (content !== undefined) {
      for await (const chunk of content()) {
        written += chunk.length;
        if (written > header.size) break;
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
    }
    if (written !== header.size) {
      throw new TarSizeError(header.name, header.size, written);
    }
    yield padding(header.size);
  }
  yield endOfArchive();
}

/** A file's content did not have the size its header announced (it changed while it was read). */
export class TarSizeError extends Error {
  override readonly name = 'TarSizeError';
  constructor(
    readonly entryName: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${entryName} changed while it was archived: ${expected} bytes expected, ${actual > expected ? 'more' : actual} read`);
  }
}

function validateEntry(entry: TarEntryHeader): void {
  if (entry.name === '' || entry.name.startsWith('/') || entry.name.split('/').includes('..')) {
    throw new Error(`tar: entry name ${JSON.stringify(entry.name)} must be a relative path without '..'`);
  }
  if (entry.name.includes('\0') || (entry.linkName ?? '').includes('\0')) throw new Error('tar: names must not contain NUL');
  if ((entry.type === 'directory') !== entry.name.endsWith('/')) {
    throw new Error(`tar: ${JSON.stringify(entry.name)}: only directory names end with '/'`);
  }
  if (entry.type !== 'file' && entry.size !== 0) throw new Error(`tar: ${entry.name}: only files have content`);
  if (entry.type === 'symlink' && !entry.linkName) throw new Error(`tar: ${entry.name}: a symlink needs a target`);
  for (const [field, value, max] of [
    ['size', entry.size, MAX_OCTAL_11],
    ['mtime', entry.mtimeSeconds, MAX_OCTAL_11],
    ['mode', entry.mode, 0o7777],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`tar: ${entry.name}: ${field} ${value} is out of range`);
  }
  for (const [field, value] of [['uid', entry.uid], ['gid', entry.gid]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`tar: ${entry.name}: ${field} ${value} is out of range`);
  }
}

/** ustar keeps names up to 100 bytes, or up to 255 split at a '/' into prefix (155) and name (100). */
function splitUstarName(full: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(full) <= 100) return { name: full, prefix: '' };
  // A directory's trailing '/' stays with the name part.
  for (let index = full.lastIndexOf('/', full.length - 2); index > 0; index = full.lastIndexOf('/', index - 1)) {
    const prefix = full.slice(0, index);
    const name = full.slice(index + 1);
    if (Buffer.byteLength(name) > 100) return undefined;
    if (Buffer.byteLength(prefix) <= 155 && name !== '') return { name, prefix };
  }
  return undefined;
}

function ustarHeader(entry: TarEntryHeader & { linkName: string }, name: string, prefix: string, typeFlag: string): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 100, 8, entry.mode);
  writeOctal(block, 108, 8, entry.uid);
  writeOctal(block, 116, 8, entry.gid);
  writeOctal(block, 124, 12, entry.size);
  writeOctal(block, 136, 12, entry.mtimeSeconds);
  block.fill(0x20, 148, 156); // the checksum field counts as spaces while summing
  block.write(typeFlag, 156, 1, 'ascii');
  block.write(entry.linkName, 157, 100, 'utf8');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  // Six octal digits, NUL, space: what GNU tar writes.
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** `length - 1` octal digits, zero-padded, then NUL. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** "LEN key=value\n", where LEN counts the whole record, its own digits included. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length + bodyLength !== length) length = bodyLength + String(length).length;
  return `${length}${body}`;
}

function lastSegment(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The longest prefix of `text` that is at most `bytes` bytes of UTF-8, never cutting a character. */
function truncateBytes(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let result = '';
  for (const character of text) {
    if (Buffer.byteLength(result + character) > bytes) break;
    result += character;
  }
  return result;
}
