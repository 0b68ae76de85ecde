import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { BoltRevisionTap, censusFindings } from '../etcd/bolt-revision-stream.js';
import { SnapshotTrailerVerifier } from '../etcd/trailer-verifier.js';
import { messageOf } from '../errors.js';
import { archiveEntryNames } from './snapshot-zip.js';
import type { CopyCheck } from '../model/snapshot.js';
import { validateRemovableName } from '../model/names.js';
import { SymlinkRefused, type OpenedFile, type SnapshotDirectory } from './snapshot-directory.js';
import { readAt, sha256Of, type RandomAccessFile } from './verify-zip.js';
import { MAX_TAIL_LENGTH, locateCentralDirectory, parseCentralDirectory, type CentralEntry } from './zip/directory-reader.js';
import { crc32 } from './zip/crc32.js';
import { LOCAL_HEADER_FIXED_LENGTH, METHOD_DEFLATE, SIGNATURE } from './zip/records.js';

/**
 * `verify --name NAME`: is the directory's NAME.zip intact (in the agent's /backup, or over SFTP)? Central directory and local header
 * readable, the snapshot entry inflates to its recorded size and CRC-32, and the etcd
 * snapshot inside passes etcd's SHA-256 trailer check, and its bbolt database yields the
 * etcd revision it holds (same pass); the state file's presence is reported. A bad copy is a result (`status: "bad"`, `problem`), not an agent failure.
 */
export async function verifySnapshotCopy(dir: SnapshotDirectory, name: string): Promise<CopyCheck> {
  validateRemovableName(name);
  const started = Date.now();
  const fileName = `${name}.zip`;
  const base = { ok: true as const, file: `${dir.displayDir}/${fileName}`, durationMs: 0 };
  const done = (result: Omit<CopyCheck, 'ok' | 'file' | 'durationMs'> & Partial<CopyCheck>): CopyCheck => ({ ...base, ...result, durationMs: Date.now() - started });
  let stats;
  let opened: OpenedFile;
  try {
    stats = await dir.lstat(fileName);
    if (stats === undefined) return done({ status: 'missing' });
    if (stats.isSymbolicLink()) return done({ status: 'bad', problem: 'it is a symlink (not followed)' });
    if (!stats.isFile()) return done({ status: 'bad', problem: 'not a regular file' });
    opened = await dir.openForReading(fileName);
  } catch (error) {
    if (error instanceof SymlinkRefused) return done({ status: 'bad', problem: 'it is a symlink (not followed)' });
    return done({ status: 'bad', problem: `cannot open it: ${messageOf(error)}` });
  }
  try {
    const { size } = await opened.stat();
    const sha256 = await sha256Of(opened, size);
    const described = { size, sha256, modified: stats.mtime.toISOString() };
    try {
      const checked = await checkArchive(randomAccessSource(opened, size), name);
      return done({ ...described, status: 'ok', ...checked });
    } catch (error) {
      return done({ ...described, status: 'bad', problem: messageOf(error) });
    }
  } finally {
    await opened.close();
  }
}

/**
 * A zip seen by random access: a node's file, or an S3 object read with ranged GETs
 * (s3-inventory.ts), so neither is ever held whole in memory.
 */
export interface ArchiveSource {
  size: number;
  /** Exactly `length` bytes at `position` (small: the tail, the directory, a local header). */
  readAt(position: number, length: number): Promise<Buffer>;
  /** Bytes start..end (inclusive) as a stream. */
  stream(start: number, end: number): Readable;
}

/** Any positional reader as an ArchiveSource: ranges are streamed in 1 MiB reads, one at a time. */
export function randomAccessSource(file: RandomAccessFile, size: number): ArchiveSource {
  return {
    size,
    readAt: (position, length) => readAt(file, position, length),
    stream: (start, end) => Readable.from(readRange(file, start, end)),
  };
}

async function* readRange(file: RandomAccessFile, start: number, end: number): AsyncGenerator<Buffer> {
  for (let position = start; position <= end; ) {
    const length = Math.min(RANGE_CHUNK_BYTES, end + 1 - position);
    const chunk = await readAt(file, position, length);
    position += length;
    yield chunk;
  }
}

const RANGE_CHUNK_BYTES = 1024 * 1024;

/** What a good copy holds: the etcd snapshot's size and SHA-256 (trailer checked), its etcd revision, whether the state file is in. */
export type ArchiveFindings = Required<Pick<CopyCheck, 'snapshotSize' | 'snapshotSha256' | 'revision' | 'stateFileIncluded'>> & Pick<CopyCheck, 'census' | 'censusProblem'>;

