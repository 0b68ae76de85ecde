/**
 * verify: each location's finding on a copy, the S3 copy compared with the nodes' copies,
 * the nodes' censuses compared, and the verdict (exit status, which copies are good, bad,
 * missing or unchecked).
 */
import { censusDifference, isCensus, type Census } from '../../model/census.js';
import type { ObjectCheck, CopyCheck } from '../../model/snapshot.js';
import { locationLabel, type Location } from '../../model/location.js';
import type { RestoreFinding } from '../../model/restore.js';

/** A copy as verified: the agent's finding; on S3 also its ETag/version, and the comparison with the nodes' copies. */
export type VerifiedCopy = Omit<ObjectCheck, 'ok' | 'durationMs' | 'peakRssBytes' | 'status'> & {
  /** differs: the S3 copy is intact but matches no node's good copy, or a copy's census differs from the others' at the same revision (compareWithNodes). */
  status: CopyCheck['status'] | 'differs';
  /** S3: the nodes whose copy is byte-identical to the object (the one it was uploaded from). */
  matches?: string[];
  /** A good copy taken at another revision than most: how its census differs from theirs (said, not failed). */
  censusNote?: string;
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
  return compareCensuses(compareBytesWithNodes(verifications.map(withSoundCensus)));
}

function compareBytesWithNodes(verifications: LocationVerification[]): LocationVerification[] {
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

/** An agent (an older or foreign image) may report no census, or a malformed one: only a census's shape is kept. */
function withSoundCensus(v: LocationVerification): LocationVerification {
  if (!v.ok || v.copy.census === undefined || isCensus(v.copy.census)) return v;
  const { census: _malformed, ...copy } = v.copy;
  return { ...v, copy: { ...copy, censusProblem: 'the agent reported a malformed census' } };
}

/**
 * Copies taken on different members at the same revision hold the same keys (the same raft
 * log applied to the same index), so their censuses must be equal: a node copy whose census
 * is not the one most copies at its revision hold is `differs` (its member diverged, or its
 * database was damaged before etcd hashed it), and fails the run like any differing copy; so
 * does an S3 copy identical to such a node copy. Copies at different revisions may
 * legitimately differ (a run's members snapshotted moments apart on a busy cluster, a copy
 * replaced by a later snapshot): how they differ from the most common census is stated
 * (`censusNote`), not failed.
 */
function compareCensuses(verifications: LocationVerification[]): LocationVerification[] {
  const counted = verifications.filter(
    (v): v is LocationVerification & { ok: true; copy: { census: Census } } => v.ok && v.location === 'node' && v.copy.status === 'ok' && v.copy.census !== undefined,
  );
  const signature = (census: Census) => JSON.stringify([census.revision, census.keys, Object.entries(census.resources).sort()]);
  const holders = new Map<string, string[]>();
  for (const v of counted) holders.set(signature(v.copy.census), [...(holders.get(signature(v.copy.census)) ?? []), locationLabel(v)]);
  /** The census most copies hold at `revision` (undefined on a tie), and most copies of all. */
  const mostHeld = (revision?: number) => {
    const candidates = counted.filter((v) => revision === undefined || v.copy.census.revision === revision);
    const ranked = [...new Set(candidates.map((v) => signature(v.copy.census)))].sort((a, b) => (holders.get(b)?.length ?? 0) - (holders.get(a)?.length ?? 0));
    const [first, second] = ranked;
    if (first === undefined || (second !== undefined && holders.get(second)?.length === holders.get(first)?.length)) return undefined;
    return candidates.find((v) => signature(v.copy.census) === first);
  };
  const reference = mostHeld() ?? counted[0];
  const flagged = new Map<string, string>();
  const notes = new Map<string, string>();
  for (const v of counted) {
    const label = locationLabel(v);
    const peers = counted.filter((other) => other !== v && other.copy.census.revision === v.copy.census.revision);
    const mine = signature(v.copy.census);
    const differing = peers.filter((other) => signature(other.copy.census) !== mine);
    const against = differing.length === 0 ? undefined : mostHeld(v.copy.census.revision) ?? differing[0];
    if (against !== undefined && signature(against.copy.census) !== mine) {
      const others = holders.get(signature(against.copy.census)) ?? [];
      flagged.set(
        label,
        `its census differs from the copy on ${others.join(', ')} at the same revision ${v.copy.census.revision}: ${censusDifference(v.copy.census, against.copy.census)}; ` +
          'copies at one revision hold the same keys, so this copy (or its etcd member) is not sound',
      );
      continue;
    }
    if (reference !== undefined && reference.copy.census.revision !== v.copy.census.revision) {
      notes.set(label, `taken at another revision than the copy on ${(holders.get(signature(reference.copy.census)) ?? []).join(', ')}: ${censusDifference(v.copy.census, reference.copy.census)}`);
    }
  }
  return verifications.map((v) => {
    if (!v.ok || v.copy.status !== 'ok') return v;
    const label = locationLabel(v);
    const problem = v.location === 'node' ? flagged.get(label) : v.copy.matches?.length && v.copy.matches.every((node) => flagged.has(node))
      ? `it is identical to the copy on ${v.copy.matches.join(', ')}, whose census differs from the other copies' at the same revision`
      : undefined;
    if (problem !== undefined) return { ...v, copy: { ...v.copy, status: 'differs' as const, problem } };
    const censusNote = v.location === 'node' ? notes.get(label) : undefined;
    return censusNote === undefined ? v : { ...v, copy: { ...v.copy, censusNote } };
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
