/**
 * A node's /opt/rke/etcd-snapshots over SFTP, for list, remove and verify with --runtime ssh
 * (archive/snapshot-directory.ts). SFTP's open follows symlinks, so a name is examined with
 * lstat first and refused when it is a symlink; the file opened is then checked to be the
 * regular file that was examined (same size), which leaves only a replacement in between.
 */
import { posix } from 'node:path';
import { SymlinkRefused, type EntryStats, type OpenedFile, type SnapshotDirectory } from '../../archive/snapshot-directory.js';
import { NO_SUCH_FILE, SftpError, type NodeSftp } from '../../ssh/sftp.js';

export function sftpDirectory(sftp: NodeSftp, dir: string): SnapshotDirectory {
  const full = (file: string) => posix.join(dir, file);
  return {
    displayDir: dir,
    names: () => sftp.readdir(dir),
    lstat: async (file): Promise<EntryStats | undefined> => {
      const stats = await sftp.lstat(full(file));
      if (stats === undefined) return undefined;
      return {
        size: stats.size,
        mtime: new Date(stats.mtime * 1000),
        isFile: () => stats.isFile(),
        isSymbolicLink: () => stats.isSymbolicLink(),
      };
    },
    async openForReading(file): Promise<OpenedFile> {
      const before = await sftp.lstat(full(file));
      if (before?.isSymbolicLink()) throw new SymlinkRefused(file);
      const opened = await sftp.openForReading(full(file));
      const now = await opened.stat();
      if (!now.isFile() || (before !== undefined && now.size !== before.size)) {
        await opened.close().catch(() => undefined);
        throw new Error(`${full(file)} changed while it was opened`);
      }
      return opened;
    },
    async unlink(file) {
      try {
        await sftp.unlink(full(file));
        return true;
      } catch (error) {
        if (error instanceof SftpError && error.status === NO_SUCH_FILE) return false;
        throw error;
      }
    },
    async sync() {
      await sftp.syncDirectory(dir);
    },
  };
}
