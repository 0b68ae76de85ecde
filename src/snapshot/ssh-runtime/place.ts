/**
 * `snapshot-fetch --to-nodes`: a verified local zip put on an etcd node as
 * /opt/rke/etcd-snapshots/NAME.zip over SFTP, as --runtime ssh writes its snapshots: a fresh
 * temporary file (O_EXCL, 0600), synced, read back (size and SHA-256 must be the source's),
 * then linked to its final name (renamed with --overwrite); an existing file is refused
 * without --overwrite. Never throws: the node's outcome.
 */
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { temporaryName, type AtomicTarget } from '../../archive/atomic-file.js';
import { sha256Of } from '../../archive/verify-zip.js';
import type { NodeConfig } from '../../config/cluster.js';
import { OperatorError } from '../../errors.js';
import { NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { SftpSink, type NodeSftp, type SftpFile } from '../../ssh/sftp.js';
import { failureMessage, withNodeSsh } from '../node-ssh.js';
import type { RunScope } from '../scope.js';
import { openNodeSftp } from './save.js';
import { checkRemoteTargetFree, checkSftpExtensions, ensureRemoteDirectory, publish } from './sftp-archive.js';

const CHUNK_BYTES = 1024 * 1024;

export interface PlaceSource {
  /** The verified zip on this machine. */
  path: string;
  size: number;
  sha256: string;
}

export type Placement = { ok: true; address: string; file: string; size: number; sha256: string } | { ok: false; address: string; error: string };

export async function placeOnNode(node: NodeConfig, source: PlaceSource, name: string, overwrite: boolean, scope: RunScope): Promise<Placement> {
  const fileName = `${name}.zip`;
  const target: AtomicTarget = { dir: NODE_SNAPSHOT_DIR, fileName, mode: 0o600, overwrite, displayPath: posix.join(NODE_SNAPSHOT_DIR, fileName) };
  const advice = `a temporary .${fileName}.tmp-* file may remain in ${NODE_SNAPSHOT_DIR} there (never under the final name); check that sshd is up and run again`;
  try {
    await withNodeSsh(node, scope, advice, async (ssh) => {
      const sftp = await openNodeSftp(ssh, scope);
      try {
        checkSftpExtensions(sftp);
        await ensureRemoteDirectory(sftp, NODE_SNAPSHOT_DIR);
        await checkRemoteTargetFree(sftp, target);
        await copyOverSftp(sftp, target, source, scope);
      } finally {
        sftp.end();
      }
    });
    return { ok: true, address: node.address, file: target.displayPath, size: source.size, sha256: source.sha256 };
  } catch (error) {
    return { ok: false, address: node.address, error: failureMessage(error, node, scope) };
  }
}

async function copyOverSftp(sftp: NodeSftp, target: AtomicTarget, source: PlaceSource, scope: RunScope): Promise<void> {
  const tempPath = posix.join(target.dir, temporaryName(target.fileName));
  const finalPath = posix.join(target.dir, target.fileName);
  let file: SftpFile | undefined = await sftp.createNew(tempPath, target.mode);
  let published = false;
  const local = await open(source.path, 'r');
  try {
    const sink = new SftpSink(file);
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let position = 0; position < source.size; ) {
      scope.signal.throwIfAborted();
      const { bytesRead } = await local.read(buffer, 0, Math.min(CHUNK_BYTES, source.size - position), position);
      if (bytesRead === 0) throw new Error(`${source.path} ended at ${position} of ${source.size} bytes`);
      await sink.write(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    await sink.flush();
    await file.sync();
    const readBack = await sha256Of(file, source.size);
    const sent = sink.digest();
    if (sent.size !== source.size || sent.sha256 !== source.sha256 || readBack !== source.sha256) {
      throw new OperatorError(`${target.displayPath} on host ${sftp.host} failed its read-back check (read sha256 ${readBack}, expected ${source.sha256})`);
    }
    await file.close();
    file = undefined;
    await publish(sftp, tempPath, finalPath, target);
    published = true;
    if (!(await sftp.syncDirectory(target.dir))) scope.log.debug(`host ${sftp.host}: ${target.dir} could not be synced over SFTP; the rename stands`);
  } catch (error) {
    await file?.close().catch(() => undefined);
    if (!published) await sftp.unlink(tempPath).catch(() => undefined);
    throw error;
  } finally {
    await local.close();
  }
}
