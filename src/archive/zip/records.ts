/**
 * Byte layouts of the ZIP records we write (PKWARE APPNOTE 6.3), as Go's archive/zip
 * writes them for streamed entries: local header with sizes deferred to a data
 * descriptor, ZIP64 only where a size or offset does not fit in 32 bits.
 * Pure functions: values in, bytes out.
 */

export const MAX_UINT32 = 0xffffffff;
export const MAX_UINT16 = 0xffff;

export const SIGNATURE = {
  localFileHeader: 0x04034b50,
  dataDescriptor: 0x08074b50,
  centralDirectoryHeader: 0x02014b50,
  zip64EndOfCentralDirectory: 0x06064b50,
  zip64EndLocator: 0x07064b50,
  endOfCentralDirectory: 0x06054b50,
} as const;

export const FLAG_DATA_DESCRIPTOR = 0x0008;
export const FLAG_UTF8 = 0x0800;
export const METHOD_DEFLATE = 8;
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
const CREATOR_UNIX = 3;
const EXTRA_ZIP64 = 0x0001;
const EXTRA_EXTENDED_TIMESTAMP = 0x5455;
const S_IFREG = 0o100000;

export const LOCAL_HEADER_FIXED_LENGTH = 30;
export const CENTRAL_HEADER_FIXED_LENGTH = 46;
export const END_OF_CENTRAL_DIRECTORY_LENGTH = 22;
export const ZIP64_END_LENGTH = 56;
export const ZIP64_LOCATOR_LENGTH = 20;

export interface EntryHeader {
  /** Stored as is, UTF-8 (rke-tools stores absolute paths such as /backup/NAME). */
  name: string;
  /** Permission bits of the file the entry restores to, e.g. 0o600. */
  mode: number;
  modified: Date;
}

export interface EntryRecord extends EntryHeader {
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

export interface DirectoryEnd {
  entryCount: number;
  directoryOffset: number;
  directorySize: number;
}

/** Little-endian field writer over a buffer of known length. */
class FieldWriter {
  readonly bytes: Buffer;
  #offset = 0;

  constructor(length: number) {
    this.bytes = Buffer.alloc(length);
  }

  uint16(value: number): this {
    this.#offset = this.bytes.writeUInt16LE(value, this.#offset);
    return this;
  }

  uint32(value: number): this {
    this.#offset = this.bytes.writeUInt32LE(value >>> 0, this.#offset);
    return this;
  }

  uint64(value: number): this {
    this.#offset = this.bytes.writeBigUInt64LE(BigInt(value), this.#offset);
    return this;
  }

