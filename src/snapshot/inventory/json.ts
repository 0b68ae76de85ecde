/** The `--output json` documents of ls, rm, prune and verify (schemas: docs/snapshot-inventory.md). */
import { placeOf, type Location } from '../../model/location.js';
import { groupByName, type LocationListing } from './listing.js';
import type { LocationRemoval } from './removal.js';
import { pruneStatus, type LocationPrune } from './prune.js';
import { verifyVerdict, type LocationVerification } from './verification.js';

/** Version of the `--output json` documents; bumped only on an incompatible change. */
export const JSON_SCHEMA_VERSION = 1;

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
        remove: prune.plan.remove.map((name) => {
          const refused = prune.removal?.ok ? prune.removal.names.find((entry) => entry.name === name)?.refused ?? [] : [];
          return { name, status: pruneStatus(prune, name, dryRun), ...(refused.length > 0 ? { refused } : {}) };
        }),
      };
    }),
  };
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
