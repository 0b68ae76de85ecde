/**
 * What ls sees: each location's listing, and the copies grouped by snapshot name across
 * locations (newest first), with the locations that lack each one.
 */
import type { SnapshotFile, SnapshotObject, SkippedEntry } from '../../model/snapshot.js';
import { locationLabel, placeOf, type Location, type SnapshotCopy } from '../../model/location.js';

/** A location's listing: its files, or why it could not be listed. */
export type LocationListing = Location &
  ({ ok: true; dir: string; files: Array<SnapshotFile | SnapshotObject>; skipped: SkippedEntry[] } | { ok: false; error: string });

export interface SnapshotGroup {
  name: string;
  copies: SnapshotCopy[];
  /** Listed locations (ok) that hold no copy. */
  missingOn: string[];
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
    ...(file.encryption?.length ? { encryption: file.encryption } : {}),
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

/** The latest modification time among the copies ('' for none). */
export function newest(copies: SnapshotCopy[]): string {
  return copies.reduce((latest, copy) => (copy.modified > latest ? copy.modified : latest), '');
}
