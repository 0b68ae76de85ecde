import { createHash } from 'node:crypto';
import { OperatorError, messageOf } from '../errors.js';
import { MAX_TAIL_LENGTH, locateCentralDirectory, parseCentralDirectory, type CentralEntry } from './zip/directory-reader.js';
import { SIGNATURE } from './zip/records.js';
import type { FinishedZip } from './zip/zip-writer.js';

/**
 * What the read-back needs of a file: its size and positional reads. A local
 * FileHandle is one; so is a file on a node read over SFTP (ssh/sftp.ts).
 */
export interface RandomAccessFile {
  stat(): Promise<{ size: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

export interface ArchiveDigest {
  size: number;
  sha256: string;
}

const READ_CHUNK = 1024 * 1024;

/**
 * Reads the written archive back from the file: its size must be what was written,
 * its central directory must list exactly the entries written (names, CRCs, sizes,
 * offsets, each offset holding a local header). Returns the file's size and SHA-256.
 */
export async function verifyArchive(file: RandomAccessFile, written: FinishedZip, displayPath: string): Promise<ArchiveDigest> {
  const size = await verifyArchiveLayout(file, written, displayPath);
  try {
    return { size, sha256: await sha256Of(file, size) };
  } catch (error) {
    throw readBackFailure(displayPath, messageOf(error));
  }
}

/** The read-back's checks but the content's: size, central directory, local headers. Returns the size. */
export async function verifyArchiveLayout(file: RandomAccessFile, written: FinishedZip, displayPath: string): Promise<number> {
  const fail = (problem: string) => readBackFailure(displayPath, problem);
  const { size } = await file.stat();
  if (size !== written.size) throw fail(`the file has ${size} bytes, ${written.size} were written`);
  let entries: CentralEntry[];
  try {
    entries = await readCentralDirectory(file, size);
  } catch (error) {
    throw fail(messageOf(error));
  }
  const problem = directoryMismatch(entries, written);
  if (problem !== undefined) throw fail(problem);
  for (const entry of entries) {
    if ((await readUint32(file, entry.localHeaderOffset)) !== SIGNATURE.localFileHeader) {
      throw fail(`no local header for ${entry.name} at offset ${entry.localHeaderOffset}`);
    }
  }
  return size;
}

export function readBackFailure(displayPath: string, problem: string): OperatorError {
  return new OperatorError(`${displayPath} failed its read-back check: ${problem}`);
}

export async function readCentralDirectory(file: RandomAccessFile, size: number): Promise<CentralEntry[]> {
  const tailLength = Math.min(size, MAX_TAIL_LENGTH);
  const tail = await readAt(file, size - tailLength, tailLength);
  const location = locateCentralDirectory(tail, size - tailLength);
  if (location.directoryOffset + location.directorySize !== location.endRecordsOffset) {
    throw new Error('the central directory does not end where the end records start');
  }
  const directory = await readAt(file, location.directoryOffset, location.directorySize);
  return parseCentralDirectory(directory, location.entryCount);
}

export function directoryMismatch(entries: readonly CentralEntry[], written: FinishedZip): string | undefined {
  const describe = (entry: Pick<CentralEntry, 'name' | 'crc32' | 'compressedSize' | 'uncompressedSize' | 'localHeaderOffset'>) =>
    JSON.stringify([entry.name, entry.crc32, entry.compressedSize, entry.uncompressedSize, entry.localHeaderOffset]);
  const found = entries.map(describe);
  const expected = written.entries.map(describe);
  if (found.join() === expected.join()) return undefined;
  return `the central directory lists ${found.join(', ') || 'nothing'}; expected ${expected.join(', ')}`;
}

export async function readAt(file: RandomAccessFile, position: number, length: number): Promise<Buffer> {
  return readInto(file, Buffer.alloc(length), position, length);
}

/** Fills `buffer[0, length)` from `position` (reads may come back short, over SFTP especially); returns that part of it. */
export async function readInto(file: RandomAccessFile, buffer: Buffer, position: number, length: number): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`the file ends before offset ${position + length}`);
    done += bytesRead;
  }
  return buffer.subarray(0, length);
}

async function readUint32(file: RandomAccessFile, position: number): Promise<number> {
  return (await readAt(file, position, 4)).readUInt32LE(0);
}

/** SHA-256 of the file's first `size` bytes, read through one reused buffer. */
export async function sha256Of(file: RandomAccessFile, size: number, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(READ_CHUNK);
  for (let position = 0; position < size; ) {
    signal?.throwIfAborted();
    const { bytesRead } = await file.read(buffer, 0, Math.min(READ_CHUNK, size - position), position);
    if (bytesRead === 0) throw new Error(`the file ends at ${position} while reading it back`);
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}
