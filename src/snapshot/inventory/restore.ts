/** verify --restore: a copy's drill as reported, compared with what its bbolt file says (pure). */
import { etcdVersionLabel } from '../../etcd/restore-drill.js';
import { censusDifference, type Census } from '../../model/census.js';
import type { RestoreDrilled, RestoreFinding } from '../../model/restore.js';
import type { Outcome } from '../runtime.js';

/**
 * The drill's outcome as the report shows it. The restored census is compared with the one
 * read from the copy's bbolt file: the whole census where the check reports one (`census`),
 * else the revision it reads.
 */
export function restoreFinding(copy: { revision?: number; census?: Census }, drilled: Outcome<RestoreDrilled>): RestoreFinding {
  if (!drilled.ok) return { ok: false, error: drilled.error };
  const { etcdVersion, tool, image, census } = drilled.result;
  const difference = bboltDifference(copy, census);
  return { ok: true, etcdVersion, tool, image, census, ...(difference === undefined ? {} : { difference }) };
}

function bboltDifference(copy: { revision?: number; census?: Census }, restored: Census): string | undefined {
  if (copy.census !== undefined) return censusDifference(copy.census, restored);
  if (copy.revision !== undefined && copy.revision !== restored.revision) return `revision ${copy.revision} vs ${restored.revision}`;
  return undefined;
}

/** "restored with etcd v3.4.23 (etcdctl, rke-lab/etcd:v3.4.23): 12 keys at revision 34". */
export function restoreSummary(finding: Extract<RestoreFinding, { ok: true }>): string {
  const on = finding.via ? ` on host ${finding.via}` : '';
  return `restored${on} with etcd ${etcdVersionLabel(finding.etcdVersion)} (${finding.tool}, ${finding.image}): ${finding.census.keys} keys at revision ${finding.census.revision}`;
}
