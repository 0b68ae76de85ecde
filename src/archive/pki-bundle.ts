/**
 * `--pki-bundle` (pre-v0.2.0 clusters): the node's certificates and keys as
 * /opt/rke/etcd-snapshots/pki.bundle.tar.gz, a gzip tar of /etc/kubernetes/ssl.
 *
 * Layout: entries `etc/kubernetes/ssl/` and `etc/kubernetes/ssl/<file>` — three
 * leading directories, as RKE v0.1.x's `tar czvf /backup/pki.bundle.tar.gz
 * /etc/kubernetes/.tmp/` produced (`etc/kubernetes/.tmp/<file>`), so its restore
 * (`tar xzvf ... -C /etc/kubernetes/.tmp/ --strip-components 3`) finds the files where
 * it expects them. Modes, owners and times are the files' own.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, stat, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, Writable, pipeline as pipelineWithCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { OperatorError, messageOf } from '../errors.js';
import { writeFileAtomically, type AtomicTarget } from './atomic-file.js';
import { FileSink } from './file-sink.js';
import { systemErrorCode } from './file-errors.js';
import { CONTAINER_SSL_DIR, NODE_SNAPSHOT_DIR, PKI_BUNDLE_FILE_NAME } from '../model/paths.js';
import type { PkiBundleFile } from '../model/snapshot.js';
import { listTar, type ListedEntry } from './tar/tar-reader.js';
import { TarSizeError, tarStream, type TarEntryHeader, type TarInput } from './tar/tar-writer.js';

/** The directory prefix of every entry (RKE v0.1.x: etc/kubernetes/.tmp/, same depth). */
export const PKI_BUNDLE_ROOT = 'etc/kubernetes/ssl/';

const READ_CHUNK = 64 * 1024;

/** What goes into the bundle: one entry per directory, file and symlink under the ssl directory. */
export interface PkiScan {
  /** Where the ssl directory is seen by this process, and how the operator sees it. */
  dir: string;
  displayDir: string;
  entries: ScannedEntry[];
}

export interface ScannedEntry {
  header: TarEntryHeader;
  /** Path on disk, for files. */
  path: string;
  displayPath: string;
}

/**
 * Walks the ssl directory (sorted, not following symlinks) before any snapshot work,
 * so that a node whose certificates cannot be bundled fails before anything is written.
 * Regular files, directories and symlinks are taken; anything else (a FIFO, a socket,
 * a device) is refused: a certificate directory holds none, and reading one could block.
 */
export async function scanPkiDirectory(dir: string = CONTAINER_SSL_DIR, displayDir: string = CONTAINER_SSL_DIR): Promise<PkiScan> {
  // The directory itself may be a symlink (tar follows `dir/` too); nothing below it is followed.
  const top = await stat(dir).catch((error: unknown) => {
    throw readError(error, displayDir);
  });
  if (!top.isDirectory()) throw new OperatorError(`--pki-bundle: ${displayDir} is not a directory; there are no certificates to bundle`);
  const entries: ScannedEntry[] = [{ header: header(PKI_BUNDLE_ROOT, 'directory', top), path: dir, displayPath: displayDir }];
  await walk(dir, displayDir, PKI_BUNDLE_ROOT, entries);
  if (!entries.some((entry) => entry.header.type === 'file')) {
    throw new OperatorError(`--pki-bundle: ${displayDir} holds no files; there are no certificates to bundle`);
  }
  return { dir, displayDir, entries };
}

async function walk(dir: string, displayDir: string, prefix: string, into: ScannedEntry[]): Promise<void> {
  const names = await readdir(dir).catch((error: unknown) => {
    throw readError(error, displayDir);
  });
  for (const name of names.sort()) {
    const path = join(dir, name);
    const displayPath = posix.join(displayDir, name);
    const stats = await lstat(path).catch((error: unknown) => {
      throw readError(error, displayPath);
    });
    if (stats.isDirectory()) {
      into.push({ header: header(`${prefix}${name}/`, 'directory', stats), path, displayPath });
      await walk(path, displayPath, `${prefix}${name}/`, into);
    } else if (stats.isFile()) {
      into.push({ header: header(`${prefix}${name}`, 'file', stats), path, displayPath });
    } else if (stats.isSymbolicLink()) {
      const target = await readlink(path).catch((error: unknown) => {
        throw readError(error, displayPath);
      });
      into.push({ header: { ...header(`${prefix}${name}`, 'symlink', stats), linkName: target }, path, displayPath });
    } else {
      throw new OperatorError(`--pki-bundle: ${displayPath} is not a regular file, directory or symlink (${kindOf(stats)}); remove it or move it out of ${displayDir}`);
    }
  }
}

function header(name: string, type: TarEntryHeader['type'], stats: Stats): TarEntryHeader {
  return {
    name,
    type,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    size: type === 'file' ? stats.size : 0,
    mtimeSeconds: Math.floor(stats.mtimeMs / 1000),
  };
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'unknown type';
}

/** The bundle's name must be free or a file (or symlink) that can be replaced: checked before any work. */
export async function checkPkiBundleTarget(target: AtomicTarget): Promise<void> {
  const existing = await lstat(join(target.dir, target.fileName)).catch((error: unknown) => {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw readError(error, target.displayPath);
  });
  if (existing?.isDirectory()) {
    throw new OperatorError(`--pki-bundle: ${target.displayPath} is a directory; move it away so that the bundle can take its name`);
  }
}

