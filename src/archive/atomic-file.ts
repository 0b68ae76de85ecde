import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { OperatorError } from '../errors.js';
import { fileWriteError, systemErrorCode } from './file-errors.js';

export interface AtomicTarget {
  /** The directory as this process sees it (/backup in the container). */
  dir: string;
  fileName: string;
  mode: number;
  /** Replace an existing file (or symlink) of that name; otherwise refuse. */
  overwrite: boolean;
  /** The final path as the operator sees it on the node, for messages. */
  displayPath: string;
}

export function alreadyExistsError(target: AtomicTarget): OperatorError {
  return new OperatorError(`${target.displayPath} already exists on this node; pass --overwrite to replace it`);
}

/** Creates `dir` (mode 0700) if it is missing; fails if it is something else. */
export async function ensureDirectory(dir: string, displayPath: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if (systemErrorCode(error) !== 'EEXIST') throw fileWriteError(error, displayPath);
  }
  const stats = await stat(dir);
  if (!stats.isDirectory()) throw new OperatorError(`${displayPath} is not a directory`);
}

/** Fails early, before any work, when the final name is taken (the publish step checks again, atomically). */
export async function checkTargetFree(target: AtomicTarget): Promise<void> {
  let existing: Stats | undefined;
  try {
    existing = await lstatOrUndefined(join(target.dir, target.fileName));
  } catch (error) {
    throw fileWriteError(error, target.displayPath);
  }
  if (existing === undefined) return;
  if (!target.overwrite) throw alreadyExistsError(target);
  if (existing.isDirectory()) throw new OperatorError(`${target.displayPath} is a directory; it cannot be replaced by the snapshot`);
}

/**
 * Writes a file so that its final name only ever names complete, synced content:
 * `write` fills a fresh temporary file (.NAME.tmp-RANDOM, O_EXCL|O_NOFOLLOW, `mode`)
 * in the same directory; then it is synced and given its final name by link()
 * (never replaces anything) or, with overwrite, rename() (replaces a file or a
 * symlink itself, never writing through it), and the directory is synced. On any
 * failure the temporary file is removed.
 */
export async function writeFileAtomically<T>(
  target: AtomicTarget,
  write: (file: FileHandle) => Promise<T>,
): Promise<{ value: T; stats: Stats }> {
  const tempPath = join(target.dir, temporaryName(target.fileName));
  const finalPath = join(target.dir, target.fileName);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tempPath, CREATE_NEW_FILE, target.mode);
    await handle.chmod(target.mode); // exactly this mode, whatever the umask
    const value = await write(handle);
    await handle.sync();
    const stats = await handle.stat();
    await handle.close();
    handle = undefined;
    await publish(tempPath, finalPath, target);
    await syncDirectory(target.dir);
    await checkPublished(finalPath, stats, target);
    return { value, stats };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw fileWriteError(error, target.displayPath);
  }
}

/** `.FILE.tmp-` and 12 hex digits: the only names this project writes before the final one. */
export function temporaryName(fileName: string): string {
  return `.${fileName}.tmp-${randomBytes(6).toString('hex')}`;
}

/** The final name `entry` is one of our temporary names for, if it is one. */
export function temporaryNameTarget(entry: string): string | undefined {
  const match = /^\.(.+)\.tmp-[0-9a-f]{12}$/.exec(entry);
  return match?.[1];
}

/** Whether `entry` is one of our temporary names for `fileName`. */
export function isTemporaryNameOf(entry: string, fileName: string): boolean {
  const prefix = `.${fileName}.tmp-`;
  return entry.startsWith(prefix) && /^[0-9a-f]{12}$/.test(entry.slice(prefix.length));
}

const CREATE_NEW_FILE = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

async function publish(tempPath: string, finalPath: string, target: AtomicTarget): Promise<void> {
  if (target.overwrite) {
    try {
      await rename(tempPath, finalPath);
    } catch (error) {
      const code = systemErrorCode(error);
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new OperatorError(`${target.displayPath} is a directory; it cannot be replaced by the snapshot`);
      }
      throw error;
    }
    return;
  }
  try {
    // link() fails with EEXIST on any existing name, including a (dangling) symlink.
    await link(tempPath, finalPath);
  } catch (error) {
    if (systemErrorCode(error) === 'EEXIST') throw alreadyExistsError(target);
    throw error;
  }
  await unlink(tempPath);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems cannot sync a directory; the rename itself stands.
    if (systemErrorCode(error) !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** The final name now refers to the very file we wrote and synced. */
async function checkPublished(finalPath: string, written: Stats, target: AtomicTarget): Promise<void> {
  const published = await lstat(finalPath);
  if (!published.isFile() || published.ino !== written.ino || published.dev !== written.dev || published.size !== written.size) {
    throw new OperatorError(`${target.displayPath} changed while it was being put in place; check the node`);
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}
