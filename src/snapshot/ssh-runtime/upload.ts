import type { NodeConfig } from '../../config/cluster.js';
import { OperatorError } from '../../errors.js';
import { s3SecretsOf, s3TargetOf } from '../../s3/settings.js';
import { uploadOpenedSnapshot } from '../../s3/upload/upload.js';
import { failureMessage, withNodeSsh } from '../node-ssh.js';
import type { NodeResult } from '../result.js';
import type { Outcome, UploadJob, UploadReport } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { openNodeSftp } from './save.js';

const lostConnectionAdvice = 'the upload was stopped (an incomplete multipart upload is aborted); check that sshd is up and run again';

/** Where --runtime ssh finds S3 credentials: this machine, not the nodes. */
export const NO_CREDENTIALS_HERE =
  'no S3 credentials on this machine (--runtime ssh uploads from here, not from the nodes): pass --access-key and --secret-key-file, ' +
  'or provide them through the AWS credential chain here (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, an instance role)';

/**
 * --runtime ssh --s3: the node's NAME.zip, read over SFTP, is uploaded from the operator's
 * machine with the agent's upload code (same key, bucket and key checks, ETag verification),
 * so this machine's credential chain applies. The object's sha256 metadata is the one the
 * snapshot step read back; the upload fails if the bytes sent hash to anything else.
 * Never throws.
 */
export async function uploadFromOperator(node: NodeConfig, job: UploadJob, saved: NodeResult, scope: RunScope): Promise<Outcome<UploadReport>> {
  try {
    const uploaded = await uploadOverSftp(node, job, saved, scope);
    return { ok: true, result: { uploaded }, warnings: [] };
  } catch (error) {
    return { ok: false, error: failureMessage(error, node, scope), warnings: [] };
  }
}

async function uploadOverSftp(node: NodeConfig, job: UploadJob, saved: NodeResult, scope: RunScope) {
  const path = saved.file;
  const sha256 = saved.sha256;
  if (path === undefined || sha256 === undefined) throw new Error(`host ${node.address}: no snapshot file to upload`);
  return withNodeSsh(node, scope, lostConnectionAdvice, async (ssh, nodeScope) => {
    const sftp = await openNodeSftp(ssh, scope);
    try {
      const before = await sftp.lstat(path);
      if (before === undefined) throw new OperatorError(`${path} does not exist on host ${node.address} any more; run the snapshot again`);
      if (before.isSymbolicLink()) throw new OperatorError(`${path} on host ${node.address} is a symbolic link; refusing to upload through it`);
      if (!before.isFile()) throw new OperatorError(`${path} on host ${node.address} is not a regular file; refusing to upload it`);
      const file = await sftp.openForReading(path);
      try {
        const { size } = await file.stat();
        return await uploadOpenedSnapshot(
          { name: job.name, ...s3TargetOf(job.s3), overwrite: job.overwrite, ...(job.s3.protection ? { protection: job.s3.protection } : {}) },
          s3SecretsOf(job.s3),
          { handle: file, size, sha256, displayPath: `${path} on host ${node.address}`, sha256Origin: 'save' },
          {
            log: (line) => scope.log.debug(`host ${node.address}: upload: ${line}`),
            signal: nodeScope.signal,
            noCredentials: async () => new OperatorError(NO_CREDENTIALS_HERE),
          },
        );
      } finally {
        await file.close().catch(() => undefined);
      }
    } finally {
      sftp.end();
    }
  });
}
