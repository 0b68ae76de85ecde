/**
 * Where snapshots are kept, behind one interface for ls, rm, prune and verify: each etcd
 * node's /opt/rke/etcd-snapshots, and with --s3 the bucket/folder as a place of its own.
 * A node store works through the run's NodeRuntime (containers or SFTP); the S3 store
 * asks as the runtime asks S3 (from a node's container, or from this machine).
 */
import type { NodeConfig } from '../config/cluster.js';
import type { Location, NodeLocation, S3Location } from '../model/location.js';
import type { CopyCheck, ObjectCheck, S3Listing, S3Removal, SnapshotListing, SnapshotRemoval } from '../model/snapshot.js';
import type { RestoreDrilled } from '../model/restore.js';
import type { S3Settings } from '../s3/settings.js';
import type { NodeRuntime, Outcome } from './runtime.js';
import type { RunScope } from './scope.js';

/** A store's answer, and the place that gave it (for S3, with the node it was asked from). */
export type Located<T> = Outcome<T> & { location: Location };

export interface SnapshotStore {
  readonly location: Location;
  /** The node behind a node store (its progress is shown); undefined for S3. */
  readonly node?: NodeConfig;
  list(): Promise<Located<SnapshotListing | S3Listing>>;
  remove(names: string[]): Promise<Located<SnapshotRemoval | S3Removal>>;
  verify(name: string): Promise<Located<CopyCheck | ObjectCheck>>;
  /** `snapshot-verify --restore`: the copy restored and read back; absent where it cannot be (S3, --runtime ssh). */
  restore?(name: string): Promise<Located<RestoreDrilled>>;
}

export function nodeLocation(node: NodeConfig): NodeLocation {
  return { location: 'node', node: node.address, ...(node.hostnameOverride ? { hostnameOverride: node.hostnameOverride } : {}) };
}

export function s3Location(settings: S3Settings): S3Location {
  return { location: 's3', endpoint: settings.endpoint, bucket: settings.bucketName, folder: settings.folder };
}

export function nodeStore(node: NodeConfig, runtime: NodeRuntime, scope: RunScope): SnapshotStore {
  const location = nodeLocation(node);
  return {
    location,
    node,
    list: async () => ({ ...(await runtime.list(node, scope)), location }),
    remove: async (names) => ({ ...(await runtime.remove(node, names, scope)), location }),
    verify: async (name) => ({ ...(await runtime.verify(node, name, scope)), location }),
    ...(runtime.restore ? { restore: async (name: string) => ({ ...(await runtime.restore!(node, name, scope)), location }) } : {}),
  };
}

/** `nodes`: the etcd nodes the docker runtime may run the S3 container on, in order. */
export function s3Store(settings: S3Settings, nodes: NodeConfig[], runtime: NodeRuntime, scope: RunScope): SnapshotStore {
  const location = s3Location(settings);
  const jobs = runtime.s3(settings, nodes, scope);
  const located = <T>({ via, ...outcome }: Outcome<T> & { via?: string }): Located<T> => ({ ...outcome, location: via ? { ...location, via } : location });
  return {
    location,
    list: async () => located(await jobs.list()),
    remove: async (names) => located(await jobs.remove(names)),
    verify: async (name) => located(await jobs.verify(name)),
  };
}

/** Every store of the run: each etcd node, then with --s3 the bucket/folder. */
export function storesOf(runtime: NodeRuntime, scope: RunScope, s3: S3Settings | undefined): SnapshotStore[] {
  const nodes = scope.cluster.etcdNodes;
  return [...nodes.map((node) => nodeStore(node, runtime, scope)), ...(s3 ? [s3Store(s3, nodes, runtime, scope)] : [])];
}
