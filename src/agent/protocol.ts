/**
 * The contract between the CLI (on the operator's machine) and the backup agent
 * (in the one-off `etcd-snapshot-once` container on an etcd node).
 *
 * - Arguments carry only non-secret settings (see `agentSaveArgs`).
 * - Everything sensitive (the cluster state file today, S3 keys later) travels as one
 *   JSON document (`AgentInput`) on the container's standard input, closed after it;
 *   nothing secret is ever in the container's arguments, environment or labels.
 * - The agent logs human-readable lines on stderr and prints exactly one result line
 *   on stdout: RESULT_PREFIX followed by JSON (`AgentResult`), then exits 0 on success
 *   or 1 on failure.
 */

import type { CompressionMode } from './compression.js';

/** Where the container sees the node's directories (binds made by the CLI). */
export const CONTAINER_BACKUP_DIR = '/backup';
export const CONTAINER_KUBERNETES_DIR = '/etc/kubernetes';
export const CONTAINER_SSL_DIR = '/etc/kubernetes/ssl';

/** Where the node keeps snapshots (RKE's fixed path). */
export const NODE_SNAPSHOT_DIR = '/opt/rke/etcd-snapshots';

/** `--pki-bundle`: RKE v0.1.x's certificate bundle beside the snapshots (one per node, replaced on every run). */
export const PKI_BUNDLE_FILE_NAME = 'pki.bundle.tar.gz';

/**
 * V8's young generation, in MiB per semi-space (docs/performance.md). Node's default lets it grow to
 * 16 MiB (two of them, 32 MiB of heap) and scavenges only when it fills; a small one keeps the heap
 * small and frees short-lived Buffers sooner, for a little more (cheap) scavenging.
 */
export const AGENT_SEMI_SPACE_MIB = 2;

/** Where the agent lives inside its image, and how node runs it. */
export const AGENT_IMAGE_ENTRYPOINT = ['/usr/local/bin/node', `--max-semi-space-size=${AGENT_SEMI_SPACE_MIB}`, '/opt/rke-snapshot-agent/agent.mjs'];

export const RESULT_PREFIX = 'RKE-SNAPSHOT-RESULT ';

/**
 * Progress lines, on stdout before the result line, while the agent works (at most one a
 * second per phase, plus one when a phase's bytes are complete): RESULT_PREFIX's sibling.
 * The CLI reads them as the container's output streams (live progress); a CLI that does not
 * know them ignores them (it looks only for the result line), and an agent that prints none
 * simply shows no bytes.
 */
export const PROGRESS_PREFIX = 'RKE-SNAPSHOT-PROGRESS ';

export interface AgentProgress {
  /** snapshot: etcd's stream into the zip (bytes received from etcd); verify: the read-back; upload: bytes sent to S3. */
  phase: 'snapshot' | 'verify' | 'upload';
  /** Bytes done so far in this phase, when the phase counts bytes. */
  bytes?: number;
}

export function formatProgressLine(progress: AgentProgress): string {
  return PROGRESS_PREFIX + JSON.stringify(progress);
}

