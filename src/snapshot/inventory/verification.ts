/**
 * verify: each location's finding on a copy, the S3 copy compared with the nodes' copies,
 * and the verdict (exit status, which copies are good, bad, missing or unchecked).
 */
import type { ObjectCheck, CopyCheck } from '../../model/snapshot.js';
import { locationLabel, type Location } from '../../model/location.js';
import type { RestoreFinding } from '../../model/restore.js';

/** A copy as verified: the agent's finding; on S3 also its ETag/version, and the comparison with the nodes' copies. */
export type VerifiedCopy = Omit<ObjectCheck, 'ok' | 'durationMs' | 'peakRssBytes' | 'status'> & {
  /** differs: the S3 copy is intact but matches no node's good copy (compareWithNodes). */
  status: CopyCheck['status'] | 'differs';
  /** S3: the nodes whose copy is byte-identical to the object (the one it was uploaded from). */
  matches?: string[];
  /** --restore: the copy restored with the cluster's etcd and read back, or why it did not restore. */
  restore?: RestoreFinding;
};

/** One location's verification of a copy: the agent's finding, or why the location could not be checked. */
export type LocationVerification = Location & ({ ok: true; copy: VerifiedCopy } | { ok: false; error: string });

export interface VerifyVerdict {
  exitCode: number;
  good: number;
  /** --restore: copies that did not restore, or whose restored census differs from their bbolt file's. */
  notRestored: string[];
  /** Bad, or (S3) differing from every node's copy. */
  bad: string[];
  /** Nodes without a copy: flagged, not fatal while a good copy exists. */
  missing: string[];
  /** The S3 location without the object: fatal (S3 holds one copy per run, so there is no other). */
  missingInS3: string[];
  failed: string[];
}

/**
 * The S3 copy is one node's zip uploaded as is, so it must be byte-identical (size and
 * SHA-256 of the zip, hence of the etcd snapshot inside) to one node's good copy. Node
 * copies come from different etcd members and may legitimately differ from each other, so
 * they are not compared among themselves. An intact S3 copy that matches no good node
 * copy is `differs`; with no good node copy to compare with, it stays `ok` (no `matches`).
 */
export function compareWithNodes(verifications: LocationVerification[]): LocationVerification[] {
  const goodNodes = verifications.filter(
    (v): v is LocationVerification & { ok: true } => v.ok && v.location === 'node' && v.copy.status === 'ok',
  );
  return verifications.map((v) => {
    if (!v.ok || v.location !== 's3' || v.copy.status !== 'ok' || goodNodes.length === 0) return v;
    const matches = goodNodes
      .filter((n) => n.copy.sha256 === v.copy.sha256 && n.copy.size === v.copy.size && n.copy.snapshotSha256 === v.copy.snapshotSha256)
      .map(locationLabel);
    if (matches.length > 0) return { ...v, copy: { ...v.copy, matches } };
    const problem =
      `it matches no etcd node's copy (zip sha256 ${v.copy.sha256 ?? '?'}, ${v.copy.size ?? '?'} bytes; etcd snapshot sha256 ${v.copy.snapshotSha256 ?? '?'}): ` +
      'the node it was uploaded from replaced or lost its copy, or the object was replaced; check which copy to trust';
    return { ...v, copy: { ...v.copy, status: 'differs' as const, problem, matches: [] } };
  });
}

/** Bad copies, copies that do not restore (--restore) and unreachable locations fail the run; missing node copies are flagged, and fail it only when no good copy exists; a missing S3 copy fails it. */
export function verifyVerdict(verifications: LocationVerification[]): VerifyVerdict {
  const pick = (test: (v: LocationVerification) => boolean) => verifications.filter(test).map(locationLabel);
  const restoreFailed = (v: LocationVerification) => v.ok && v.copy.restore !== undefined && (!v.copy.restore.ok || v.copy.restore.difference !== undefined);
  const good = verifications.filter((v) => v.ok && v.copy.status === 'ok' && !restoreFailed(v)).length;
  const notRestored = pick(restoreFailed);
  const bad = pick((v) => v.ok && (v.copy.status === 'bad' || v.copy.status === 'differs'));
  const missing = pick((v) => v.ok && v.copy.status === 'missing' && v.location === 'node');
  const missingInS3 = pick((v) => v.ok && v.copy.status === 'missing' && v.location === 's3');
  const failed = pick((v) => !v.ok);
  const exitCode = bad.length > 0 || notRestored.length > 0 || failed.length > 0 || missingInS3.length > 0 || good === 0 ? 1 : 0;
  return { exitCode, good, notRestored, bad, missing, missingInS3, failed };
}
