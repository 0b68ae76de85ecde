/**
 * How a node is reached and its snapshots worked on: the one thing `--runtime` changes.
 * docker: the agent in one-off containers on the node's engine (RKE's way); ssh: no
 * Docker, etcd through an SSH tunnel and the files over SFTP. Everything above this seam
 * (the run, the one-copy S3 rule, the stores of ls/rm/prune/verify, the reports) is the
 * same for both.
 */
import type { NodeConfig } from '../config/cluster.js';
import type { CompressionMode } from '../model/compression.js';
import type { CopyCheck, ObjectCheck, S3Listing, S3Removal, SnapshotListing, SnapshotRemoval, UploadedSnapshot } from '../model/snapshot.js';
import type { RestoreDrilled } from '../model/restore.js';
import type { S3Settings } from '../s3/settings.js';
import type { NodeResult, ReportedUpload, RuntimeName } from './result.js';
import type { RunScope } from './scope.js';

/** save: take the snapshot NAME on a node. */
export interface SaveJob {
  name: string;
  overwrite: boolean;
  /** The cluster's state file, to travel inside the archive; undefined when there is none. */
  stateFile?: Buffer;
  /** --pki-bundle: also write (and with --s3 upload) each node's pki.bundle.tar.gz. */
  pkiBundle?: boolean;
  /** --compression; absent: the agent's default. */
  compression?: CompressionMode;
}

/** upload: the run's one S3 copy, from a node whose save succeeded. */
export interface UploadJob {
  name: string;
  overwrite: boolean;
  pkiBundle?: boolean;
  /** An rke-tools image has no upload-only command: it snapshots again, with the state file. */
  stateFile?: Buffer;
  s3: S3Settings;
}

/** A job's answer: its result or one line of error, and what the operator should know either way. */
export type Outcome<T> = { ok: true; result: T; warnings: string[] } | { ok: false; error: string; warnings: string[] };

/** What an upload came to. */
export interface UploadReport {
  uploaded: UploadedSnapshot | ReportedUpload;
  /** An rke-tools image snapshots again to upload: the node's file this run now holds. */
  rewrote?: Pick<NodeResult, 'file' | 'size'>;
}

/** The S3 location's jobs, run as this runtime runs them (from a node, or from this machine). */
export interface S3Jobs {
  list(): Promise<S3Outcome<S3Listing>>;
  remove(names: string[]): Promise<S3Outcome<S3Removal>>;
  verify(name: string): Promise<S3Outcome<ObjectCheck>>;
}

/** The S3 answer and who asked: `via` is the etcd node whose container asked, absent when this machine did. */
export type S3Outcome<T> = Outcome<T> & { via?: string };

export interface NodeRuntime {
  readonly name: RuntimeName;
  /** Never throws: a failure is the result's `error`. */
  save(node: NodeConfig, job: SaveJob, scope: RunScope): Promise<NodeResult>;
  /** Uploads the NAME.zip that `saved` describes. Never throws. */
  upload(node: NodeConfig, job: UploadJob, saved: NodeResult, scope: RunScope): Promise<Outcome<UploadReport>>;
  /** The node's /opt/rke/etcd-snapshots. Never throws. */
  list(node: NodeConfig, scope: RunScope): Promise<Outcome<SnapshotListing>>;
  /** Unlinks NAME.zip and NAME for each name. Never throws. */
  remove(node: NodeConfig, names: string[], scope: RunScope): Promise<Outcome<SnapshotRemoval>>;
  /** Checks the node's NAME.zip. Never throws. */
  verify(node: NodeConfig, name: string, scope: RunScope): Promise<Outcome<CopyCheck>>;
  /**
   * `snapshot-verify --restore`: restores the node's NAME.zip with the node's etcd image and reads
   * it back (SPEC §8); `placedCopy`: a copy placed there for the drill (.restore-drill-<hex>.zip,
   * an S3 copy), drilled and removed instead. Never throws. Absent: this runtime cannot drill (no Docker).
   */
  restore?(node: NodeConfig, name: string, scope: RunScope, placedCopy?: string): Promise<Outcome<RestoreDrilled>>;
  /** The bucket/folder's jobs; `nodes` are the etcd nodes a runtime may ask from. */
  s3(settings: S3Settings, nodes: NodeConfig[], scope: RunScope): S3Jobs;
}