/** One stdout line → the progress it reports, or undefined (another line, or malformed). */
export function parseProgressLine(line: string): AgentProgress | undefined {
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

export interface AgentSaveRequest {
  /** Snapshot name, already validated by the CLI (validateSnapshotName). */
  name: string;
  /** etcd client URL of this node's member, e.g. https://10.0.0.1:2379 */
  endpoint: string;
  cacert: string;
  cert: string;
  key: string;
  /** Replace an existing NAME.zip instead of refusing. */
  overwrite: boolean;
  /** How long the agent may spend on the etcd health check, in seconds. */
  healthTimeoutSeconds: number;
  /** Also write /opt/rke/etcd-snapshots/pki.bundle.tar.gz (the node's /etc/kubernetes/ssl). Absent: false. */
  pkiBundle?: boolean;
  /** How the snapshot is compressed in the zip. Absent: DEFAULT_COMPRESSION. */
  compression?: CompressionMode;
}

/** The standard input document. Binary payloads are base64. */
export interface AgentInput {
  /** Contents of the cluster's .rkestate, to be placed as /etc/kubernetes/NAME.rkestate and zipped. */
  stateFileBase64?: string;
  /** S3 secrets and trust, for `upload`. Absent keys mean the AWS default credential chain (IAM role). */
  s3?: AgentS3Input;
}

export interface AgentS3Input {
  accessKeyId?: string;
  secretAccessKey?: string;
  /** PEM text of the CA to trust for a custom endpoint. */
  customCaPem?: string;
}

/** `upload`: send /backup/NAME.zip (already written by `save`) to S3 as <folder>/NAME.zip. */
export interface AgentUploadRequest {
  name: string;
  /** host[:port] without scheme; always HTTPS. */
  endpoint: string;
  bucket: string;
  region?: string;
  /** Normalized key prefix without leading/trailing slashes; '' for none. */
  folder: string;
  /** Replace an object left by an earlier run on an unversioned bucket. */
  overwrite: boolean;
  /** Also upload the node's pki.bundle.tar.gz as <folder>/NAME.pki.bundle.tar.gz. Absent: false. */
  pkiBundle?: boolean;
  /**
   * The SHA-256 (hex) of NAME.zip as this run's save read it back. Given, the bytes sent
   * must hash to it, and the file is not read a first time for its hash.
   */
  sha256?: string;
}

export interface AgentSuccess {
  ok: true;
  /** Path of the zip as the node sees it: /opt/rke/etcd-snapshots/NAME.zip */
  file: string;
  /** Size and SHA-256 (hex) of the zip file as written and read back. */
  size: number;
  sha256: string;
  /** Size and SHA-256 of the etcd snapshot itself (the db, without etcd's 32-byte trailer). */
  snapshotSize: number;
  snapshotSha256: string;
  /** The etcd revision the snapshot holds (what `etcdctl snapshot status` prints); absent when its database could not be read. */
  revision?: number;
  /** Whether the state file went into the archive. */
  stateFileIncluded: boolean;
  /** Wall time of the agent's work, in milliseconds. */
  durationMs: number;
  /** The agent process's peak resident memory, for the operator's (and the benchmark's) eye. */
  peakRssBytes?: number;
  /** The agent process's CPU time (user + system), in milliseconds, for the same eyes (shown under --debug). */
  cpuMs?: number;
  /** With --pki-bundle: the bundle written beside the snapshot. */
  pkiBundle?: AgentPkiBundle;
}

/** The node's pki.bundle.tar.gz as written and read back. */
export interface AgentPkiBundle {
  /** /opt/rke/etcd-snapshots/pki.bundle.tar.gz */
  file: string;
  size: number;
  sha256: string;
  /** Entries in the tar (directories, files, symlinks). */
  entries: number;
}

export interface AgentFailure {
  ok: false;
  /** One line, naming what failed (endpoint, file) and the cause. */
  error: string;
}

export type AgentResult = AgentSuccess | AgentFailure;

export function agentSaveArgs(request: AgentSaveRequest): string[] {
  const args = [
    'save',
    '--name', request.name,
    '--endpoint', request.endpoint,
    '--cacert', request.cacert,
    '--cert', request.cert,
    '--key', request.key,
    '--health-timeout', String(request.healthTimeoutSeconds),
  ];
  if (request.overwrite) args.push('--overwrite');
  if (request.pkiBundle) args.push('--pki-bundle');
  if (request.compression !== undefined) args.push('--compression', request.compression);
  return args;
}

/** One object the upload wrote and checked. */
export interface AgentUploadedObject {
  key: string;
  size: number;
  sha256: string;
  etag: string;
  versionId?: string;
  verifiedBy: 'etag' | 'size';
}

export interface AgentUploadSuccess {
  ok: true;
  bucket: string;
  key: string;
  /** Bytes uploaded, and the SHA-256 (hex) of what was read from the node's file while uploading. */
  size: number;
  sha256: string;
  etag: string;
  /** Set on a versioned bucket. */
  versionId?: string;
  /** How the stored object was checked against what was sent. */
  verifiedBy: 'etag' | 'size';
  /** Degraded steps the operator should know about (e.g. a permission the policy lacks). */
  warnings: string[];
  durationMs: number;
  peakRssBytes?: number;
  /** With --pki-bundle: the node's pki.bundle.tar.gz, uploaded next to the snapshot. */
  pkiBundle?: AgentUploadedObject;
}

export type AgentUploadResult = AgentUploadSuccess | AgentFailure;

export function agentUploadArgs(request: AgentUploadRequest): string[] {
  const args = ['upload', '--name', request.name, '--endpoint', request.endpoint, '--bucket', request.bucket, '--folder', request.folder];
  if (request.region !== undefined) args.push('--region', request.region);
  if (request.overwrite) args.push('--overwrite');
  if (request.pkiBundle) args.push('--pki-bundle');
  if (request.sha256 !== undefined) args.push('--sha256', request.sha256);
  return args;
}

export function formatResultLine(
  result: AgentResult | AgentUploadResult | AgentListResult | AgentRemoveResult | AgentVerifyResult | AgentS3ListSuccess | AgentS3RemoveSuccess,
): string {
  return RESULT_PREFIX + JSON.stringify(result);
}

/**
 * Find the agent's result in its standard output. Returns undefined when the agent
 * printed none (it crashed, or was killed) or printed something malformed.
 */
export function parseResultLine(stdout: string): AgentResult | undefined {
  return parseLastResult(stdout, isAgentResult);
}

export function parseUploadResultLine(stdout: string): AgentUploadResult | undefined {
  return parseLastResult(stdout, isAgentUploadResult);
}

function parseLastResult<T>(stdout: string, isResult: (value: unknown) => value is T): T | undefined {
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

function isAgentUploadResult(value: unknown): value is AgentUploadResult {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record.ok === false) return typeof record.error === 'string';
  return (
    record.ok === true &&
    typeof record.key === 'string' &&
    typeof record.size === 'number' &&
    typeof record.sha256 === 'string' &&
    typeof record.etag === 'string' &&
    Array.isArray(record.warnings)
  );
}

function isAgentResult(value: unknown): value is AgentResult {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record.ok === false) return typeof record.error === 'string';
  return (
    record.ok === true &&
    typeof record.file === 'string' &&
    typeof record.size === 'number' &&
    typeof record.sha256 === 'string' &&
    typeof record.snapshotSize === 'number' &&
    typeof record.snapshotSha256 === 'string'
  );
}

