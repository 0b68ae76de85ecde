import type { UploadedSnapshot } from '../../model/snapshot.js';
import { uploadOpenedSnapshot } from '../../s3/upload/upload.js';
import type { NodeConfig } from '../../config/cluster.js';
import { OperatorError } from '../../errors.js';
import type { S3Settings } from '../../s3/settings.js';
import { NodeSftp } from '../../ssh/sftp.js';
import { withNodeSsh, type RunContext } from '../docker-runtime/node-snapshot.js';
import { SFTP_REQUEST_TIMEOUT_MS } from './node-snapshot-ssh.js';
import { uploadRequestFor, uploadSecretsFor } from '../docker-runtime/node-upload.js';
import type { NodeResult } from '../result.js';

const lostConnectionAdvice = 'the upload was stopped (an incomplete multipart upload is aborted); check that sshd is up and run again';

/**
 * --runtime ssh --s3: the node's NAME.zip, read over SFTP, is uploaded from the operator's
 * machine with the agent's upload code (same key, bucket and key checks, ETag verification),
 * so this machine's credential chain applies. The object's sha256 metadata is the one the
 * snapshot step read back; the upload fails if the bytes sent hash to anything else.
 */
export async function uploadFromOperator(node: NodeConfig, settings: S3Settings, context: RunContext, result: NodeResult): Promise<UploadedSnapshot> {
  const path = result.file;
  const sha256 = result.sha256;
  if (path === undefined || sha256 === undefined) throw new Error(`host ${node.address}: no snapshot file to upload`);
  return withNodeSsh(node, context, lostConnectionAdvice, async (ssh, nodeContext) => {
    const sftp = await NodeSftp.open(ssh, { openTimeoutMs: context.timeouts.sshConnectMs, requestTimeoutMs: SFTP_REQUEST_TIMEOUT_MS });
    try {
      const before = await sftp.lstat(path);
      if (before === undefined) throw new OperatorError(`${path} does not exist on host ${node.address} any more; run the snapshot again`);
      if (before.isSymbolicLink()) throw new OperatorError(`${path} on host ${node.address} is a symbolic link; refusing to upload through it`);
      if (!before.isFile()) throw new OperatorError(`${path} on host ${node.address} is not a regular file; refusing to upload it`);
      const file = await sftp.openForReading(path);
      try {
        const { size } = await file.stat();
        return await uploadOpenedSnapshot(
          uploadRequestFor(context, settings),
          uploadSecretsFor(settings),
          { handle: file, size, sha256, displayPath: `${path} on host ${node.address}`, sha256Origin: 'save' },
          {
            log: (line) => context.log.debug(`host ${node.address}: upload: ${line}`),
            signal: nodeContext.signal,
            noCredentials: async () =>
              new OperatorError(
                'no S3 credentials on this machine (--runtime ssh uploads from here, not from the nodes): pass --access-key and --secret-key-file, ' +
                  'or provide them through the AWS credential chain here (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, an instance role)',
              ),
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
