import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCensus } from './census-read.js';
import type { RangeRequest } from './messages.js';

/** A keyspace served as etcd serves a Range: sorted keys from `key` up, at most `limit`, `more` when cut. */
function keyspace(keys: string[], revision: number) {
  const sorted = keys.map((key) => Buffer.from(key)).sort(Buffer.compare);
  const requests: RangeRequest[] = [];
  const range = async (request: RangeRequest) => {
    requests.push(request);
    const from = sorted.filter((key) => Buffer.compare(key, request.key) >= 0);
    const page = from.slice(0, request.limit);
    return { header: { revision }, kvs: page.map((key) => ({ key, value: Buffer.alloc(0), mod_revision: 1 })), more: from.length > page.length, count: from.length };
  };
  return { range, requests };
}

test('counts every key once across pages, by resource, at the first page’s revision', async () => {
  const keys = ['/registry/pods/default/a', '/registry/pods/kube-system/b', '/registry/secrets/default/s', 'health', '/registry/services/specs/default/k'];
  const { range, requests } = keyspace(keys, 42);
  const census = await readCensus(range, 2);
  assert.deepEqual(census, { revision: 42, keys: 5, resources: { '(other)': 1, pods: 2, secrets: 1, 'services/specs': 1 } });
  assert.equal(requests.length, 3);
  assert.ok(requests.every((request) => request.keys_only === true && request.range_end?.equals(Buffer.from([0]))));
  assert.equal(requests[0]!.revision, undefined);
  assert.ok(requests.slice(1).every((request) => request.revision === 42), 'later pages are pinned to the first revision');
  assert.equal(requests[1]!.key.toString(), '/registry/pods/kube-system/b\0', 'page 2 starts just after page 1’s last key');
});

test('an empty keyspace is zero keys at its revision', async () => {
  const { range } = keyspace([], 7);
  assert.deepEqual(await readCensus(range), { revision: 7, keys: 0, resources: {} });
});

test('a page boundary never repeats or skips the key it ended on', async () => {
  const keys = Array.from({ length: 10 }, (_, index) => `/registry/configmaps/ns/${index}`);
  const { range, requests } = keyspace(keys, 3);
  const census = await readCensus(range, 3);
  assert.equal(census.keys, 10);
  assert.equal(requests.length, 4);
  assert.equal(requests[1]!.key.toString('latin1'), '/registry/configmaps/ns/2\0');
});

test('a Range answer without a header is an error, not a census at revision undefined', async () => {
  await assert.rejects(readCensus(async () => ({ kvs: [], count: 0 })), /without a response header/);
});