/**
 * `list` (container `etcd-snapshot-ls`, /backup bound read-only): the snapshots directory's
 * regular files. `remove --name N [--name N ...]` (container `etcd-snapshot-rm`): unlink
 * N.zip and N. Neither reads standard input.
 */
export type AgentListRequest = Record<string, never>;

export interface AgentRemoveRequest {
  /** Plain snapshot names (snapshot-files.ts validateRemovableName). */
  names: string[];
}

/** One regular file in /opt/rke/etcd-snapshots. */
export interface AgentListedFile {
  /** The file's name in the directory. */
  file: string;
  /** zip: NAME.zip; raw: an old-style raw snapshot NAME; pki-bundle: pki.bundle.tar.gz. */
  kind: 'zip' | 'raw' | 'pki-bundle';
  /** The snapshot name (the file name without .zip; the file name itself for the others). */
  name: string;
  size: number;
  /** Modification time, ISO 8601 UTC. */
  modified: string;
  /** Only for files up to 64 MiB (LIST_SHA256_MAX_BYTES). */
  sha256?: string;
}

/** An entry that was seen and not listed or not removed, and why. */
export interface AgentSkippedEntry {
  file: string;
  reason: string;
}

export interface AgentListSuccess {
  ok: true;
  /** /opt/rke/etcd-snapshots */
  dir: string;
  files: AgentListedFile[];
  skipped: AgentSkippedEntry[];
  durationMs: number;
  peakRssBytes?: number;
}

export interface AgentRemovedName {
  name: string;
  /** removed: at least one file went and none was refused; missing: no file of that name; refused: an entry was not removed. */
  status: 'removed' | 'missing' | 'refused';
  /** On S3 also the key, and on a versioned bucket the delete marker's version id. */
  removed: Array<{ file: string; size: number; modified: string; key?: string; deleteMarker?: string }>;
  refused: AgentSkippedEntry[];
}

export interface AgentRemoveSuccess {
  ok: true;
  dir: string;
  names: AgentRemovedName[];
  durationMs: number;
  peakRssBytes?: number;
}

export type AgentListResult = AgentListSuccess | AgentFailure;
export type AgentRemoveResult = AgentRemoveSuccess | AgentFailure;

export function agentListArgs(): string[] {
  return ['list'];
}

export function agentRemoveArgs(request: AgentRemoveRequest): string[] {
  return ['remove', ...request.names.flatMap((name) => ['--name', name])];
}

export function parseListResultLine(stdout: string): AgentListResult | undefined {
  return parseLastResult(stdout, (value): value is AgentListResult => {
    if (typeof value !== 'object' || value === null) return false;
    const record = value as Record<string, unknown>;
    if (record.ok === false) return typeof record.error === 'string';
    return record.ok === true && typeof record.dir === 'string' && Array.isArray(record.files) && Array.isArray(record.skipped);
  });
}

export function parseRemoveResultLine(stdout: string): AgentRemoveResult | undefined {
  return parseLastResult(stdout, (value): value is AgentRemoveResult => {
    if (typeof value !== 'object' || value === null) return false;
    const record = value as Record<string, unknown>;
    if (record.ok === false) return typeof record.error === 'string';
    return record.ok === true && typeof record.dir === 'string' && Array.isArray(record.names);
  });
}

/** `verify --name NAME` (container `etcd-snapshot-verify`, /backup read-only): one node's copy checked. */
export interface AgentVerifySuccess {
  ok: true;
  /** /opt/rke/etcd-snapshots/NAME.zip */
  file: string;
  /** ok: intact and etcd's trailer matches; missing: no such file; bad: see `problem`. */
  status: 'ok' | 'missing' | 'bad';
  problem?: string;
  size?: number;
  sha256?: string;
  modified?: string;
  /** The etcd snapshot inside (without its 32-byte trailer), when it could be read whole. */
  snapshotSize?: number;
  snapshotSha256?: string;
  /** The etcd revision the snapshot holds (what `etcdctl snapshot status` prints), when `status` is ok. */
  revision?: number;
  stateFileIncluded?: boolean;
  durationMs: number;
  peakRssBytes?: number;
}

