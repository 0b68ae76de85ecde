import {
  CENTRAL_HEADER_FIXED_LENGTH,
  END_OF_CENTRAL_DIRECTORY_LENGTH,
  MAX_UINT16,
  MAX_UINT32,
  SIGNATURE,
  ZIP64_END_LENGTH,
  ZIP64_LOCATOR_LENGTH,
} from './records.js';

/**
 * Reads a ZIP's central directory back (to check what we wrote). Pure: the caller
 * reads the bytes. Single-disk archives only, as we write them.
 */

/** How many bytes from the end of a file hold the end records, whatever the comment. */
export const MAX_TAIL_LENGTH = END_OF_CENTRAL_DIRECTORY_LENGTH + MAX_UINT16 + ZIP64_LOCATOR_LENGTH + ZIP64_END_LENGTH;

export interface DirectoryLocation {
  entryCount: number;
  directoryOffset: number;
  directorySize: number;
  /** Where the end records (ZIP64 or not) start: directoryOffset + directorySize in a well-formed file. */
  endRecordsOffset: number;
  zip64: boolean;
}

export interface CentralEntry {
  name: string;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Unix mode (type and permission bits), from the high half of the external attributes. */
  unixMode: number;
}

export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
}

/** `tail` is the file's last bytes, starting at file offset `tailOffset`. */
export function locateCentralDirectory(tail: Buffer, tailOffset: number): DirectoryLocation {
  const endPosition = findEndRecord(tail);
  const entryCount = tail.readUInt16LE(endPosition + 10);
  const directorySize = tail.readUInt32LE(endPosition + 12);
  const directoryOffset = tail.readUInt32LE(endPosition + 16);
  const usesZip64 = entryCount === MAX_UINT16 || directorySize === MAX_UINT32 || directoryOffset === MAX_UINT32;
  if (!usesZip64) {
    return { entryCount, directoryOffset, directorySize, endRecordsOffset: tailOffset + endPosition, zip64: false };
  }
  return readZip64End(tail, tailOffset, endPosition);
}

function findEndRecord(tail: Buffer): number {
  for (let position = tail.length - END_OF_CENTRAL_DIRECTORY_LENGTH; position >= 0; position--) {
    if (tail.readUInt32LE(position) !== SIGNATURE.endOfCentralDirectory) continue;
    const commentLength = tail.readUInt16LE(position + 20);
    if (position + END_OF_CENTRAL_DIRECTORY_LENGTH + commentLength === tail.length) return position;
  }
  throw new ZipFormatError('no end of central directory record');
}

function readZip64End(tail: Buffer, tailOffset: number, endPosition: number): DirectoryLocation {
  const locatorPosition = endPosition - ZIP64_LOCATOR_LENGTH;
  if (locatorPosition < 0 || tail.readUInt32LE(locatorPosition) !== SIGNATURE.zip64EndLocator) {
    throw new ZipFormatError('ZIP64 markers without a ZIP64 end locator');
  }
  const zip64EndOffset = readUint64(tail, locatorPosition + 8);
  const position = zip64EndOffset - tailOffset;
  if (position < 0 || position + ZIP64_END_LENGTH > locatorPosition) {
    throw new ZipFormatError('the ZIP64 end record is not where its locator says');
  }
  if (tail.readUInt32LE(position) !== SIGNATURE.zip64EndOfCentralDirectory) {
    throw new ZipFormatError('no ZIP64 end of central directory record');
  }
  return {
    entryCount: readUint64(tail, position + 32),
    directorySize: readUint64(tail, position + 40),
    directoryOffset: readUint64(tail, position + 48),
    endRecordsOffset: zip64EndOffset,
    zip64: true,
  };
}

export function parseCentralDirectory(directory: Buffer, entryCount: number): CentralEntry[] {
  const entries: CentralEntry[] = [];
  let position = 0;
  for (let index = 0; index < entryCount; index++) {
    const { entry, length } = parseCentralHeader(directory, position);
    entries.push(entry);
    position += length;
  }
  if (position !== directory.length) throw new ZipFormatError('the central directory has bytes after its last entry');
  return entries;
}

function parseCentralHeader(directory: Buffer, position: number): { entry: CentralEntry; length: number } {
  if (position + CENTRAL_HEADER_FIXED_LENGTH > directory.length) throw new ZipFormatError('the central directory is truncated');
  if (directory.readUInt32LE(position) !== SIGNATURE.centralDirectoryHeader) {
    throw new ZipFormatError(`no central directory header at directory offset ${position}`);
  }
  const nameLength = directory.readUInt16LE(position + 28);
  const extraLength = directory.readUInt16LE(position + 30);
  const commentLength = directory.readUInt16LE(position + 32);
  const length = CENTRAL_HEADER_FIXED_LENGTH + nameLength + extraLength + commentLength;
  if (position + length > directory.length) throw new ZipFormatError('the central directory is truncated');
  const nameStart = position + CENTRAL_HEADER_FIXED_LENGTH;
  const extra = directory.subarray(nameStart + nameLength, nameStart + nameLength + extraLength);
  const zip64 = zip64Values(extra);
  const take = (value: number) => (value === MAX_UINT32 ? nextZip64Value(zip64) : value);
  const entry: CentralEntry = {
    name: directory.toString('utf8', nameStart, nameStart + nameLength),
    flags: directory.readUInt16LE(position + 8),
    method: directory.readUInt16LE(position + 10),
    crc32: directory.readUInt32LE(position + 16),
    uncompressedSize: take(directory.readUInt32LE(position + 24)),
    compressedSize: 0,
    localHeaderOffset: 0,
    unixMode: directory.readUInt32LE(position + 38) >>> 16,
  };
  // The ZIP64 values come in the order uncompressed, compressed, offset.
  entry.compressedSize = take(directory.readUInt32LE(position + 20));
  entry.localHeaderOffset = take(directory.readUInt32LE(position + 42));
  return { entry, length };
}

function zip64Values(extra: Buffer): number[] {
  for (let position = 0; position + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(position);
    const size = extra.readUInt16LE(position + 2);
    if (id === 0x0001) {
      const values: number[] = [];
      for (let offset = 0; offset + 8 <= size; offset += 8) values.push(readUint64(extra, position + 4 + offset));
      return values;
    }
    position += 4 + size;
  }
  return [];
}

function nextZip64Value(values: number[]): number {
  const value = values.shift();
  if (value === undefined) throw new ZipFormatError('a 32-bit field says ZIP64 but the ZIP64 extra field lacks its value');
  return value;
}

function readUint64(buffer: Buffer, position: number): number {
  const value = buffer.readBigUInt64LE(position);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError('a ZIP64 value is too large');
  return Number(value);
}
