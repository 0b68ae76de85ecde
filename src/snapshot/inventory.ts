/**
 * One description of a snapshot copy wherever it lives, and the pure logic of ls, rm and
 * prune on top of it: grouping by name, the prune plan, the JSON documents and tables.
 */
import type { SnapshotFile, RemovedSnapshot, SnapshotObject, ObjectCheck, SkippedEntry, CopyCheck } from '../model/snapshot.js';
import { validateRemovableName } from '../model/names.js';
import { messageOf } from '../errors.js';
import { formatBytes } from './report.js';

/** Version of the `--output json` documents; bumped only on an incompatible change. */
export const JSON_SCHEMA_VERSION = 1;

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
};

/** A location as a copy names it (S3 without the node that listed it). */
export type CopyPlace = NodeLocation | Omit<S3Location, 'via'>;

/** A location's listing: its files, or why it could not be listed. */
export type LocationListing = Location &
  ({ ok: true; dir: string; files: Array<SnapshotFile | SnapshotObject>; skipped: SkippedEntry[] } | { ok: false; error: string });

export interface SnapshotGroup {
  name: string;
  copies: SnapshotCopy[];
  /** Listed locations (ok) that hold no copy. */
  missingOn: string[];
}

/** A node's address (and hostname_override); S3 as s3://BUCKET[/FOLDER]. */
export function locationLabel(location: CopyPlace): string {
  if (location.location === 's3') return location.folder === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${location.folder}`;
  return location.hostnameOverride ? `${location.node} (${location.hostnameOverride})` : location.node;
}

function placeOf(location: Location): CopyPlace {
  if (location.location === 's3') return { location: 's3', endpoint: location.endpoint, bucket: location.bucket, folder: location.folder };
  return { location: 'node', node: location.node, ...(location.hostnameOverride ? { hostnameOverride: location.hostnameOverride } : {}) };
}

function copiesOf(listing: LocationListing): SnapshotCopy[] {
  if (!listing.ok) return [];
  const where = placeOf(listing);
  return listing.files.map((file) => ({
    name: file.name,
    ...where,
    file: `${listing.dir}/${file.file}`,
    kind: file.kind,
    size: file.size,
    modified: file.modified,
    ...(file.sha256 ? { sha256: file.sha256 } : {}),
    ...('key' in file ? { key: file.key, etag: file.etag } : {}),
  }));
}

/** Snapshots (zip and raw) grouped by name, sorted by their newest copy, newest first; PKI bundles apart. */
export function groupByName(listings: LocationListing[]): { snapshots: SnapshotGroup[]; pkiBundles: SnapshotCopy[] } {
  const groups = new Map<string, SnapshotCopy[]>();
  const pkiBundles: SnapshotCopy[] = [];
  for (const listing of listings) {
    for (const copy of copiesOf(listing)) {
      if (copy.kind === 'pki-bundle') {
        pkiBundles.push(copy);
        continue;
      }
      groups.set(copy.name, [...(groups.get(copy.name) ?? []), copy]);
    }
  }
  const listed = listings.filter((listing) => listing.ok);
  const snapshots = [...groups.entries()].map(([name, copies]) => ({
    name,
    copies,
    missingOn: listed.filter((listing) => !copies.some((copy) => locationLabel(copy) === locationLabel(listing))).map(locationLabel),
  }));
  snapshots.sort((a, b) => newest(b.copies).localeCompare(newest(a.copies)) || a.name.localeCompare(b.name));
  return { snapshots, pkiBundles };
}

function newest(copies: SnapshotCopy[]): string {
  return copies.reduce((latest, copy) => (copy.modified > latest ? copy.modified : latest), '');
}

/** `snapshot-ls --output json`. */
export function lsDocument(listings: LocationListing[]): object {
  const { snapshots, pkiBundles } = groupByName(listings);
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'snapshot-ls',
    locations: listings.map((listing) =>
      listing.ok ? { ...locationOf(listing), ok: true, dir: listing.dir, skipped: listing.skipped } : { ...locationOf(listing), ok: false, error: listing.error },
    ),
    snapshots,
    pkiBundles,
  };
}

function locationOf(location: Location): Location {
  return location.location === 's3' ? { ...placeOf(location), ...(location.via ? { via: location.via } : {}) } : placeOf(location);
}

/** The ls table: one row per snapshot name, where it is and where it is missing; then PKI bundles, then errors. */
export function formatLsTable(listings: LocationListing[]): string {
  const { snapshots, pkiBundles } = groupByName(listings);
  const rows = snapshots.map((group) => {
    const kinds = [...new Set(group.copies.map((copy) => copy.kind))].sort().join('+');
    const sizes = [...new Set(group.copies.map((copy) => formatBytes(copy.size)))];
    return [
      group.name,
      kinds,
      newest(group.copies).replace(/\.\d{3}Z$/, 'Z'),
      sizes.join(', '),
      [...new Set(group.copies.map(locationLabel))].join(', '),
      group.missingOn.length ? group.missingOn.join(', ') : '-',
    ];
  });
  const lines = rows.length ? table(['NAME', 'KIND', 'MODIFIED', 'SIZE', 'LOCATIONS', 'MISSING ON'], rows) : ['No snapshots found.'];
  if (pkiBundles.length) {
    lines.push('', ...table(['PKI BUNDLE', 'LOCATION', 'MODIFIED', 'SIZE', 'SHA256'], pkiBundles.map((copy) => [
      copy.file, locationLabel(copy), copy.modified.replace(/\.\d{3}Z$/, 'Z'), formatBytes(copy.size), copy.sha256 ?? '-',
    ])));
  }
  return [...lines, ...errorLines(listings)].join('\n');
}

function errorLines(outcomes: Array<Location & ({ ok: true } | { ok: false; error: string })>): string[] {
  const errors = outcomes.flatMap((outcome) => (outcome.ok ? [] : [`  ${locationLabel(outcome)}: ${outcome.error}`]));
  return errors.length ? ['', 'Errors:', ...errors] : [];
}

export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** A location's answer to rm (or prune's removal): what happened to each name. */
export type LocationRemoval = Location & ({ ok: true; names: RemovedSnapshot[] } | { ok: false; error: string });

export function rmDocument(name: string, removals: LocationRemoval[]): object {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'snapshot-rm',
    name,
    locations: removals.map((removal) => {
      if (!removal.ok) return { ...locationOf(removal), ok: false, error: removal.error };
      const entry = removal.names.find((n) => n.name === name);
      return { ...locationOf(removal), ok: true, status: entry?.status ?? 'missing', removed: entry?.removed ?? [], refused: entry?.refused ?? [] };
    }),
  };
}

export function formatRmTable(name: string, removals: LocationRemoval[]): string {
  const rows = removals.map((removal) => {
    if (!removal.ok) return [locationLabel(removal), 'FAILED', '-'];
    const entry = removal.names.find((n) => n.name === name);
    const status = entry?.status ?? 'missing';
    const detail = [
      ...(entry?.removed ?? []).map((file) => `${file.file} (${formatBytes(file.size)})`),
      ...(entry?.refused ?? []).map((file) => `${file.file}: ${file.reason}`),
    ];
    return [locationLabel(removal), status === 'refused' ? 'REFUSED' : status, detail.join(', ') || '-'];
  });
  return [...table(['LOCATION', 'STATUS', 'FILES'], rows), ...errorLines(removals)].join('\n');
}

/** Exit status of rm: 1 when a location failed or refused a file; missing copies are not failures. */
export function rmExitCode(name: string, removals: LocationRemoval[]): number {
  return removals.some((removal) => !removal.ok || removal.names.some((n) => n.name === name && n.status === 'refused')) ? 1 : 0;
}

/** What prune does with one location's snapshots. */
export interface PrunePlan {
  keep: string[];
  remove: string[];
  /** Kept because they cannot be ordered or removed by name, with why. */
  unordered: Array<{ name: string; reason: string }>;
}

/**
 * Keep the `keep` newest zip snapshots of one location by modification time; remove the
 * older ones. Raw files and the PKI bundle are never pruned. A name that is not a plain
 * snapshot name, a time that does not parse, or a tie across the cut cannot be ordered
 * safely: such snapshots are listed, not removed.
 */
export function planPrune(files: SnapshotFile[], keep: number): PrunePlan {
  const unordered: PrunePlan['unordered'] = [];
  const ordered: Array<{ name: string; time: number }> = [];
  for (const file of files) {
    if (file.kind !== 'zip') continue;
    const time = Date.parse(file.modified);
    if (Number.isNaN(time)) {
      unordered.push({ name: file.name, reason: `its modification time ${JSON.stringify(file.modified)} cannot be read` });
      continue;
    }
    try {
      validateRemovableName(file.name);
    } catch (error) {
      unordered.push({ name: file.name, reason: `not a plain snapshot name (${messageOf(error)})` });
      continue;
    }
    ordered.push({ name: file.name, time });
  }
  ordered.sort((a, b) => b.time - a.time || a.name.localeCompare(b.name));
  const kept = ordered.slice(0, keep);
  const older = ordered.slice(keep);
  const cut = kept.at(-1)?.time;
  const remove: string[] = [];
  for (const snapshot of older) {
    if (snapshot.time === cut) unordered.push({ name: snapshot.name, reason: 'same modification time as the oldest snapshot kept; cannot tell which is older' });
    else remove.push(snapshot.name);
  }
  return { keep: kept.map((s) => s.name), remove, unordered };
}

/** One location's prune: its plan and, unless a dry run, what the removal did. */
export type LocationPrune = Location &
  ({ ok: true; plan: PrunePlan; removal?: { ok: true; names: RemovedSnapshot[] } | { ok: false; error: string } } | { ok: false; error: string });

export function pruneStatus(prune: LocationPrune & { ok: true }, name: string, dryRun: boolean): string {
  if (dryRun) return 'would-remove';
  if (prune.removal === undefined) return 'would-remove';
  if (!prune.removal.ok) return 'failed';
  return prune.removal.names.find((n) => n.name === name)?.status ?? 'missing';
}

export function pruneDocument(keep: number, dryRun: boolean, prunes: LocationPrune[]): object {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'snapshot-prune',
    keep,
    dryRun,
    locations: prunes.map((prune) => {
      if (!prune.ok) return { ...locationOf(prune), ok: false, error: prune.error };
      const removalError = prune.removal && !prune.removal.ok ? { error: prune.removal.error } : {};
      return {
        ...locationOf(prune),
        ok: !prune.removal || prune.removal.ok,
        ...removalError,
        kept: prune.plan.keep,
        unordered: prune.plan.unordered,
        remove: prune.plan.remove.map((name) => ({ name, status: pruneStatus(prune, name, dryRun) })),
      };
    }),
  };
}

export function formatPruneTable(keep: number, dryRun: boolean, prunes: LocationPrune[]): string {
  const rows: string[][] = [];
  for (const prune of prunes) {
    if (!prune.ok) {
      rows.push([locationLabel(prune), '-', 'FAILED']);
      continue;
    }
    for (const name of prune.plan.keep) rows.push([locationLabel(prune), name, 'kept']);
    for (const { name } of prune.plan.unordered) rows.push([locationLabel(prune), name, 'kept (cannot be ordered)']);
    for (const name of prune.plan.remove) rows.push([locationLabel(prune), name, pruneStatus(prune, name, dryRun)]);
  }
  const errors = prunes.flatMap((prune) => {
    if (!prune.ok) return [`  ${locationLabel(prune)}: ${prune.error}`];
    const lines = prune.plan.unordered.map((u) => `  ${locationLabel(prune)}: ${u.name} kept: ${u.reason}`);
    if (prune.removal && !prune.removal.ok) lines.push(`  ${locationLabel(prune)}: ${prune.removal.error}`);
    for (const entry of prune.removal?.ok ? prune.removal.names : []) {
      for (const refused of entry.refused) lines.push(`  ${locationLabel(prune)}: ${refused.file}: ${refused.reason}`);
    }
    return lines;
  });
  const head = `${dryRun ? 'Dry run: k' : 'K'}eeping the ${keep} newest snapshot(s) per location`;
  return [head, ...(rows.length ? table(['LOCATION', 'SNAPSHOT', 'ACTION'], rows) : ['No snapshots found.']), ...(errors.length ? ['', 'Notes and errors:', ...errors] : [])].join('\n');
}

export function pruneExitCode(prunes: LocationPrune[]): number {
  return prunes.some((prune) => !prune.ok || (prune.removal !== undefined && (!prune.removal.ok || prune.removal.names.some((n) => n.status === 'refused')))) ? 1 : 0;
}

/** A copy as verified: the agent's finding; on S3 also its ETag/version, and the comparison with the nodes' copies. */
export type VerifiedCopy = Omit<ObjectCheck, 'ok' | 'durationMs' | 'peakRssBytes' | 'status'> & {
  /** differs: the S3 copy is intact but matches no node's good copy (compareWithNodes). */
  status: CopyCheck['status'] | 'differs';
  /** S3: the nodes whose copy is byte-identical to the object (the one it was uploaded from). */
  matches?: string[];
};

/** One location's verification of a copy: the agent's finding, or why the location could not be checked. */
export type LocationVerification = Location & ({ ok: true; copy: VerifiedCopy } | { ok: false; error: string });

export interface VerifyVerdict {
  exitCode: number;
  good: number;
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

/** Bad copies and unreachable locations fail the run; missing node copies are flagged, and fail it only when no good copy exists; a missing S3 copy fails it. */
export function verifyVerdict(verifications: LocationVerification[]): VerifyVerdict {
  const pick = (test: (v: LocationVerification) => boolean) => verifications.filter(test).map(locationLabel);
  const good = verifications.filter((v) => v.ok && v.copy.status === 'ok').length;
  const bad = pick((v) => v.ok && (v.copy.status === 'bad' || v.copy.status === 'differs'));
  const missing = pick((v) => v.ok && v.copy.status === 'missing' && v.location === 'node');
  const missingInS3 = pick((v) => v.ok && v.copy.status === 'missing' && v.location === 's3');
  const failed = pick((v) => !v.ok);
  return { exitCode: bad.length > 0 || failed.length > 0 || missingInS3.length > 0 || good === 0 ? 1 : 0, good, bad, missing, missingInS3, failed };
}

export function verifyDocument(name: string, verifications: LocationVerification[]): object {
  const verdict = verifyVerdict(verifications);
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'snapshot-verify',
    name,
    ok: verdict.exitCode === 0,
    locations: verifications.map((v) =>
      v.ok ? { ...locationOf(v), ok: true, ...withoutUndefined(v.copy) } : { ...locationOf(v), ok: false, error: v.error },
    ),
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function formatVerifyTable(name: string, verifications: LocationVerification[]): string {
  const rows = verifications.map((v) => {
    if (!v.ok) return [locationLabel(v), 'FAILED', '-', '-', '-', '-', '-'];
    const copy = v.copy;
    return [
      locationLabel(v),
      copy.status === 'ok' ? 'ok' : copy.status.toUpperCase(),
      copy.size === undefined ? '-' : formatBytes(copy.size),
      copy.modified?.replace(/\.\d{3}Z$/, 'Z') ?? '-',
      copy.revision === undefined ? '-' : String(copy.revision),
      copy.snapshotSha256 ?? '-',
      copy.stateFileIncluded === undefined ? '-' : copy.stateFileIncluded ? 'yes' : 'no',
    ];
  });
  const problems = verifications.flatMap((v) => {
    if (!v.ok) return [`  ${locationLabel(v)}: ${v.error}`];
    if (v.copy.status === 'bad' || v.copy.status === 'differs') return [`  ${locationLabel(v)}: ${v.copy.file}: ${v.copy.problem ?? 'bad'}`];
    if (v.copy.status === 'missing') return [`  ${locationLabel(v)}: ${v.copy.file} is missing`];
    return [];
  });
  const notes = verifications.flatMap((v) =>
    v.ok && v.copy.matches?.length ? [`  ${locationLabel(v)}: identical to the copy on ${v.copy.matches.join(', ')}`] : [],
  );
  return [
    `Snapshot ${name}:`,
    ...table(['LOCATION', 'STATUS', 'SIZE', 'MODIFIED', 'REVISION', 'SNAPSHOT SHA256', 'STATE FILE'], rows),
    ...(notes.length ? ['', 'Compared:', ...notes] : []),
    ...(problems.length ? ['', 'Problems:', ...problems] : []),
  ].join('\n');
}
