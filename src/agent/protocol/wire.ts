/**
 * The contract between the CLI (on the operator's machine) and the backup agent (in a
 * one-off container on an etcd node), common to every job; one module per job beside it.
 *
 * - Arguments carry only non-secret settings (each job's `agent*Args`).
 * - Everything sensitive (the cluster state file, S3 keys and CA) travels as one JSON
 *   document (`AgentInput`) on the container's standard input, closed after it; nothing
 *   secret is ever in the container's arguments, environment or labels.
 * - The agent logs human-readable lines on stderr and prints exactly one result line on
 *   stdout: RESULT_PREFIX followed by JSON (an outcome of model/snapshot.ts), then exits 0
 *   on success or 1 on failure. Progress lines may come before it.
 */
import type { ByteProgress } from '../../model/snapshot.js';
import type { S3Secrets } from '../../s3/settings.js';

export const RESULT_PREFIX = 'RKE-SNAPSHOT-RESULT ';

/**
 * Progress lines, on stdout before the result line, while the agent works (at most one a
 * second per phase, plus one when a phase's bytes are complete): RESULT_PREFIX's sibling.
 * The CLI reads them as the container's output streams (live progress); a CLI that does not
 * know them ignores them (it looks only for the result line), and an agent that prints none
 * simply shows no bytes.
 */
export const PROGRESS_PREFIX = 'RKE-SNAPSHOT-PROGRESS ';

/** The standard input document. Binary payloads are base64. */
export interface AgentInput {
  /** Contents of the cluster's .rkestate, to be placed as /etc/kubernetes/NAME.rkestate and zipped. */
  stateFileBase64?: string;
  /** S3 secrets and trust, for the S3 jobs. Absent keys mean the AWS default credential chain (IAM role). */
  s3?: S3Secrets;
}

export function formatProgressLine(progress: ByteProgress): string {
  return PROGRESS_PREFIX + JSON.stringify(progress);
}

/** One stdout line → the progress it reports, or undefined (another line, or malformed). */
export function parseProgressLine(line: string): ByteProgress | undefined {
  if (!line.startsWith(PROGRESS_PREFIX)) return undefined;
  try {
    const value = JSON.parse(line.slice(PROGRESS_PREFIX.length)) as Record<string, unknown>;
    if (value.phase !== 'snapshot' && value.phase !== 'verify' && value.phase !== 'upload') return undefined;
    if (value.bytes !== undefined && (typeof value.bytes !== 'number' || !Number.isFinite(value.bytes) || value.bytes < 0)) return undefined;
    return value.bytes === undefined ? { phase: value.phase } : { phase: value.phase, bytes: value.bytes };
  } catch {
    return undefined;
  }
}

export function formatResultLine(result: { ok: boolean }): string {
  return RESULT_PREFIX + JSON.stringify(result);
}

/**
 * Find the agent's result in its standard output: the last result line, if `isResult`
 * accepts it. Undefined when the agent printed none (it crashed, or was killed) or
 * printed something malformed.
 */
export function parseLastResult<T>(stdout: string, isResult: (value: unknown) => value is T): T | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(RESULT_PREFIX));
  if (line === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(line.slice(RESULT_PREFIX.length));
    if (isResult(value)) return value;
  } catch {
    // fall through: malformed
  }
  return undefined;
}

/**
 * A result-line check: a failure with its error, or a success that `isSuccess` accepts.
 * Each job's parser is one of these.
 */
export function outcomeCheck<T extends { ok: boolean }>(isSuccess: (record: Record<string, unknown>) => boolean): (value: unknown) => value is T {
  return (value: unknown): value is T => {
    if (typeof value !== 'object' || value === null) return false;
    const record = value as Record<string, unknown>;
    if (record.ok === false) return typeof record.error === 'string';
    return record.ok === true && isSuccess(record);
  };
}
