import { posix } from 'node:path';
import { alreadyExistsError, temporaryName, type AtomicTarget } from '../../archive/atomic-file.js';
import { writeArchiveContent, type ArchiveContent, type WrittenArchive } from '../../archive/snapshot-zip.js';
import { readBackFailure, verifyArchive } from '../../archive/verify-zip.js';
import { OperatorError } from '../../errors.js';
import { SftpError, SftpSink, type NodeSftp, type SftpFile } from '../../ssh/sftp.js';

/** The OpenSSH SFTP extensions the atomic write needs (OpenSSH 6.5 and later have all three). */
export const REQUIRED_EXTENSIONS = ['fsync@openssh.com', 'posix-rename@openssh.com', 'hardlink@openssh.com'] as const;

export function checkSftpExtensions(sftp: NodeSftp): void {
  const missing = REQUIRED_EXTENSIONS.filter((name) => !sftp.hasExtension(name));
  if (missing.length > 0) {
    throw new OperatorError(
      `the SFTP server of host ${sftp.host} lacks ${missing.join(', ')}: --runtime ssh needs OpenSSH's extensions to write the snapshot atomically; use --runtime docker for this node`,
    );
  }
}

/** Creates the snapshots directory (0700) and its missing parents (0755) when absent; fails if it is something else. */
export async function ensureRemoteDirectory(sftp: NodeSftp, dir: string): Promise<void> {
  const existing = await sftp.stat(dir);
  if (existing !== undefined) {
    if (!existing.isDirectory()) throw new OperatorError(`${dir} on host ${sftp.host} is not a directory`);
    return;
  }
  const parent = posix.dirname(dir);
  if (parent !== dir) await ensureParent(sftp, parent);
  try {
    await sftp.mkdir(dir, 0o700);
  } catch (error) {
    // Another run may have created it meanwhile.
    if (!(await sftp.stat(dir))?.isDirectory()) throw error;
  }
}

async function ensureParent(sftp: NodeSftp, dir: string): Promise<void> {
  if (await sftp.stat(dir)) return;
  const parent = posix.dirname(dir);
  if (parent !== dir) await ensureParent(sftp, parent);
  await sftp.mkdir(dir, 0o755).catch(async (error: unknown) => {
    if (!(await sftp.stat(dir))?.isDirectory()) throw error;
  });
}

/** Fails early, before etcd is asked for anything, when the final name is taken (publishing checks again, atomically). */
export async function checkRemoteTargetFree(sftp: NodeSftp, target: AtomicTarget): Promise<void> {
  const existing = await sftp.lstat(posix.join(target.dir, target.fileName));
  if (existing === undefined) return;
  if (!target.overwrite) throw onHost(alreadyExistsError(target), sftp.host);
  if (existing.isDirectory()) throw new OperatorError(`${target.displayPath} on host ${sftp.host} is a directory; it cannot be replaced by the snapshot`);
}

/**
 * The agent's writeSnapshotArchive, with the node's disk reached over SFTP: the same
 * zip (writeArchiveContent) goes into a fresh temporary file `.NAME.zip.tmp-RANDOM` in
 * the same directory (O_CREAT|O_EXCL, mode 0600), is synced (fsync@openssh.com) and read
 * back (size, central directory, local headers, SHA-256: must be what was streamed),
 * and only then takes its final name: hardlink@openssh.com (never replaces anything, a
 * symlink included) then removal of the temporary name, or with overwrite
 * posix-rename@openssh.com (replaces a symlink itself, never writes through it). On any
 * failure, including an abort, the temporary file is removed while the connection lasts.
 */
export async function writeArchiveOverSftp(
  sftp: NodeSftp,
  target: AtomicTarget,
  content: ArchiveContent,
  log: { debug(line: string): void },
): Promise<WrittenArchive> {
  const tempPath = posix.join(target.dir, temporaryName(target.fileName));
  const finalPath = posix.join(target.dir, target.fileName);
  let file: SftpFile | undefined = await sftp.createNew(tempPath, target.mode);
  let published = false;
  try {
    const sink = new SftpSink(file);
    const { finished, snapshot, revision } = await writeArchiveContent(sink, content);
    await sink.flush();
    await file.sync();
    const streamed = sink.digest();
    const where = `${target.displayPath} on host ${sftp.host}`;
    const archive = await verifyArchive(file, finished, where);
    if (archive.size !== streamed.size || archive.sha256 !== streamed.sha256) {
      throw readBackFailure(where, `read ${archive.size} bytes with sha256 ${archive.sha256}, wrote ${streamed.size} bytes with sha256 ${streamed.sha256}`);
    }
    await file.close();
    file = undefined;
    await publish(sftp, tempPath, finalPath, target);
    published = true;
    if (!(await sftp.syncDirectory(target.dir))) log.debug(`host ${sftp.host}: ${target.dir} could not be synced over SFTP; the rename stands`);
    const landed = await sftp.lstat(finalPath);
    if (landed === undefined || !landed.isFile() || landed.size !== archive.size) {
      throw new OperatorError(`${target.displayPath} on host ${sftp.host} changed while it was being put in place; check the node`);
    }
    return { archive, snapshot, ...revision };
  } catch (error) {
    await file?.close().catch(() => undefined);
    if (!published) {
      await sftp.unlink(tempPath).catch((cleanupError: unknown) => {
        log.debug(`host ${sftp.host}: could not remove ${tempPath}: ${String(cleanupError)}`);
      });
    }
    throw error;
  }
}

/** Gives the synced temporary file its final name: hardlink (never replaces), or with overwrite posix-rename. */
export async function publish(sftp: NodeSftp, tempPath: string, finalPath: string, target: AtomicTarget): Promise<void> {
  if (target.overwrite) {
    try {
      await sftp.posixRename(tempPath, finalPath);
    } catch (error) {
      if ((await sftp.lstat(finalPath))?.isDirectory()) {
        throw new OperatorError(`${target.displayPath} on host ${sftp.host} is a directory; it cannot be replaced by the snapshot`);
      }
      throw error;
    }
    return;
  }
  try {
    await sftp.hardlink(tempPath, finalPath);
  } catch (error) {
    if (error instanceof SftpError && (await sftp.lstat(finalPath)) !== undefined) throw onHost(alreadyExistsError(target), sftp.host);
    throw error;
  }
  await sftp.unlink(tempPath);
}

/** The agent's messages say "on this node"; here the node is named. */
function onHost(error: OperatorError, host: string): OperatorError {
  return new OperatorError(error.message.replace('on this node', `on host ${host}`));
}
