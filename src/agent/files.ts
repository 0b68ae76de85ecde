import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { OperatorError, messageOf } from '../errors.js';
import { classifyEntry, validateRemovableName } from '../model/names.js';
import type { SnapshotFile, SnapshotListing, SnapshotRemoval, RemovedSnapshot, SkippedEntry } from '../model/snapshot.js';

/** Files up to this size get their SHA-256 in a listing ("when cheap"); larger ones do not. */
export const LIST_SHA256_MAX_BYTES = 64 * 1024 * 1024;

export interface SnapshotFilesOptions {
  /** Where the node's /opt/rke/etcd-snapshots is seen (/backup in the container). */
  backupDir: string;
  /** The path reported to the operator for that directory (/opt/rke/etcd-snapshots). */
  displayDir: string;
  sha256MaxBytes?: number;
  log?: (line: string) => void;
}

/**
 * `list`: every regular file directly in the snapshots directory, never following a
 * symlink; symlinks, directories and other entries are reported as skipped.
 */
export async function listSnapshotFiles(options: SnapshotFilesOptions): Promise<SnapshotListing> {
  const started = Date.now();
  const files: SnapshotFile[] = [];
  const skipped: SkippedEntry[] = [];
  let entries: string[];
  try {
    entries = await readdir(options.backupDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, dir: options.displayDir, files, skipped, durationMs: Date.now() - started };
    throw new OperatorError(`cannot list ${options.displayDir}: ${messageOf(error)}`);
  }
  for (const file of entries.sort()) {
    const kind = classifyEntry(file);
    if (kind === undefined) continue;
    const full = path.join(options.backupDir, file);
    let stats;
    try {
      stats = await lstat(full);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
      skipped.push({ file, reason: `cannot read it: ${messageOf(error)}` });
      continue;
    }
    if (!stats.isFile()) {
      skipped.push({ file, reason: stats.isSymbolicLink() ? 'a symlink (never followed)' : 'not a regular file' });
      continue;
    }
    const sha256 = stats.size <= (options.sha256MaxBytes ?? LIST_SHA256_MAX_BYTES) ? await hashFile(full).catch(() => undefined) : undefined;
    files.push({ file, ...kind, size: stats.size, modified: stats.mtime.toISOString(), ...(sha256 ? { sha256 } : {}) });
  }
  return { ok: true, dir: options.displayDir, files, skipped, durationMs: Date.now() - started };
}

async function hashFile(full: string): Promise<string> {
  const handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new Error('not a regular file');
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/** The files that make up snapshot NAME on a node: its zip and an old-style raw file. */
export function snapshotFileNames(name: string): string[] {
  return [`${name}.zip`, name];
}

/**
 * `remove`: unlinks NAME.zip and NAME (raw) directly in the directory. Only regular files:
 * a symlink, directory or other entry of that name is refused, never followed (unlink
 * removes the name itself). A name with no file is reported missing, not an error.
 */
export async function removeSnapshotFiles(names: readonly string[], options: SnapshotFilesOptions): Promise<SnapshotRemoval> {
  const started = Date.now();
  const results: RemovedSnapshot[] = [];
  for (const name of names) {
    validateRemovableName(name);
    const removed: RemovedSnapshot['removed'] = [];
    const refused: SkippedEntry[] = [];
    for (const file of snapshotFileNames(name)) {
      const full = path.join(options.backupDir, file);
      let stats;
      try {
        stats = await lstat(full);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        refused.push({ file, reason: `cannot read it: ${messageOf(error)}` });
        continue;
      }
      if (!stats.isFile()) {
        refused.push({ file, reason: stats.isSymbolicLink() ? 'a symlink, not removed' : 'not a regular file, not removed' });
        continue;
      }
      try {
        await unlink(full);
        options.log?.(`removed ${options.displayDir}/${file} (${stats.size} bytes)`);
        removed.push({ file, size: stats.size, modified: stats.mtime.toISOString() });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        refused.push({ file, reason: `cannot remove it: ${messageOf(error)}` });
      }
    }
    results.push({ name, status: refused.length > 0 ? 'refused' : removed.length > 0 ? 'removed' : 'missing', removed, refused });
  }
  if (results.some((result) => result.removed.length > 0)) await syncDirectory(options.backupDir);
  return { ok: true, dir: options.displayDir, names: results, durationMs: Date.now() - started };
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
