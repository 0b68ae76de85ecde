/**
 * `list` and `remove` on a node's snapshots directory (snapshot-directory.ts: in the agent's
 * container, or over SFTP). Only regular files directly in it count; a symlink is never
 * followed, and a name with no file is reported missing, not an error.
 */
import { messageOf } from '../errors.js';
import { PKI_BUNDLE_FILE_NAME } from '../model/paths.js';
import { classifyEntry, validateRemovableName } from '../model/names.js';
import type { RemovedSnapshot, SkippedEntry, SnapshotFile, SnapshotListing, SnapshotRemoval } from '../model/snapshot.js';
import { isTemporaryNameOf, temporaryNameTarget } from './atomic-file.js';
import type { SnapshotDirectory } from './snapshot-directory.js';
import { sha256Of } from './verify-zip.js';

/** Files up to this size get their SHA-256 in a listing ("when cheap"); larger ones do not. */
export const LIST_SHA256_MAX_BYTES = 64 * 1024 * 1024;

export interface ListOptions {
  sha256MaxBytes?: number;
}

/**
 * `list`: every regular file directly in the snapshots directory, never following a
 * symlink; symlinks, directories and other entries are reported as skipped.
 */
export async function listSnapshotFiles(dir: SnapshotDirectory, options: ListOptions = {}): Promise<SnapshotListing> {
  const started = Date.now();
  const files: SnapshotFile[] = [];
  const skipped: SkippedEntry[] = [];
  const entries = await dir.names();
  for (const file of (entries ?? []).sort()) {
    const kind = classifyEntry(file);
    if (kind === undefined) continue;
    let stats;
    try {
      stats = await dir.lstat(file);
    } catch (error) {
      skipped.push({ file, reason: `cannot read it: ${messageOf(error)}` });
      continue;
    }
    if (stats === undefined) continue; // removed meanwhile
    if (!stats.isFile()) {
      skipped.push({ file, reason: stats.isSymbolicLink() ? 'a symlink (never followed)' : 'not a regular file' });
      continue;
    }
    const sha256 = stats.size <= (options.sha256MaxBytes ?? LIST_SHA256_MAX_BYTES) ? await hashFile(dir, file).catch(() => undefined) : undefined;
    files.push({ file, ...kind, size: stats.size, modified: stats.mtime.toISOString(), ...(sha256 ? { sha256 } : {}) });
  }
  return { ok: true, dir: dir.displayDir, files, skipped, durationMs: Date.now() - started };
}

async function hashFile(dir: SnapshotDirectory, file: string): Promise<string> {
  const opened = await dir.openForReading(file);
  try {
    return await sha256Of(opened, (await opened.stat()).size);
  } finally {
    await opened.close();
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
export async function removeSnapshotFiles(dir: SnapshotDirectory, names: readonly string[], log?: (line: string) => void): Promise<SnapshotRemoval> {
  const started = Date.now();
  const results: RemovedSnapshot[] = [];
  for (const name of names) {
    validateRemovableName(name);
    const removed: RemovedSnapshot['removed'] = [];
    const refused: SkippedEntry[] = [];
    for (const file of snapshotFileNames(name)) {
      let stats;
      try {
        stats = await dir.lstat(file);
      } catch (error) {
        refused.push({ file, reason: `cannot read it: ${messageOf(error)}` });
        continue;
      }
      if (stats === undefined) continue;
      if (!stats.isFile()) {
        refused.push({ file, reason: stats.isSymbolicLink() ? 'a symlink, not removed' : 'not a regular file, not removed' });
        continue;
      }
      try {
        if (!(await dir.unlink(file))) continue;
        log?.(`removed ${dir.displayDir}/${file} (${stats.size} bytes)`);
        removed.push({ file, size: stats.size, modified: stats.mtime.toISOString() });
      } catch (error) {
        refused.push({ file, reason: `cannot remove it: ${messageOf(error)}` });
      }
    }
    results.push({ name, status: refused.length > 0 ? 'refused' : removed.length > 0 ? 'removed' : 'missing', removed, refused });
  }
  if (results.some((result) => result.removed.length > 0)) await dir.sync();
  return { ok: true, dir: dir.displayDir, names: results, durationMs: Date.now() - started };
}

/**
 * Our temporary files left by a writer killed mid-way (SIGKILL, its memory limit, the node's
 * reboot), which could not remove them: `.NAME.tmp-<12 hex>` (atomic-file.ts) for these final
 * names at once (one save of a name runs at a time on a node), and, with `staleAfterMs`, for any
 * other .zip or the PKI bundle once untouched that long (a live writer of another name, such
 * as a `--runtime ssh` run, keeps its file fresh). Only regular files of exactly those names;
 * nothing else is touched. Returns the names removed.
 */
export async function sweepTemporaryFiles(
  dir: SnapshotDirectory,
  finalNames: readonly string[],
  log?: (line: string) => void,
  options: { staleAfterMs?: number; now?: number } = {},
): Promise<string[]> {
  const swept: string[] = [];
  const now = options.now ?? Date.now();
  for (const entry of (await dir.names()) ?? []) {
    const ofThisRun = finalNames.some((name) => isTemporaryNameOf(entry, name));
    if (!ofThisRun && (options.staleAfterMs === undefined || !isSweepableTemporaryName(entry))) continue;
    const stats = await dir.lstat(entry);
    if (!stats?.isFile()) continue;
    if (!ofThisRun && now - stats.mtime.getTime() < (options.staleAfterMs ?? Infinity)) continue;
    if (await dir.unlink(entry)) {
      swept.push(entry);
      log?.(`removed ${dir.displayDir}/${entry}, a temporary file an earlier run left (${stats.size} bytes)`);
    }
  }
  if (swept.length > 0) await dir.sync();
  return swept;
}

/** A temporary name of a snapshot zip or of the PKI bundle, whatever the snapshot's name. */
function isSweepableTemporaryName(entry: string): boolean {
  const target = temporaryNameTarget(entry);
  return target !== undefined && (target.endsWith('.zip') || target === PKI_BUNDLE_FILE_NAME);
}
