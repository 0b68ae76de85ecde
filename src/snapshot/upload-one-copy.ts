/**
 * One copy per run: every node's snapshot would go to the same key, so the first node
 * whose snapshot succeeded uploads it, and the next one is tried only if that fails.
 * (RKE lets every node race for the key and silently skips when it exists.)
 */
import type { NodeConfig } from '../config/cluster.js';
import type { UploadedSnapshot } from '../model/snapshot.js';
import type { NodeResult } from './result.js';
import type { NodeRuntime, UploadJob } from './runtime.js';
import type { RunScope } from './scope.js';

/** Fills in `upload` on the node that uploaded and `uploadError` on those that failed. */
export async function uploadOneCopy(results: NodeResult[], nodes: NodeConfig[], job: UploadJob, runtime: NodeRuntime, scope: RunScope): Promise<void> {
  for (const result of results) {
    if (!result.ok || scope.signal.aborted) continue;
    const node = nodes.find((candidate) => candidate.address === result.address)!;
    const fromHere = runtime.name === 'ssh' ? ' from this machine (--runtime ssh)' : '';
    scope.log.info(`[${node.address}] uploading ${result.file} to s3://${job.s3.bucketName}/${fromHere}`);
    scope.progress?.({ node: node.address, phase: 'upload' });
    const outcome = await runtime.upload(node, job, result, scope);
    scope.progress?.({ node: node.address, phase: 'done' });
    result.warnings.push(...outcome.warnings);
    const problem = outcome.ok ? bundleProblem(outcome.result.uploaded, result, node, job) : outcome.error;
    if (!outcome.ok || problem !== undefined) {
      result.uploadError = problem;
      scope.log.warn(`[${node.address}] upload failed: ${problem}`);
      if (problem !== undefined && isStalledServer(problem)) {
        // It answered, then went silent mid-upload: another node's try would most likely only
        // wait out the client's timeouts against the same server (docs/reliability.md).
        scope.log.warn(`not trying the other nodes' copies: the S3 endpoint stopped answering; they stay on their nodes`);
        return;
      }
      continue;
    }
    const { uploaded, rewrote } = outcome.result;
    if (rewrote) Object.assign(result, rewrote);
    result.upload = uploaded;
    const how = 'reportedBy' in uploaded ? 'reported by the rke-tools container' : `verified by ${uploaded.verifiedBy}`;
    scope.log.info(`[${node.address}] uploaded s3://${uploaded.bucket}/${uploaded.key} (${uploaded.size ?? '?'} bytes, ${how})`);
    if (!('reportedBy' in uploaded) && uploaded.pkiBundle) {
      scope.log.info(`[${node.address}] uploaded s3://${uploaded.bucket}/${uploaded.pkiBundle.key} (${uploaded.pkiBundle.size} bytes, verified by ${uploaded.pkiBundle.verifiedBy})`);
    }
    for (const warning of uploaded.warnings) scope.log.warn(`[${node.address}] ${warning}`);
    return;
  }
}

/**
 * With --pki-bundle the uploaded bundle must be the one this run's snapshot step wrote
 * on that node (the file is not named per snapshot, so another run could have replaced it).
 */
function bundleProblem(uploaded: UploadedSnapshot | { reportedBy: 'rke-tools' }, result: NodeResult, node: NodeConfig, job: UploadJob): string | undefined {
  if ('reportedBy' in uploaded || !job.pkiBundle) return undefined;
  const bundle = uploaded.pkiBundle;
  if (bundle === undefined) {
    return `host ${node.address}: the upload agent did not upload the PKI bundle; does --backup-image support --pki-bundle?`;
  }
  if (result.pkiBundle === undefined || bundle.sha256 !== result.pkiBundle.sha256) {
    return (
      `host ${node.address}: s3://${uploaded.bucket}/${bundle.key} (sha256 ${bundle.sha256}) is not the PKI bundle this run wrote ` +
      `(sha256 ${result.pkiBundle?.sha256 ?? 'none'}): ${result.pkiBundle?.file ?? 'the file'} was replaced in between, perhaps by another run; check it and run again`
    );
  }
  return undefined;
}

/** The upload's stall bound ended it (s3/upload/stall.ts). */
export function isStalledServer(message: string): boolean {
  return /S3 endpoint \S+ stopped answering during the upload/.test(message);
}
