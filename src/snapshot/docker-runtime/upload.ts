/** docker runtime, upload: an `etcd-snapshot-upload` container on the node, so that the node's IAM role applies. */
import { agentUploadArgs, parseUploadResultLine } from '../../agent/protocol/upload.js';
import { parseProgressLine } from '../../agent/protocol/wire.js';
import type { NodeConfig } from '../../config/cluster.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { s3SecretsOf, s3TargetOf } from '../../s3/settings.js';
import { failureMessage } from '../node-ssh.js';
import { OperatorError } from '../../errors.js';
import type { NodeResult } from '../result.js';
import type { Outcome, UploadJob, UploadReport } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { agentSuccess, ensureAgentImage, runAgentContainer } from './agent-container.js';
import { withNodeEngine } from './engine.js';
import { limitsOf, type DockerRuntimeOptions } from './options.js';
import { resolveImageContract, rkeToolsUpload } from './rke-tools-image.js';

/** Never throws. */
export async function uploadFromNode(
  node: NodeConfig,
  job: UploadJob,
  saved: NodeResult,
  scope: RunScope,
  options: DockerRuntimeOptions,
): Promise<Outcome<UploadReport>> {
  const warnings: string[] = [];
  try {
    const report = await withNodeEngine(node, scope, async (engine): Promise<UploadReport> => {
      const image = await ensureAgentImage(engine, options.image);
      if ((await resolveImageContract(engine, image, options)) === 'rke-tools') {
        if (job.s3.protection !== undefined || job.s3.sseCustomerKey !== undefined) {
          throw new OperatorError(`${image} is driven with rke-tools' command line, which has no S3 encryption, Object Lock or age: use the bundled agent`);
        }
        const { uploaded, rewrote, warnings: rkeToolsWarnings } = await rkeToolsUpload(engine, image, job, limitsOf(options));
        warnings.push(...rkeToolsWarnings);
        return { uploaded, rewrote };
      }
      const outcome = await runAgentContainer(engine, {
        job: 'upload',
        image,
        snapshotName: job.name,
        cmd: agentUploadArgs({
          name: job.name,
          ...s3TargetOf(job.s3),
          overwrite: job.overwrite,
          ...(job.pkiBundle ? { pkiBundle: true } : {}),
          ...(saved.sha256 === undefined ? {} : { sha256: saved.sha256 }),
          ...(job.s3.protection ? { protection: job.s3.protection } : {}),
        }),
        binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}:ro`],
        onStdoutLine: (line) => {
          const progress = parseProgressLine(line);
          if (progress?.bytes !== undefined) scope.progress?.({ node: node.address, phase: 'upload', bytes: progress.bytes });
        },
        input: s3SecretsOf(job.s3),
        limits: limitsOf(options),
      });
      if (outcome.removalError) warnings.push(outcome.removalError);
      return { uploaded: agentSuccess(outcome, parseUploadResultLine, engine, 'upload') };
    });
    return { ok: true, result: report, warnings };
  } catch (error) {
    return { ok: false, error: failureMessage(error, node, scope), warnings };
  }
}
