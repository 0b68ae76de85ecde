/** --runtime ssh, the node's snapshots directory over SFTP: the same list, remove and verify as the agent's, no container. */
import { listSnapshotFiles, removeSnapshotFiles } from '../../archive/snapshot-files.js';
import type { SnapshotDirectory } from '../../archive/snapshot-directory.js';
import { verifySnapshotCopy } from '../../archive/verify-copy.js';
import type { NodeConfig } from '../../config/cluster.js';
import { NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { failureMessage, withNodeSsh } from '../node-ssh.js';
import type { Outcome } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { openNodeSftp } from './save.js';
import { sftpDirectory } from './sftp-directory.js';

const lostConnectionAdvice = 'nothing is left behind by a listing or a check; a removal stops between two files; check that sshd is up and run again';

export const listOverSftp = (node: NodeConfig, scope: RunScope) => onDirectory(node, scope, (dir) => listSnapshotFiles(dir));

export const removeOverSftp = (node: NodeConfig, names: string[], scope: RunScope) =>
  onDirectory(node, scope, (dir) => removeSnapshotFiles(dir, names, (line) => scope.log.debug(`host ${node.address}: ${line}`)));

export const verifyOverSftp = (node: NodeConfig, name: string, scope: RunScope) => onDirectory(node, scope, (dir) => verifySnapshotCopy(dir, name));

/** Never throws. */
async function onDirectory<T>(node: NodeConfig, scope: RunScope, work: (dir: SnapshotDirectory) => Promise<T>): Promise<Outcome<T>> {
  try {
    const result = await withNodeSsh(node, scope, lostConnectionAdvice, async (ssh) => {
      const sftp = await openNodeSftp(ssh, scope);
      try {
        return await work(sftpDirectory(sftp, NODE_SNAPSHOT_DIR));
      } finally {
        sftp.end();
      }
    });
    return { ok: true, result, warnings: [] };
  } catch (error) {
    return { ok: false, error: failureMessage(error, node, scope), warnings: [] };
  }
}
