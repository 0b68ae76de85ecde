import type { Census } from './census.js';

/**
 * One vocabulary for a snapshot wherever it is: written on a node (save), listed, removed
 * or checked on a node or in S3 (ls, rm, prune, verify), uploaded. The agent reports these
 * shapes on its result line (agent/protocol/), the CLI's results and JSON documents are
 * built from them (snapshot/), and the code that does the work (archive/, s3/) returns them.
 *
 * Every outcome is `{ ok: true, ... }` or a `Failure`, so a result can be passed along
 * and reported without being unwrapped.
 */

export interface Failure {
  ok: false;
  /** One line, naming what failed (endpoint, file, bucket) and the cause. */
  error: string;
}

/** What a job cost, as the agent measured it. */
export interface JobStats {
  /** Wall time of the job, in milliseconds. */
  durationMs: number;
  /** The process's peak resident memory, for the operator's (and the benchmark's) eye. */
  peakRssBytes?: number;
  /** The process's CPU time (user + system), in milliseconds (shown under --debug). */
  cpuMs?: number;
}

/** A node's NAME.zip as save wrote and read it back. */
export interface SavedSnapshot extends JobStats {
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
  /** Its live keys per Kubernetes resource, read in the same pass (etcd/bolt-revision.ts); absent with `censusProblem`. */
  census?: Census;
  censusProblem?: string;
  /** Whether the state file went into the archive. */
  stateFileIncluded: boolean;
  /** With --pki-bundle: the bundle written beside the snapshot. */
  pkiBundle?: PkiBundleFile;
}

/** The node's pki.bundle.tar.gz as written and read back. */
export interface PkiBundleFile {
  /** /opt/rke/etcd-snapshots/pki.bundle.tar.gz */
  file: string;
  size: number;
  sha256: string;
  /** Entries in the tar (directories, files, symlinks). */
  entries: number;
}

/** One object an upload wrote and checked. */
export interface UploadedObject {
  key: string;
  size: number;
  sha256: string;
  etag: string;
  versionId?: string;
  /** How the stored object was checked against what was sent. */
  verifiedBy: 'etag' | 'size';
  /** What the server reports about the stored object's encryption and lock (SPEC §7), when any. */
  protection?: ObjectProtection;
}

/** Encryption and lock of a stored object, as the server reports them (HeadObject), plus age. */
export interface ObjectProtection {
  /** x-amz-server-side-encryption: AES256 or aws:kms. */
  serverSideEncryption?: string;
  kmsKeyId?: string;
  /** SSE-C: the algorithm the server reports (AES256). */
  customerKeyAlgorithm?: string;
  /** The object is the zip encrypted with age (NAME.zip.age) for this many recipients. */
  age?: { recipients: number };
  objectLock?: { mode: string; retainUntil: string };
  legalHold?: string;
}

/** The run's one S3 copy: NAME.zip uploaded from a node's file and checked. */
export interface UploadedSnapshot extends UploadedObject, JobStats {
  ok: true;
  bucket: string;
  /** Degraded steps the operator should know about (e.g. a permission the policy lacks). */
  warnings: string[];
  /** With --pki-bundle: the node's pki.bundle.tar.gz, uploaded next to the snapshot. */
  pkiBundle?: UploadedObject;
}

/** One snapshot file where snapshots are kept: a regular file of /opt/rke/etcd-snapshots, or (SnapshotObject) an object of the bucket/folder. */
export interface SnapshotFile {
  /** The file's name in the directory (for an object, the key's last part). */
  file: string;
  /** zip: NAME.zip; raw: an old-style raw snapshot NAME; pki-bundle: pki.bundle.tar.gz (NAME.pki.bundle.tar.gz in S3). */
  kind: 'zip' | 'raw' | 'pki-bundle';
  /** The snapshot name (the file name without .zip; the file name itself for the others). */
  name: string;
  size: number;
  /** Modification time, ISO 8601 UTC. */
  modified: string;
  /** On a node only for files up to 64 MiB (LIST_SHA256_MAX_BYTES); in S3 the sha256 the upload recorded (of the plain zip). */
  sha256?: string;
  /** In S3: how the object is encrypted beyond the server's own (age: NAME.zip.age; SSE-C: a customer key). */
  encryption?: string[];
}