  raw(value: Uint8Array): this {
    this.bytes.set(value, this.#offset);
    this.#offset += value.length;
    return this;
  }

  done(): Buffer {
    if (this.#offset !== this.bytes.length) throw new Error(`zip record filled ${this.#offset} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

export function encodeName(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length > MAX_UINT16) throw new Error(`zip entry name must be 1..65535 bytes: ${JSON.stringify(name)}`);
  return bytes;
}

/** MS-DOS date and time fields (2-second resolution, 1980..2107), from the UTC clock. */
export function dosDateTime(when: Date): { date: number; time: number } {
  const year = when.getUTCFullYear();
  if (Number.isNaN(year) || year < 1980) return { date: (1 << 5) | 1, time: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29 };
  return {
    date: ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | (when.getUTCSeconds() >> 1),
  };
}

/** Info-ZIP's extended timestamp (0x5455): the exact modification time in Unix seconds. */
function extendedTimestamp(modified: Date): Buffer {
  const seconds = Math.min(MAX_UINT32, Math.max(0, Math.floor(modified.getTime() / 1000)));
  return new FieldWriter(9)
    .uint16(EXTRA_EXTENDED_TIMESTAMP)
    .uint16(5)
    .raw(Uint8Array.of(0x01)) // flags: modification time present
    .uint32(seconds)
    .done();
}

export function sizesNeedZip64(record: Pick<EntryRecord, 'compressedSize' | 'uncompressedSize'>): boolean {
  return record.compressedSize >= MAX_UINT32 || record.uncompressedSize >= MAX_UINT32;
}

/** Sizes and CRC are not known yet when this is written: they follow the data (flag bit 3). */
export function encodeLocalFileHeader(header: EntryHeader): Buffer {
  const name = encodeName(header.name);
  const extra = extendedTimestamp(header.modified);
  const { date, time } = dosDateTime(header.modified);
  return new FieldWriter(LOCAL_HEADER_FIXED_LENGTH + name.length + extra.length)
    .uint32(SIGNATURE.localFileHeader)
    .uint16(VERSION_DEFAULT)
    .uint16(FLAG_DATA_DESCRIPTOR | FLAG_UTF8)
    .uint16(METHOD_DEFLATE)
    .uint16(time)
    .uint16(date)
    .uint32(0) // crc-32: in the data descriptor
    .uint32(0) // compressed size: in the data descriptor
    .uint32(0) // uncompressed size: in the data descriptor
    .uint16(name.length)
    .uint16(extra.length)
    .raw(name)
    .raw(extra)
    .done();
}

/** 64-bit sizes when they need it (as Go's archive/zip does); readers take sizes from the central directory. */
export function encodeDataDescriptor(record: EntryRecord, forceZip64 = false): Buffer {
  if (forceZip64 || sizesNeedZip64(record)) {
    return new FieldWriter(24)
      .uint32(SIGNATURE.dataDescriptor)
      .uint32(record.crc32)
      .uint64(record.compressedSize)
      .uint64(record.uncompressedSize)
      .done();
  }
  return new FieldWriter(16)
    .uint32(SIGNATURE.dataDescriptor)
    .uint32(record.crc32)
    .uint32(record.compressedSize)
    .uint32(record.uncompressedSize)
    .done();
}

/**
 * The ZIP64 extra field holds exactly the values whose 32-bit fields are set to
 * 0xFFFFFFFF, in the order uncompressed size, compressed size, local header offset.
 */
function zip64Extra(values: number[]): Buffer {
  const writer = new FieldWriter(4 + 8 * values.length).uint16(EXTRA_ZIP64).uint16(8 * values.length);
  for (const value of values) writer.uint64(value);
  return writer.done();
}

export function encodeCentralDirectoryHeader(record: EntryRecord, forceZip64 = false): Buffer {
  const name = encodeName(record.name);
  const zip64Sizes = forceZip64 || sizesNeedZip64(record);
  const zip64Offset = forceZip64 || record.localHeaderOffset >= MAX_UINT32;
  const zip64Values = [
    ...(zip64Sizes ? [record.uncompressedSize, record.compressedSize] : []),
    ...(zip64Offset ? [record.localHeaderOffset] : []),
  ];
  const extra = Buffer.concat([
    ...(zip64Values.length > 0 ? [zip64Extra(zip64Values)] : []),
    extendedTimestamp(record.modified),
  ]);
  const version = zip64Values.length > 0 ? VERSION_ZIP64 : VERSION_DEFAULT;
  const { date, time } = dosDateTime(record.modified);
  return new FieldWriter(CENTRAL_HEADER_FIXED_LENGTH + name.length + extra.length)
    .uint32(SIGNATURE.centralDirectoryHeader)
    .uint16((CREATOR_UNIX << 8) | version)
    .uint16(version)
    .uint16(FLAG_DATA_DESCRIPTOR | FLAG_UTF8)
    .uint16(METHOD_DEFLATE)
    .uint16(time)
    .uint16(date)
    .uint32(record.crc32)
    .uint32(zip64Sizes ? MAX_UINT32 : record.compressedSize)
    .uint32(zip64Sizes ? MAX_UINT32 : record.uncompressedSize)
    .uint16(name.length)
    .uint16(extra.length)
    .uint16(0) // comment length
    .uint16(0) // disk number start
    .uint16(0) // internal attributes
    .uint32(((S_IFREG | record.mode) << 16) >>> 0) // Unix mode in the high half
    .uint32(zip64Offset ? MAX_UINT32 : record.localHeaderOffset)
    .raw(name)
    .raw(extra)
    .done();
}

export function directoryEndNeedsZip64(end: DirectoryEnd): boolean {
  return end.entryCount >= MAX_UINT16 || end.directorySize >= MAX_UINT32 || end.directoryOffset >= MAX_UINT32;
}

/** [ZIP64 end record + locator +] end of central directory record; written right after the central directory. */
export function encodeDirectoryEnd(end: DirectoryEnd, forceZip64 = false): Buffer {
  if (!forceZip64 && !directoryEndNeedsZip64(end)) return encodeEndRecord(end);
  const zip64EndOffset = end.directoryOffset + end.directorySize;
  const zip64End = new FieldWriter(ZIP64_END_LENGTH)
    .uint32(SIGNATURE.zip64EndOfCentralDirectory)
    .uint64(ZIP64_END_LENGTH - 12) // size of the rest of this record
    .uint16((CREATOR_UNIX << 8) | VERSION_ZIP64)
    .uint16(VERSION_ZIP64)
    .uint32(0) // this disk
    .uint32(0) // disk with the central directory
    .uint64(end.entryCount) // entries on this disk
    .uint64(end.entryCount) // entries in total
    .uint64(end.directorySize)
    .uint64(end.directoryOffset)
    .done();
  const locator = new FieldWriter(ZIP64_LOCATOR_LENGTH)
    .uint32(SIGNATURE.zip64EndLocator)
    .uint32(0) // disk with the ZIP64 end record
    .uint64(zip64EndOffset)
    .uint32(1) // total disks
    .done();
  // All 32-bit fields at their maximum: "look in the ZIP64 record" (as Go writes it).
  const markers = encodeEndRecord({ entryCount: MAX_UINT16, directorySize: MAX_UINT32, directoryOffset: MAX_UINT32 });
  return Buffer.concat([zip64End, locator, markers]);
}

function encodeEndRecord(end: DirectoryEnd): Buffer {
  return new FieldWriter(END_OF_CENTRAL_DIRECTORY_LENGTH)
    .uint32(SIGNATURE.endOfCentralDirectory)
    .uint16(0) // this disk
    .uint16(0) // disk with the central directory
    .uint16(end.entryCount)
    .uint16(end.entryCount)
    .uint32(end.directorySize)
    .uint32(end.directoryOffset)
    .uint16(0) // comment length
    .done();
}
