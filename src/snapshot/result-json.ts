/**
 * `snapshot-save --output json`: the run's result for scripts. Stable: fields are only
 * ever added (schemaVersion changes otherwise). Documented in docs/snapshot-inventory.md.
 */
import type { NodeResult, RunVerdict } from './result.js';

export interface SaveResultDocument {
  schemaVersion: 1;
  command: 'snapshot-save';
  name: string;
  exitCode: number;
  summary?: string;
  interrupted: boolean;
  nodes: Array<Omit<NodeResult, 'upload'>>;
  /** With --s3: the one copy that reached S3 (and from which node), or null when none did. */
  s3?: (NonNullable<NodeResult['upload']> & { uploadedFrom: string }) | null;
}

export function saveResultDocument(
  name: string,
  results: NodeResult[],
  verdict: RunVerdict,
  options: { s3Requested: boolean; interruptedExitCode?: number },
): SaveResultDocument {
  const uploaded = results.find((result) => result.upload !== undefined);
  const exitCode = options.interruptedExitCode ?? verdict.exitCode;
  return {
    schemaVersion: 1,
    command: 'snapshot-save',
    name,
    exitCode,
    ...(verdict.summary && options.interruptedExitCode === undefined ? { summary: verdict.summary } : {}),
    interrupted: options.interruptedExitCode !== undefined,
    nodes: results.map(({ upload: _upload, ...node }) => node),
    ...(options.s3Requested ? { s3: uploaded ? { ...uploaded.upload!, uploadedFrom: uploaded.address } : null } : {}),
  };
}
