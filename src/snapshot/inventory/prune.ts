/** prune: which snapshots of a location to keep and remove, what became of each, and the exit status. */
import type { SnapshotFile, RemovedSnapshot } from '../../model/snapshot.js';
import type { Location } from '../../model/location.js';
import { validateRemovableName } from '../../model/names.js';
import { messageOf } from '../../errors.js';

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

export function pruneExitCode(prunes: LocationPrune[]): number {
  return prunes.some((prune) => !prune.ok || (prune.removal !== undefined && (!prune.removal.ok || prune.removal.names.some((n) => n.status === 'refused')))) ? 1 : 0;
}