export interface SnapshotObject extends SnapshotFile {
  /** The full object key. */
  key: string;
  etag: string;
}

/** An entry that was seen and not listed or not removed, and why. */
export interface SkippedEntry {
  file: string;
  reason: string;
}

/** What one place holds: a node's /opt/rke/etcd-snapshots, or (S3Listing) a bucket/folder. */
export interface SnapshotListing extends JobStats {
  ok: true;
  /** /opt/rke/etcd-snapshots, or s3://BUCKET[/FOLDER] */
  dir: string;
  files: SnapshotFile[];
  skipped: SkippedEntry[];
}

export interface S3Listing extends SnapshotListing {
  files: SnapshotObject[];
  /** Degraded steps (e.g. HeadObject refused: no sha256). */
  warnings: string[];
}

/** What became of one snapshot name's files in one place. */
export interface RemovedSnapshot {
  name: string;
  /** removed: at least one file went and none was refused; missing: no file of that name; refused: an entry was not removed. */
  status: 'removed' | 'missing' | 'refused';
  /** On S3 also the key, and on a versioned bucket the delete marker's version id. */
  removed: Array<{ file: string; size: number; modified: string; key?: string; deleteMarker?: string }>;
  refused: SkippedEntry[];
}

export interface SnapshotRemoval extends JobStats {
  ok: true;
  dir: string;
  names: RemovedSnapshot[];
}

export interface S3Removal extends SnapshotRemoval {
  /** On a versioned bucket a removal is a delete marker (`removed[].deleteMarker`); older versions stay. */
  versioned: boolean;
  warnings: string[];
}

/** Temporary files a killed writer left, removed (`sweep`). */
export interface TemporaryFilesSwept extends JobStats {
  ok: true;
  dir: string;
  swept: string[];
}

/** One copy of snapshot NAME checked: zip intact, etcd's trailer, state file. */
export interface CopyCheck extends JobStats {
  ok: true;
  /** /opt/rke/etcd-snapshots/NAME.zip, or s3://BUCKET/KEY */
  file: string;
  /** ok: intact and etcd's trailer matches; missing: no such file; bad: see `problem`; encrypted: an age copy, not verified (S3 only). */
  status: 'ok' | 'missing' | 'bad' | 'encrypted';
  problem?: string;
  size?: number;
  sha256?: string;
  modified?: string;
  /** The etcd snapshot inside (without its 32-byte trailer), when it could be read whole. */
  snapshotSize?: number;
  snapshotSha256?: string;
  /** The etcd revision the snapshot holds (what `etcdctl snapshot status` prints), when `status` is ok. */
  revision?: number;
  /** Its live keys per Kubernetes resource (from its bbolt database, no restore), when `status` is ok; absent with `censusProblem`. */
  census?: Census;
  censusProblem?: string;
  stateFileIncluded?: boolean;
}

/** An S3 copy checked as a node's file is. */
export interface ObjectCheck extends CopyCheck {
  etag?: string;
  versionId?: string;
  /** The sha256 the upload stored as object metadata (x-amz-meta-sha256), when present. */
  recordedSha256?: string;
}

/** Bytes done in one phase of a job, reported while it runs (live progress). */
export interface ByteProgress {
  /** snapshot: etcd's stream into the zip (bytes received from etcd); verify: the read-back; upload: bytes sent to S3. */
  phase: 'snapshot' | 'verify' | 'upload';
  /** Bytes done so far in this phase, when the phase counts bytes. */
  bytes?: number;
}
