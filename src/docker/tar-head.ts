/**
 * The first entry of a tar stream, as Docker's archive API sends one file: its type,
 * mode, size and its first bytes. Enough to check a file on a node without copying it
 * whole. Handles the extended headers Docker's Go writer emits for long names or big
 * sizes (PAX 'x'/'g', GNU 'L'/'K') and base-256 sizes.
 */
export type TarEntryType = 'file' | 'symlink' | 'directory' | 'other';

export interface TarHead {
  type: TarEntryType;
  mode: number;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** The entry's first bytes (as many as were asked for and available). */
  data: Buffer;
}

const BLOCK = 512;

/**
 * Parses `bytes` (the start of a tar stream). Returns undefined while more bytes are
 * needed to see the first entry's header and `wantData` bytes of its data (or all of
 * it, if shorter); throws on a malformed header.
 */
export function parseTarHead(bytes: Buffer, wantData: number): TarHead | undefined {
  let offset = 0;
  let paxSize: number | undefined;
  for (;;) {
    if (bytes.length < offset + BLOCK) return undefined;
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) throw new Error('the archive is empty');
    if (!checksumMatches(header)) throw new Error('the archive header is corrupt');
    const typeflag = String.fromCharCode(header[156]!);
    const size = readNumber(header.subarray(124, 136));
    const dataStart = offset + BLOCK;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
      if (bytes.length < next) return undefined;
      if (typeflag === 'x') paxSize = paxNumber(bytes.subarray(dataStart, dataStart + size), 'size') ?? paxSize;
      offset = next;
      continue;
    }
    const entrySize = paxSize ?? size;
    const available = Math.min(wantData, entrySize);
    if (bytes.length < dataStart + available) return undefined;
    return {
      type: typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '2' ? 'symlink' : typeflag === '5' ? 'directory' : 'other',
      mode: readNumber(header.subarray(100, 108)),
      size: entrySize,
      mtime: readNumber(header.subarray(136, 148)),
      data: Buffer.from(bytes.subarray(dataStart, dataStart + available)),
    };
  }
}

/** Octal text, or base-256 (first byte's high bit set) for values that do not fit. */
function readNumber(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumMatches(header: Buffer): boolean {
  let sum = 0;
  for (let index = 0; index < BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : header[index]!;
  return readNumber(header.subarray(148, 156)) === sum;
}

/** PAX records: "<len> <key>=<value>\n". */
function paxNumber(records: Buffer, key: string): number | undefined {
  for (const line of records.toString('utf8').split('\n')) {
    const match = /^\d+ ([^=]+)=(.*)$/.exec(line);
    if (match?.[1] === key && /^\d+$/.test(match[2]!)) return Number(match[2]);
  }
  return undefined;
}

/** What a zip written by rke-tools (Go's archive/zip) or our agent starts with: a local header for `/backup/NAME`. */
export function zipFirstEntryName(head: Buffer): string | undefined {
  if (head.length < 30 || head.readUInt32LE(0) !== 0x04034b50) return undefined;
  const nameLength = head.readUInt16LE(26);
  if (head.length < 30 + nameLength) return undefined;
  return head.subarray(30, 30 + nameLength).toString('utf8');
}

/**
 * A tar stream holding one regular file `name` (owner root) with `mode`, for Docker's
 * putArchive. Names longer than the 100-byte header field go in a PAX record.
 */
export function singleFileTar(name: string, data: Buffer, mode: number, mtimeSeconds: number): Buffer {
  const blocks: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) {
    const record = paxRecord('path', name);
    blocks.push(tarHeader('PaxHeaders/entry', record.length, 0o644, mtimeSeconds, 'x'), padded(record));
  }
  blocks.push(tarHeader(name, data.length, mode, mtimeSeconds, '0'), padded(data), Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.byteLength(` ${key}=${value}\n`);
  let length = body + 1;
  while (String(length).length + body !== length) length = String(length).length + body;
  return Buffer.from(`${length} ${key}=${value}\n`);
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

function tarHeader(name: string, size: number, mode: number, mtime: number, typeflag: string): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(Buffer.from(name).subarray(0, 100).toString('latin1'), 0, 'latin1');
  header.write(octal(mode, 8), 100, 'latin1');
  header.write(octal(0, 8), 108, 'latin1');
  header.write(octal(0, 8), 116, 'latin1');
  header.write(octal(size, 12), 124, 'latin1');
  header.write(octal(mtime, 12), 136, 'latin1');
  header.write(typeflag, 156, 'latin1');
  header.write('ustar\x0000', 257, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 'latin1');
  return header;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}
