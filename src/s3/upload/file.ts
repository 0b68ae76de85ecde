import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { OperatorError } from '../../errors.js';
import { systemErrorCode } from '../../archive/file-errors.js';
import { sha256Of, type RandomAccessFile } from '../../archive/verify-zip.js';
import { NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import type { UploadDigest } from '../etag.js';

/** What the upload reads: positional reads, then close (by whoever opened it). */
export interface UploadSource extends RandomAccessFile {
  close(): Promise<void>;
}

/** The node's NAME.zip, opened for reading (never through a symlink), with its size and SHA-256. */
export interface LocalSnapshot {
  /** A local FileHandle in the agent; a node's file over SFTP with --runtime ssh. */
  handle: UploadSource;
  size: number;
  sha256: string;
  /** The path as the node sees it, for messages. */
  displayPath: string;
  /** Where `sha256` comes from, for the message when the bytes sent do not match it. */
  sha256Origin?: 'save';
  /** Replaces the check that the bytes sent are the file's (age: the sent bytes are its ciphertext). */
  checkSent?: (digest: UploadDigest) => void;
  /** More user metadata for the object (besides sha256, which is always the plain file's). */
  metadata?: Record<string, string>;
}

/**
 * Opens `<backupDir>/NAME.zip` for the upload: it must be a regular file, not a symlink
 * (lstat, then O_NOFOLLOW so that a swap in between cannot redirect the read). Its
 * SHA-256 goes into the object's metadata, which S3 takes before the body: the one this
 * run's save read back when the CLI passes it, else read here first. Either way the
 * upload digests the bytes again as they are sent, and they must match it.
 */
export async function openLocalSnapshot(backupDir: string, name: string, signal?: AbortSignal, savedSha256?: string): Promise<LocalSnapshot> {
  return openLocalFile(backupDir, `${name}.zip`, 'there is no snapshot of that name to upload', signal, savedSha256);
}

/** The same for any file of the snapshots directory (the PKI bundle); `missing` says what its absence means. */
export async function openLocalFile(
  backupDir: string,
  fileName: string,
  missing: string,
  signal?: AbortSignal,
  savedSha256?: string,
): Promise<LocalSnapshot> {
  const displayPath = posix.join(NODE_SNAPSHOT_DIR, fileName);
  const path = join(backupDir, fileName);
  const before = await lstat(path).catch((error: unknown) => {
    throw fileReadError(error, displayPath, missing);
  });
  if (before.isSymbolicLink()) throw symlinkError(displayPath);
  if (!before.isFile()) throw new OperatorError(`${displayPath} is not a regular file; refusing to upload it`);
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: unknown) => {
    throw systemErrorCode(error) === 'ELOOP' ? symlinkError(displayPath) : fileReadError(error, displayPath, missing);
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new OperatorError(`${displayPath} is not a regular file; refusing to upload it`);
    if (savedSha256 !== undefined) return { handle, size: stats.size, sha256: savedSha256, displayPath, sha256Origin: 'save' };
    const sha256 = await sha256Of(handle, stats.size, signal).catch((error: unknown) => {
      throw fileReadError(error, displayPath, missing);
    });
    return { handle, size: stats.size, sha256, displayPath };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function symlinkError(displayPath: string): OperatorError {
  return new OperatorError(`${displayPath} is a symbolic link; refusing to upload through it`);
}

function fileReadError(error: unknown, displayPath: string, missing: string): unknown {
  const code = systemErrorCode(error);
  if (code === 'ENOENT') return new OperatorError(`${displayPath} does not exist on this node: ${missing}`, { cause: error });
  if (code === undefined) return error;
  return new OperatorError(`cannot read ${displayPath}: ${(error as Error).message}`, { cause: error });
}
