import type { Census } from '../model/census.js';
import type { PkiBundleFile, UploadedSnapshot } from '../model/snapshot.js';

/** `--runtime`: docker (the agent in a one-off container, RKE's way) or ssh (agentless: etcd through an SSH tunnel, the zip over SFTP). */
export const RUNTIME_NAMES = ['docker', 'ssh'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/**
 * What one etcd node's snapshot came to. Every phase of the run fills in the same
 * record, so reporting and the exit status read from one place.
 */
export interface NodeResult {
  /** The node's SSH address, as in cluster.yml. */
  address: string;
  hostnameOverride?: string;
  ok: boolean;
  /** On success: the zip on the node, its size and SHA-256, and the etcd snapshot's own. */
  file?: string;
  size?: number;
  sha256?: string;
  snapshotSize?: number;
  snapshotSha256?: string;
  /** The etcd revision the snapshot holds, as the agent read it (absent for rke-tools images, or if unreadable). */
  revision?: number;
  /** Its live keys per Kubernetes resource, read as it streamed (absent for rke-tools images and older agents, or with censusProblem). */
  census?: Census;
  censusProblem?: string;
  stateFileIncluded?: boolean;
  /** With --pki-bundle: the node's pki.bundle.tar.gz. */
  pkiBundle?: PkiBundleFile;
  durationMs: number;
  /** Where durationMs went, phase by phase (in --output json and under --debug). */
  timings?: NodeTimings;
  /** The snapshot agent's own peak resident memory. */
  agentPeakRssBytes?: number;
  /** On failure: one line naming the node and the cause. */
  error?: string;
  /** With --s3, on the one node whose copy went to S3. */
  upload?: UploadedSnapshot | ReportedUpload;
  /** With --s3, on each node whose upload was tried and failed. */
  uploadError?: string;
  /** Things the operator should know even when the node succeeded. */
  warnings: string[];
  /** Set with --runtime ssh (absent: the docker runtime, as before the flag existed). */
  runtime?: RuntimeName;
}

/** Milliseconds per phase of one node's snapshot, in the order they happen. */
export interface NodeTimings {
  /** SSH connection and authentication (through the bastion when there is one). */
  sshConnectMs?: number;
  /** Docker info and version check, the etcd container inspected. */
  dockerChecksMs?: number;
  /** The agent image found on the node, or loaded / pulled. */
  imageMs?: number;
  /** Stale-container check, create, attach, start. */
  containerStartMs?: number;
  /** The agent's run: health check, snapshot, zip, read-back. */
  agentMs?: number;
  /** The container's removal. */
  containerRemoveMs?: number;
}

/**
 * An upload done by an image driven with rke-tools' command line: the container says it
 * uploaded (exit 0, its log line); that contract gives nothing to verify the object by.
 */
export interface ReportedUpload {
  reportedBy: 'rke-tools';
  bucket: string;
  key: string;
  /** From the container's "Successfully uploaded [KEY] of size [N]" line, when it printed one. */
  size?: number;
  warnings: string[];
}

export interface RunVerdict {
  exitCode: number;
  /** One line for the log: what went wrong overall, if anything. */
  summary?: string;
}

/**
 * RKE's rule: the run fails only when no node produced a snapshot, or, with --s3, when
 * no copy reached S3; with --strict any failed node fails the run. A container we could not remove also fails a --strict run,
 * since the node was left in a state the operator must clean up.
 */
export function verdictFor(results: NodeResult[], strict: boolean, s3Requested = false): RunVerdict {
  const failed = results.filter((result) => !result.ok);
  const succeeded = results.length - failed.length;
  if (succeeded === 0) {
    return { exitCode: 1, summary: `no etcd node produced a snapshot (${failed.length} failed)` };
  }
  if (s3Requested && !results.some((result) => result.upload)) {
    const tried = results.filter((result) => result.uploadError);
    return {
      exitCode: 1,
      summary: `the snapshot was saved on ${succeeded} node(s) but not uploaded to S3` + (tried.length ? ` (tried ${tried.map((r) => r.address).join(', ')})` : ''),
    };
  }
  const uploadFailures = results.filter((result) => result.uploadError);
  if (uploadFailures.length > 0 && strict) {
    return { exitCode: 1, summary: `--strict: the upload failed on ${failedAddresses(uploadFailures)} before another node's copy was uploaded` };
  }
  if (failed.length > 0 && strict) {
    return { exitCode: 1, summary: `--strict: ${failed.length} of ${results.length} etcd nodes failed: ${failedAddresses(failed)}` };
  }
  if (failed.length > 0) {
    return {
      exitCode: 0,
      summary: `${failed.length} of ${results.length} etcd nodes failed: ${failedAddresses(failed)} (pass --strict to make this an error)`,
    };
  }
  return { exitCode: 0 };
}

function failedAddresses(failed: NodeResult[]): string {
  return failed.map((result) => result.address).join(', ');
}