/** Throws an Error whose message is the problem (one line) when the copy is bad. */
export async function checkArchive(source: ArchiveSource, name: string): Promise<ArchiveFindings> {
  const names = archiveEntryNames(name);
  const { entries, entry } = await snapshotEntryOf(source, name);
  const verifier = new SnapshotTrailerVerifier(entry.name);
  const revision = new BoltRevisionTap({ census: true });
  await checkEntry(source, entry, [verifier, revision]);
  // Every other entry (the state file) must inflate to its recorded size and CRC too.
  for (const other of entries) if (other !== entry) await checkEntry(source, other);
  return {
    snapshotSize: verifier.verified.snapshotSize,
    snapshotSha256: verifier.verified.snapshotSha256,
    revision: revision.result.revision,
    ...censusFindings(revision.result),
    stateFileIncluded: entries.some((candidate) => candidate.name === names.stateFile),
  };
}

/**
 * The restore drill's extraction: the snapshot entry inflated into the stream `open` returns
 * (given the entry first, so its size can be checked against the free space), its size and
 * CRC-32 checked and nothing else, so that etcd's own restore judges the snapshot inside
 * (its SHA-256 trailer, its database). Throws an Error whose message is the problem.
 */
export async function extractSnapshotEntry(source: ArchiveSource, name: string, open: (entry: CentralEntry) => Promise<Transform>): Promise<CentralEntry> {
  const { entry } = await snapshotEntryOf(source, name);
  await checkEntry(source, entry, [await open(entry)]);
  return entry;
}

/** The zip's entries and its snapshot entry `/backup/NAME`; throws the problem when either cannot be had. */
async function snapshotEntryOf(source: ArchiveSource, name: string): Promise<{ entries: CentralEntry[]; entry: CentralEntry }> {
  const snapshotName = archiveEntryNames(name).snapshot;
  let entries;
  try {
    entries = await readDirectory(source);
  } catch (error) {
    throw new Error(`the zip is damaged or truncated: ${messageOf(error)}`);
  }
  const entry = entries.find((candidate) => candidate.name === snapshotName);
  if (entry === undefined) throw new Error(`the zip has no entry ${snapshotName} (it has: ${entries.map((e) => e.name).join(', ') || 'none'})`);
  return { entries, entry };
}

async function readDirectory(source: ArchiveSource): Promise<CentralEntry[]> {
  const tailLength = Math.min(source.size, MAX_TAIL_LENGTH);
  const tail = await source.readAt(source.size - tailLength, tailLength);
  const location = locateCentralDirectory(tail, source.size - tailLength);
  if (location.directoryOffset + location.directorySize !== location.endRecordsOffset) {
    throw new Error('the central directory does not end where the end records start');
  }
  const directory = await source.readAt(location.directoryOffset, location.directorySize);
  return parseCentralDirectory(directory, location.entryCount);
}

/** Inflates one entry, checking its size and CRC-32 against the central directory; `through` sees the inflated bytes. */
async function checkEntry(source: ArchiveSource, entry: CentralEntry, through: Transform[] = []): Promise<void> {
  const header = await source.readAt(entry.localHeaderOffset, LOCAL_HEADER_FIXED_LENGTH).catch(() => undefined);
  if (header === undefined || header.readUInt32LE(0) !== SIGNATURE.localFileHeader) {
    throw new Error(`no local header for ${entry.name} at offset ${entry.localHeaderOffset}`);
  }
  const dataStart = entry.localHeaderOffset + LOCAL_HEADER_FIXED_LENGTH + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (dataStart + entry.compressedSize > source.size) throw new Error(`${entry.name} runs past the end of the file (truncated)`);
  if (entry.method !== METHOD_DEFLATE && entry.method !== 0) throw new Error(`${entry.name} uses compression method ${entry.method}`);
  let crc = 0;
  let inflated = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      crc = crc32(chunk, crc);
      inflated += chunk.length;
      callback(null, chunk);
    },
  });
  const drain = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const stages: Array<NodeJS.ReadWriteStream> = [...(entry.method === METHOD_DEFLATE ? [createInflateRaw()] : []), count, ...through];
  if (entry.compressedSize > 0) {
    const stream = source.stream(dataStart, dataStart + entry.compressedSize - 1);
    try {
      await pipeline([stream, ...stages, drain]);
    } catch (error) {
      throw new Error(`${entry.name}: ${messageOf(error)}`);
    }
  }
  if (inflated !== entry.uncompressedSize) throw new Error(`${entry.name} inflates to ${inflated} bytes, the zip records ${entry.uncompressedSize}`);
  if (crc >>> 0 !== entry.crc32 >>> 0) throw new Error(`${entry.name} fails its CRC-32 check`);
}