export type AgentVerifyResult = AgentVerifySuccess | AgentFailure;

export function agentVerifyArgs(name: string): string[] {
  return ['verify', '--name', name];
}

export function parseVerifyResultLine(stdout: string): AgentVerifyResult | undefined {
  return parseLastResult(stdout, (value): value is AgentVerifyResult => {
    if (typeof value !== 'object' || value === null) return false;
    const record = value as Record<string, unknown>;
    if (record.ok === false) return typeof record.error === 'string';
    return record.ok === true && typeof record.file === 'string' && typeof record.status === 'string';
  });
}

/**
 * The S3 location of `snapshot-ls/-rm/-prune/-verify --s3`, worked on by one agent container
 * on one etcd node (so the node's IAM role applies, as for `upload`); no bind, the keys and
 * the CA on standard input as for `upload` (`AgentInput.s3`):
 *   s3-list   --endpoint E --bucket B --folder F [--region R]                (container etcd-snapshot-s3-ls)
 *   s3-remove --endpoint E --bucket B --folder F [--region R] --name N ...   (container etcd-snapshot-s3-rm)
 *   s3-verify --endpoint E --bucket B --folder F [--region R] --name N       (container etcd-snapshot-s3-verify)
 */
export interface AgentS3Target {
  /** host[:port] without scheme; always HTTPS. */
  endpoint: string;
  bucket: string;
  region?: string;
  /** Normalized key prefix without leading/trailing slashes; '' for none. */
  folder: string;
}

export type AgentS3Command = 's3-list' | 's3-remove' | 's3-verify';

export function agentS3Args(command: AgentS3Command, target: AgentS3Target, names: string[] = []): string[] {
  const args = [command, '--endpoint', target.endpoint, '--bucket', target.bucket, '--folder', target.folder];
  if (target.region !== undefined) args.push('--region', target.region);
  for (const name of names) args.push('--name', name);
  return args;
}

/** One object of the bucket/folder that is a snapshot, as `list` describes a node's file (`file` is the key's last part). */
export interface AgentS3ListedObject extends AgentListedFile {
  /** The full object key. */
  key: string;
  etag: string;
}

export interface AgentS3ListSuccess {
  ok: true;
  /** s3://BUCKET[/FOLDER] */
  dir: string;
  files: AgentS3ListedObject[];
  skipped: AgentSkippedEntry[];
  /** Degraded steps (e.g. HeadObject refused: no sha256). */
  warnings: string[];
  durationMs: number;
  peakRssBytes?: number;
}

export interface AgentS3RemoveSuccess {
  ok: true;
  dir: string;
  /** On a versioned bucket a removal is a delete marker (`removed[].deleteMarker`); older versions stay. */
  versioned: boolean;
  names: AgentRemovedName[];
  warnings: string[];
  durationMs: number;
  peakRssBytes?: number;
}

/** `s3-verify`: the object checked as `verify` checks a node's file; `file` is s3://BUCKET/KEY. */
export interface AgentS3VerifySuccess extends AgentVerifySuccess {
  etag?: string;
  versionId?: string;
  /** The sha256 the upload stored as object metadata (x-amz-meta-sha256), when present. */
  recordedSha256?: string;
}

export function parseS3ListResultLine(stdout: string): AgentS3ListSuccess | AgentFailure | undefined {
  return parseLastResult(stdout, (value): value is AgentS3ListSuccess | AgentFailure => {
    const record = asRecord(value);
    if (record?.ok === false) return typeof record.error === 'string';
    return record?.ok === true && typeof record.dir === 'string' && Array.isArray(record.files) && Array.isArray(record.warnings);
  });
}

export function parseS3RemoveResultLine(stdout: string): AgentS3RemoveSuccess | AgentFailure | undefined {
  return parseLastResult(stdout, (value): value is AgentS3RemoveSuccess | AgentFailure => {
    const record = asRecord(value);
    if (record?.ok === false) return typeof record.error === 'string';
    return record?.ok === true && typeof record.dir === 'string' && Array.isArray(record.names) && Array.isArray(record.warnings);
  });
}

export function parseS3VerifyResultLine(stdout: string): AgentS3VerifySuccess | AgentFailure | undefined {
  return parseLastResult(stdout, (value): value is AgentS3VerifySuccess | AgentFailure => {
    const record = asRecord(value);
    if (record?.ok === false) return typeof record.error === 'string';
    return record?.ok === true && typeof record.file === 'string' && typeof record.status === 'string';
  });
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
