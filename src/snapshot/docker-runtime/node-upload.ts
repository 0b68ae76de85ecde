import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { agentUploadArgs, parseUploadResultLine } from '../../agent/protocol/upload.js';
import { parseProgressLine, type AgentInput } from '../../agent/protocol/wire.js';
import type { S3Target } from '../../s3/settings.js';
import type { UploadRequest } from '../../s3/upload/upload.js';
import type { UploadedSnapshot } from '../../model/snapshot.js';
import type { NodeConfig } from '../../config/cluster.js';
import { OperatorError } from '../../errors.js';
import type { S3Settings } from '../../s3/settings.js';
import {
  agentSuccess,
  ensureAgentImage,
  failureMessage,
  runAgentContainer,
  withNodeEngine,
  type RunContext,
} from './node-snapshot.js';
import type { NodeResult, ReportedUpload } from '../result.js';
import { resolveImageContract, rkeToolsUpload } from './rke-tools-image.js';

export const UPLOAD_CONTAINER_NAME = 'etcd-snapshot-upload';

/**
 * One copy per run: every node's snapshot would go to the same key, so the first node
 * whose snapshot succeeded uploads it, and the next one is tried only if that fails.
 * (RKE lets every node race for the key and silently skips when it exists.)
 * Fills in `upload` on the node that uploaded and `uploadError` on those that failed.
 */
export async function uploadOneCopy(
  results: NodeResult[],
  nodes: NodeConfig[],
  settings: S3Settings,
  context: RunContext,
  upload: (node: NodeConfig, settings: S3Settings, context: RunContext, result: NodeResult) => Promise<UploadedSnapshot | ReportedUpload> = uploadFromNode,
): Promise<void> {
  for (const result of results) {
    if (!result.ok || context.signal.aborted) continue;
    const node = nodes.find((candidate) => candidate.address === result.address)!;
    const fromHere = context.runtime === 'ssh' ? ' from this machine (--runtime ssh)' : '';
    context.log.info(`[${node.address}] uploading ${result.file} to s3://${settings.bucketName}/${fromHere}`);
    context.progress?.({ node: node.address, phase: 'upload' });
    try {
      const uploaded = await upload(node, settings, context, result).finally(() => context.progress?.({ node: node.address, phase: 'done' }));
      if (!('reportedBy' in uploaded)) checkUploadedBundle(uploaded, result, node, context);
      result.upload = uploaded;
      const how = 'reportedBy' in uploaded ? 'reported by the rke-tools container' : `verified by ${uploaded.verifiedBy}`;
      context.log.info(`[${node.address}] uploaded s3://${uploaded.bucket}/${uploaded.key} (${uploaded.size ?? '?'} bytes, ${how})`);
      if (!('reportedBy' in uploaded) && uploaded.pkiBundle) {
        context.log.info(`[${node.address}] uploaded s3://${uploaded.bucket}/${uploaded.pkiBundle.key} (${uploaded.pkiBundle.size} bytes, verified by ${uploaded.pkiBundle.verifiedBy})`);
      }
      for (const warning of uploaded.warnings) context.log.warn(`[${node.address}] ${warning}`);
      return;
    } catch (error) {
      result.uploadError = failureMessage(error, node, context);
      context.log.warn(`[${node.address}] upload failed: ${result.uploadError}`);
    }
  }
}

/**
 * With --pki-bundle the uploaded bundle must be the one this run's snapshot step wrote
 * on that node (the file is not named per snapshot, so another run could have replaced it).
 */
function checkUploadedBundle(upload: UploadedSnapshot, result: NodeResult, node: NodeConfig, context: RunContext): void {
  if (!context.pkiBundle) return;
  const uploaded = upload.pkiBundle;
  if (uploaded === undefined) {
    throw new OperatorError(`host ${node.address}: the upload agent did not upload the PKI bundle; does --backup-image support --pki-bundle?`);
  }
  if (result.pkiBundle === undefined || uploaded.sha256 !== result.pkiBundle.sha256) {
    throw new OperatorError(
      `host ${node.address}: s3://${upload.bucket}/${uploaded.key} (sha256 ${uploaded.sha256}) is not the PKI bundle this run wrote ` +
        `(sha256 ${result.pkiBundle?.sha256 ?? 'none'}): ${result.pkiBundle?.file ?? 'the file'} was replaced in between, perhaps by another run; check it and run again`,
    );
  }
}

/** The docker runtime's upload: an `etcd-snapshot-upload` container on the node (its IAM role applies). */
export async function uploadFromNode(
  node: NodeConfig,
  settings: S3Settings,
  context: RunContext,
  result: NodeResult,
): Promise<UploadedSnapshot | ReportedUpload> {
  return withNodeEngine(node, context, async (docker, nodeContext) => {
    const image = await ensureAgentImage(docker, node, nodeContext);
    if ((await resolveImageContract(docker, image, node, nodeContext)) === 'rke-tools') {
      return rkeToolsUpload(docker, image, node, nodeContext, result, settings);
    }
    const outcome = await runAgentContainer(docker, image, node, nodeContext, result.warnings, {
      name: UPLOAD_CONTAINER_NAME,
      cmd: agentUploadArgs({
        ...uploadRequestFor(context, settings),
        ...(context.pkiBundle ? { pkiBundle: true } : {}),
        ...(result.sha256 === undefined ? {} : { sha256: result.sha256 }),
      }),
      binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}:ro`],
      onStdoutLine: (line) => {
        const progress = parseProgressLine(line);
        if (progress?.bytes !== undefined) context.progress?.({ node: node.address, phase: 'upload', bytes: progress.bytes });
      },
      input: uploadSecretsFor(settings),
    });
    return agentSuccess(outcome, parseUploadResultLine, node, 'upload', context.log);
  });
}

/** What the upload is told, the same from a node's container or from this machine (--runtime ssh). */
export function uploadRequestFor(context: Pick<RunContext, 'name' | 'overwrite'>, settings: S3Settings): UploadRequest {
  return { name: context.name, ...s3TargetOf(settings), overwrite: context.overwrite };
}

/** Where in S3, as every agent S3 command takes it (upload, s3-list, s3-remove, s3-verify). */
export function s3TargetOf(settings: S3Settings): S3Target {
  return { endpoint: settings.endpoint, bucket: settings.bucketName, folder: settings.folder, ...(settings.region ? { region: settings.region } : {}) };
}

/** The keys and the CA: on an agent container's stdin, never in its arguments or environment. */
export function uploadSecretsFor(settings: S3Settings): AgentInput {
  return { s3: { ...(settings.credentials ?? {}), ...(settings.customCa ? { customCaPem: settings.customCa } : {}) } };
}
