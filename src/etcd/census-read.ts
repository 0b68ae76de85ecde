/**
 * The census of a running member, read back through etcd's API (`snapshot-verify --restore`):
 * every key of the keyspace, keys only, a page at a time, all pages at the revision the first
 * page saw. Only counts are kept, so memory stays at one page whatever the database holds.
 */
import { countKey, sortedResources, type Census } from '../model/census.js';
import type { RangeRequest, RangeResponse } from './messages.js';

/** One Range call (EtcdClient.range with its deadline and signal bound). */
export type RangeCall = (request: RangeRequest) => Promise<RangeResponse>;

/** Keys per page: small answers (keys only), few round trips. */
export const CENSUS_PAGE_KEYS = 1000;

/** `\0` as key and range end: every key there is. */
const WHOLE_KEYSPACE = Buffer.from([0]);

export async function readCensus(range: RangeCall, pageKeys = CENSUS_PAGE_KEYS): Promise<Census> {
  const resources: Record<string, number> = {};
  let keys = 0;
  let revision: number | undefined;
  let from = WHOLE_KEYSPACE;
  for (;;) {
    const page = await range({ key: from, range_end: WHOLE_KEYSPACE, limit: pageKeys, keys_only: true, ...(revision === undefined ? {} : { revision }) });
    if (revision === undefined) {
      revision = page.header?.revision;
      if (revision === undefined) throw new Error('etcd answered a Range without a response header (no revision)');
    }
    for (const kv of page.kvs) {
      keys++;
      countKey(resources, kv.key);
    }
    const last = page.kvs.at(-1);
    if (!page.more || last === undefined) break;
    // The next page starts just after the last key seen.
    from = Buffer.concat([last.key, WHOLE_KEYSPACE]);
  }
  return { revision, keys, resources: sortedResources(resources) };
}
