/**
 * Where a snapshot copy lives: an etcd node's /opt/rke/etcd-snapshots or the `--s3`
 * bucket/folder, and one description of a copy wherever it is (ls, rm, prune, verify).
 */
import type { SnapshotFile } from './snapshot.js';

/** An etcd node's /opt/rke/etcd-snapshots. */
export interface NodeLocation {
  location: 'node';
  /** The node's address as in cluster.yml. */
  node: string;
  hostnameOverride?: string;
}

/** The bucket/folder of `--s3`: its own location, worked on from one etcd node's container. */
export interface S3Location {
  location: 's3';
  endpoint: string;
  bucket: string;
  /** Normalized key prefix; '' for none. */
  folder: string;
  /** The etcd node whose agent container did the work (absent when no node could run it). */
  via?: string;
}

/** Where a copy lives. */
export type Location = NodeLocation | S3Location;

/** One file on one location. */
export type SnapshotCopy = CopyPlace & {
  /** The snapshot name (NAME of NAME.zip; the file name of a raw snapshot or the PKI bundle). */
  name: string;
  /** Full path on the node, or s3://BUCKET/KEY. */
  file: string;
  kind: SnapshotFile['kind'];
  size: number;
  modified: string;
  /** On a node: computed (files up to 64 MiB); on S3: the sha256 our upload recorded with the object. */
  sha256?: string;
  /** S3 only: the object's key and ETag. */
  key?: string;
  etag?: string;
  /** S3 only: age (NAME.zip.age) and/or SSE-C. */
  encryption?: string[];
};

/** A location as a copy names it (S3 without the node that listed it). */
export type CopyPlace = NodeLocation | Omit<S3Location, 'via'>;

/** A node's address (and hostname_override); S3 as s3://BUCKET[/FOLDER]. */
export function locationLabel(location: CopyPlace): string {
  if (location.location === 's3') return location.folder === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${location.folder}`;
  return location.hostnameOverride ? `${location.node} (${location.hostnameOverride})` : location.node;
}

/** The location as a copy names it: S3 without `via`, a node without an empty hostname_override. */
export function placeOf(location: Location): CopyPlace {
  if (location.location === 's3') return { location: 's3', endpoint: location.endpoint, bucket: location.bucket, folder: location.folder };
  return { location: 'node', node: location.node, ...(location.hostnameOverride ? { hostnameOverride: location.hostnameOverride } : {}) };
}
