/**
 * The node's snapshots directory as list, remove and verify see it: the local directory in
 * the agent's container (/backup), or the node's /opt/rke/etcd-snapshots over SFTP
 * (--runtime ssh, snapshot/ssh-runtime/sftp-directory.ts). The checks above this seam
 * (snapshot-files.ts, verify-copy.ts) are the same for both.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { OperatorError, messageOf } from '../errors.js';
import type { RandomAccessFile } from './verify-zip.js';

export interface EntryStats {
  size: number;
  mtime: Date;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

export interface OpenedFile extends RandomAccessFile {
  close(): Promise<void>;
}

export interface SnapshotDirectory {
  /** The path the operator is shown: /opt/rke/etcd-snapshots */
  readonly displayDir: string;
  /** The entries' names; undefined when the directory does not exist. */
  names(): Promise<string[] | undefined>;
  /** Never follows a symlink; undefined when nothing has that name. */
  lstat(file: string): Promise<EntryStats | undefined>;
  /** A regular file, for reading; a symlink is refused (SymlinkRefused), never followed. */
  openForReading(file: string): Promise<OpenedFile>;
  /** Removes the name itself (never what a symlink points to); false when it was already gone. */
  unlink(file: string): Promise<boolean>;
  /** Makes removals durable, where the directory can be synced. */
  sync(): Promise<void>;
}

/** Thrown by openForReading when the name is a symlink. */
export class SymlinkRefused extends Error {
  constructor(file: string) {
    super(`${file} is a symlink (not followed)`);
  }
}

/** A directory of this machine (the agent's /backup). */
export function localDirectory(dir: string, displayDir: string): SnapshotDirectory {
  const full = (file: string) => path.join(dir, file);
  return {
    displayDir,
    async names() {
      try {
        return await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new OperatorError(`cannot list ${displayDir}: ${messageOf(error)}`);
      }
    },
    async lstat(file) {
      try {
        return await lstat(full(file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async openForReading(file) {
      try {
        const handle = await open(full(file), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        return { stat: () => handle.stat(), read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position), close: () => handle.close() };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new SymlinkRefused(file);
        throw error;
      }
    },
    async unlink(file) {
      try {
        await unlink(full(file));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },
    async sync() {
      const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
  };
}
