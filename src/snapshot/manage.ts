/**
 * `snapshot-ls`, `snapshot-rm`, `snapshot-prune`, `snapshot-verify` across the stores of a
 * run (stores.ts): nodes `concurrency` at a time, S3 beside them. Each store's answer becomes
 * one entry of the result, failures included, so one unreachable place never hides the others.
 * The CLI formats the results (inventory/) and turns them into an exit status.
 */
import type { Logger } from '../log.js';
import type { S3Removal, SnapshotRemoval } from '../model/snapshot.js';
import { locationLabel } from '../model/location.js';
import type { LocationListing } from './inventory/listing.js';
import { planPrune, type LocationPrune } from './inventory/prune.js';
import type { LocationRemoval } from './inventory/removal.js';
import { restoreFinding } from './inventory/restore.js';
import { compareWithNodes, type LocationVerification } from './inventory/verification.js';
import type { ProgressPhase } from './progress.js';
import { mapConcurrently, type RunScope } from './scope.js';
import type { Located, SnapshotStore } from './stores.js';

export interface ManageRequest {
  stores: SnapshotStore[];
  /** How many nodes are worked on at once; the S3 store runs beside them. */
  concurrency: number;
  /** snapshot-verify --restore: each copy found is also restored and read back (SPEC §8). */
  restore?: boolean;
  /** Called when every node's job is done, before S3's may be (the CLI stops its progress display). */
  nodesDone?: () => void;
}

export async function listSnapshots(request: ManageRequest, scope: RunScope): Promise<LocationListing[]> {
  const outcomes = await forEachStore(request, scope, 'connecting', async (store) => logged(await store.list(), scope.log));
  const listings = outcomes.map((outcome): LocationListing =>
    outcome.ok
      ? { ...outcome.location, ok: true, dir: outcome.result.dir, files: outcome.result.files, skipped: outcome.result.skipped }
      : { ...outcome.location, ok: false, error: outcome.error },
  );
  for (const listing of listings) {
    if (listing.ok) for (const skip of listing.skipped) scope.log.warn(`[${locationLabel(listing)}] ${listing.dir}/${skip.file} not listed: ${skip.reason}`);
  }
  return listings;
}

export async function removeSnapshot(name: string, request: ManageRequest, scope: RunScope): Promise<LocationRemoval[]> {
  return forEachStore(request, scope, 'connecting', async (store) => toRemoval(logged(await store.remove([name]), scope.log), scope.log));
}

export async function pruneSnapshots(options: { keep: number; dryRun: boolean }, request: ManageRequest, scope: RunScope): Promise<LocationPrune[]> {
  return forEachStore(request, scope, 'connecting', async (store): Promise<LocationPrune> => {
    const listing = logged(await store.list(), scope.log);
    if (!listing.ok) return { ...listing.location, ok: false, error: listing.error };
    const plan = planPrune(listing.result.files, options.keep);
    if (options.dryRun || plan.remove.length === 0) return { ...listing.location, ok: true, plan };
    const removal = toRemoval(logged(await store.remove(plan.remove), scope.log), scope.log);
    return { ...listing.location, ok: true, plan, removal: removal.ok ? { ok: true, names: removal.names } : { ok: false, error: removal.error } };
  });
}

/** Each copy checked, then compared with the others (a copy that differs from the nodes' is flagged). */
export async function verifySnapshot(name: string, request: ManageRequest, scope: RunScope): Promise<LocationVerification[]> {
  const checked = await forEachStore(request, scope, 'verify', async (store): Promise<LocationVerification> => {
    const outcome = logged(await store.verify(name), scope.log);
    if (!outcome.ok) return { ...outcome.location, ok: false, error: outcome.error };
    const { ok: _ok, durationMs: _ms, peakRssBytes: _rss, cpuMs: _cpu, ...copy } = outcome.result;
    if (!request.restore || store.restore === undefined || copy.status === 'missing' || copy.status === 'encrypted') return { ...outcome.location, ok: true, copy };
    // A copy the check found bad is drilled too: etcd's own restore then says what it makes of it.
    const drilled = logged(await store.restore(name), scope.log);
    return { ...outcome.location, ok: true, copy: { ...copy, restore: restoreFinding(copy, drilled) } };
  });
  return compareWithNodes(checked);
}

/**
 * `work` on every store: the nodes `concurrency` at a time, each shown working then done
 * or failed on the progress display; the S3 store at once, beside them. Results in store order.
 */
async function forEachStore<R extends { ok: boolean }>(
  request: ManageRequest,
  scope: RunScope,
  phase: ProgressPhase,
  work: (store: SnapshotStore) => Promise<R>,
): Promise<R[]> {
  const nodeStores = request.stores.filter((store) => store.node !== undefined);
  const otherStores = request.stores.filter((store) => store.node === undefined);
  const nodesWork = mapConcurrently(nodeStores, request.concurrency, async (store) => {
    const address = store.node!.address;
    scope.progress?.({ node: address, phase });
    const result = await work(store);
    scope.progress?.({ node: address, phase: result.ok ? 'done' : 'failed' });
    return result;
  }).finally(() => request.nodesDone?.());
  const [nodeResults, otherResults] = await Promise.all([nodesWork, Promise.all(otherStores.map(work))]);
  return request.stores.map((store) => (store.node !== undefined ? nodeResults[nodeStores.indexOf(store)]! : otherResults[otherStores.indexOf(store)]!));
}

/** A store's warnings (from the agent, or a container left behind), and its failure, on stderr. */
function logged<T>(outcome: Located<T>, log: Logger): Located<T> {
  const label = locationLabel(outcome.location);
  for (const warning of outcome.warnings) log.warn(`[${label}] ${warning}`);
  if (outcome.ok) for (const warning of (outcome.result as { warnings?: string[] }).warnings ?? []) log.warn(`[${label}] ${warning}`);
  else log.warn(`[${label}] failed: ${outcome.error}`);
  return outcome;
}

function toRemoval(outcome: Located<SnapshotRemoval | S3Removal>, log: Logger): LocationRemoval {
  if (!outcome.ok) return { ...outcome.location, ok: false, error: outcome.error };
  const removal = outcome.result;
  if ('versioned' in removal && removal.versioned && removal.names.some((n) => n.removed.some((r) => r.deleteMarker !== undefined))) {
    log.info(
      `${locationLabel(outcome.location)} is versioned: removed objects got a delete marker; their older versions stay until a lifecycle rule or an explicit version delete removes them`,
    );
  }
  return { ...outcome.location, ok: true, names: removal.names };
}
