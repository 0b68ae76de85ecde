import type { Readable } from 'node:stream';
import { BoltRevisionTap, censusFindings } from '../etcd/bolt-revision-stream.js';
import type { Census } from '../model/census.js';
import { SnapshotTrailerVerifier, type VerifiedSnapshot } from '../etcd/trailer-verifier.js';
import { writeFileAtomically, type AtomicTarget } from './atomic-file.js';
import { FileSink } from './file-sink.js';
import { progressCounter, type ProgressReport } from './progress-tally.js';
import { CONTAINER_BACKUP_DIR, CONTAINER_KUBERNETES_DIR } from '../model/paths.js';
import { stateFileName } from './state-file.js';
import { readBackFailure, verifyArchiveLayout, type ArchiveDigest } from './verify-zip.js';
import { TrailingReadBack, type ReadBackDigest } from './trailing-read-back.js';
import { crc32 } from './zip/crc32.js';
import { messageOf } from '../errors.js';
import type { FileHandle } from 'node:fs/promises';
import { ZipWriter, type ByteSink, type FinishedZip } from './zip/zip-writer.js';
import type { BlockCounts } from './zip/block-deflate.js';
import type { DeflateSetting } from '../model/compression.js';

/** Entry names exactly as rke-tools writes them (absolute paths in the container). */
export function archiveEntryNames(snapshotName: string): { snapshot: string; stateFile: string } {
  return {
    snapshot: `${CONTAINER_BACKUP_DIR}/${snapshotName}`,
    stateFile: `${CONTAINER_KUBERNETES_DIR}/${stateFileName(snapshotName)}`,
  };
}

export interface ArchiveRequest {
  target: AtomicTarget;
  snapshotName: string;
  endpoint: string;
  /** Opens etcd's snapshot stream; called only once the temporary file exists. */
  openSnapshot: () => Readable;
  stateFile?: Buffer;
  /** zlib level of the snapshot entry, or `auto` (COMPRESSION_LEVELS). */
  level: DeflateSetting;
  modified: Date;
  signal?: AbortSignal;
  /** Live progress: etcd's bytes as they arrive, then the read-back. */
  onProgress?: ProgressReport;
}

export interface WrittenArchive {
  archive: ArchiveDigest;
  snapshot: VerifiedSnapshot;
  /** The etcd revision the snapshot holds, read in the same pass; absent (with `revisionProblem`) if its database could not be read. */
  revision?: number;
  revisionProblem?: string;
  /** Its live keys per resource, same pass; absent (with `censusProblem`, or with `revisionProblem`) when not taken. */
  census?: Census;
  censusProblem?: string;
  /** With `auto`: how many blocks of the snapshot were deflated, run-length coded, zero-run coded and stored. */
  blocks?: BlockCounts;
}

/** What goes into the archive, wherever it is written (a local file in the agent, a node's file over SFTP). */
export type ArchiveContent = Omit<ArchiveRequest, 'target'>;

/**
 * Streams etcd's snapshot through the trailer check into a deflated ZIP in the
 * rke-tools layout, reads it back as it goes (TrailingReadBack), checks what was read
 * against what was written, and only then gives it its final name.
 */
export async function writeSnapshotArchive(request: ArchiveRequest): Promise<WrittenArchive> {
  const { value } = await writeFileAtomically(request.target, async (file) => {
    const readBack = new TrailingReadBack(file);
    let writtenCrc32 = 0;
    const sink = new FileSink(file, {
      onWritten: (bytes, end) => {
        writtenCrc32 = crc32(bytes, writtenCrc32);
        readBack.writtenUpTo(end);
      },
    });
    const { finished, snapshot, revision, blocks } = await writeArchiveContent(sink, request);
    await sink.flush();
    request.onProgress?.({ phase: 'verify' });
    const archive = await checkReadBack(file, finished, readBack, writtenCrc32, request.target.displayPath);
    return { archive, snapshot, ...revision, ...(blocks ? { blocks } : {}) };
  });
  return value;
}

async function checkReadBack(file: FileHandle, finished: FinishedZip, readBack: TrailingReadBack, writtenCrc32: number, displayPath: string): Promise<ArchiveDigest> {
  let read: ReadBackDigest;
  try {
    read = await readBack.finish(finished.size);
  } catch (error) {
    throw readBackFailure(displayPath, messageOf(error));
  }
  if (read.crc32 !== writtenCrc32) {
    throw readBackFailure(displayPath, `its ${read.size} bytes read back have CRC-32 ${hex(read.crc32)}, those written had ${hex(writtenCrc32)}`);
  }
  const size = await verifyArchiveLayout(file, finished, displayPath);
  return { size, sha256: read.sha256 };
}

const hex = (value: number) => value.toString(16).padStart(8, '0');

/**
 * The archive's bytes, in order, into `sink`: the snapshot entry `/backup/NAME` (etcd's
 * stream through the SHA-256 trailer check, deflated), then the state file entry when
 * there is one, then the central directory. The caller flushes the sink and reads back.
 */
export async function writeArchiveContent(
  sink: ByteSink,
  content: ArchiveContent,
): Promise<{ finished: FinishedZip; snapshot: VerifiedSnapshot; revision: Pick<WrittenArchive, 'revision' | 'revisionProblem' | 'census' | 'censusProblem'>; blocks?: BlockCounts }> {
  const names = archiveEntryNames(content.snapshotName);
  const zip = new ZipWriter(sink);
  const verifier = new SnapshotTrailerVerifier(content.endpoint);
  // Lenient: etcd's trailer already vouches for the bytes; a database our reader cannot read costs the revision, not the snapshot.
  const revision = new BoltRevisionTap({ lenient: true, census: true });
  const entry = await zip.addEntry({ name: names.snapshot, mode: 0o600, modified: content.modified }, content.openSnapshot(), {
    through: [...(content.onProgress ? [progressCounter('snapshot', content.onProgress)] : []), verifier, revision],
    level: content.level,
    ...(content.signal ? { signal: content.signal } : {}),
  });
  if (content.stateFile !== undefined) {
    await zip.addEntry({ name: names.stateFile, mode: 0o400, modified: content.modified }, [content.stateFile], {
      ...(content.signal ? { signal: content.signal } : {}),
    });
  }
  const finished = await zip.finish();
  const read = revision.resultIfRead;
  return {
    finished,
    snapshot: verifier.verified,
    revision:
      read === undefined
        ? { revisionProblem: revision.problem ?? 'not read' }
        : { revision: read.revision, ...censusFindings(read) },
    ...(entry.blocks ? { blocks: entry.blocks } : {}),
  };
}