export function pkiBundleTarget(backupDir: string): AtomicTarget {
  return {
    dir: backupDir,
    fileName: PKI_BUNDLE_FILE_NAME,
    mode: 0o600,
    // RKE overwrote it on every run; it is not named after a snapshot, so the newest replaces it (atomically).
    overwrite: true,
    displayPath: posix.join(NODE_SNAPSHOT_DIR, PKI_BUNDLE_FILE_NAME),
  };
}

/**
 * Writes the bundle of a scan: tar → gzip → a temporary file (0600), read back
 * (gunzip, list, sizes and SHA-256 of every entry against what was read from the
 * ssl directory), then renamed over pki.bundle.tar.gz and the directory synced.
 */
export async function writePkiBundle(scan: PkiScan, target: AtomicTarget, signal?: AbortSignal): Promise<PkiBundleFile> {
  const { value } = await writeFileAtomically(target, async (file) => {
    const written: ListedEntry[] = [];
    const sink = new FileSink(file);
    const toFile = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        sink.write(chunk).then(() => callback(), callback);
      },
      final(callback) {
        sink.flush().then(() => callback(), callback);
      },
    });
    const source = Readable.from(tarStream(inputs(scan, written, signal)));
    await (signal ? pipeline(source, createGzip(), toFile, { signal }) : pipeline(source, createGzip(), toFile)).catch((error: unknown) => {
      if (error instanceof TarSizeError) {
        throw new OperatorError(`--pki-bundle: ${posix.join(scan.displayDir, error.entryName.slice(PKI_BUNDLE_ROOT.length))} changed while it was bundled; run again`);
      }
      throw error;
    });
    await verifyBundle(file, written, target.displayPath);
    const { size } = await file.stat();
    return { size, sha256: await sha256Of(file), entries: written.length };
  });
  return { file: target.displayPath, ...value };
}

/** The tar inputs of a scan; each file is opened without following links and checked against its scan. */
async function* inputs(scan: PkiScan, written: ListedEntry[], signal: AbortSignal | undefined): AsyncGenerator<TarInput> {
  for (const entry of scan.entries) {
    signal?.throwIfAborted();
    if (entry.header.type !== 'file') {
      written.push({
        name: entry.header.name,
        type: entry.header.type,
        mode: entry.header.mode,
        size: 0,
        sha256: createHash('sha256').digest('hex'),
        ...(entry.header.linkName === undefined ? {} : { linkName: entry.header.linkName }),
      });
      yield { header: entry.header };
      continue;
    }
    const handle = await open(entry.path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: unknown) => {
      throw readError(error, entry.displayPath);
    });
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new OperatorError(`--pki-bundle: ${entry.displayPath} is no longer a regular file; run again`);
      const headerNow = { ...entry.header, size: stats.size, mode: stats.mode & 0o7777, mtimeSeconds: Math.floor(stats.mtimeMs / 1000) };
      const hash = createHash('sha256');
      yield { header: headerNow, content: () => readAll(handle, hash, entry.displayPath) };
      written.push({ name: headerNow.name, type: 'file', mode: headerNow.mode, size: headerNow.size, sha256: hash.digest('hex') });
    } finally {
      await handle.close();
    }
  }
}

async function* readAll(handle: FileHandle, hash: ReturnType<typeof createHash>, displayPath: string): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, position).catch((error: unknown) => {
      throw readError(error, displayPath);
    });
    if (bytesRead === 0) return;
    position += bytesRead;
    const chunk = buffer.subarray(0, bytesRead);
    hash.update(chunk);
    yield chunk;
  }
}

/** Reads the written file back through gunzip and compares every entry with what was archived. */
async function verifyBundle(file: FileHandle, written: readonly ListedEntry[], displayPath: string): Promise<void> {
  let listed: ListedEntry[];
  try {
    const gunzip = createGunzip();
    // A read error reaches the listing through `gunzip`, which pipeline destroys with it.
    pipelineWithCallback(readFrom(file), gunzip, () => undefined);
    listed = await listTar(gunzip);
  } catch (error) {
    throw new OperatorError(`${displayPath} failed its read-back check: ${messageOf(error)}`);
  }
  const describe = (entry: ListedEntry) => JSON.stringify([entry.name, entry.type, entry.mode, entry.size, entry.sha256, entry.linkName ?? '']);
  const found = listed.map(describe).join();
  const expected = written.map(describe).join();
  if (found !== expected) {
    throw new OperatorError(`${displayPath} failed its read-back check: it lists ${listed.length} entries that differ from the ${written.length} written`);
  }
}

function readFrom(file: FileHandle): Readable {
  return Readable.from(
    (async function* () {
      for (let position = 0; ; ) {
        const buffer = Buffer.allocUnsafe(READ_CHUNK);
        const { bytesRead } = await file.read(buffer, 0, READ_CHUNK, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    })(),
  );
}

async function sha256Of(file: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of readFrom(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function readError(error: unknown, displayPath: string): unknown {
  const code = systemErrorCode(error);
  if (code === undefined) return error;
  if (code === 'ENOENT') return new OperatorError(`--pki-bundle: ${displayPath} does not exist on this node`, { cause: error });
  if (code === 'ELOOP') return new OperatorError(`--pki-bundle: ${displayPath} became a symbolic link while it was bundled; run again`, { cause: error });
  const reason = code === 'EACCES' ? 'permission denied' : code === 'EIO' ? 'input/output error' : code;
  return new OperatorError(`--pki-bundle: cannot read ${displayPath}: ${reason} (${code})`, { cause: error });
}
