/** What a restore drill (`snapshot-verify --restore`, SPEC §8) found on one copy. */
import type { Census } from './census.js';
import type { JobStats } from './snapshot.js';

/** The drill's supervisor's answer: the copy restored, a member ran on it, and this is what it served. */
export interface RestoredCopy extends JobStats {
  ok: true;
  /** The zip drilled, as the node names it. */
  file: string;
  /** The version the throw-away member reported (etcd's Status), e.g. `3.4.23`. */
  etcdVersion: string;
  /** Read back through etcd's API from the restored member. */
  census: Census;
  /** The revision the snapshot's bbolt file holds (read as it was extracted). */
  bboltRevision?: number;
}

/** The drill as the runtime reports it: the supervisor's answer, and what restored the copy. */
export type RestoreDrilled = RestoredCopy & {
  /** etcdutl, or etcdctl on images without it (etcd 3.4). */
  tool: string;
  /** The etcd image it ran, as the node's etcd container names it. */
  image: string;
};

/** A copy's drill as reported: restored (and how it compares with the bbolt census), or why not. */
export type RestoreFinding =
  | {
      ok: true;
      etcdVersion: string;
      /** The program that restored it (etcdutl, or etcdctl on 3.4 images) and the image it came from. */
      tool: string;
      image: string;
      census: Census;
      /** How the restored census differs from the one read from the snapshot's bbolt file; absent when they agree. */
      difference?: string;
      /** An S3 copy: the etcd node it was placed on and drilled on. */
      via?: string;
    }
  | { ok: false; error: string };
