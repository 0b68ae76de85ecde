/** What rm (and prune's removal) did on each location, and rm's exit status. */
import type { RemovedSnapshot } from '../../model/snapshot.js';
import type { Location } from '../../model/location.js';

/** A location's answer to rm (or prune's removal): what happened to each name. */
export type LocationRemoval = Location & ({ ok: true; names: RemovedSnapshot[] } | { ok: false; error: string });

/** Exit status of rm: 1 when a location failed or refused a file; missing copies are not failures. */
export function rmExitCode(name: string, removals: LocationRemoval[]): number {
  return removals.some((removal) => !removal.ok || removal.names.some((n) => n.name === name && n.status === 'refused')) ? 1 : 0;
}
