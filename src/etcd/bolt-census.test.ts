import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoltRevisionScanner } from './bolt-revision.js';
import { CensusLedger, keyHash } from './census-ledger.js';
import { keyRevisionEntry, resourceOfBytes } from './mvcc-entry.js';
import { countKey, resourceOf, sortedResources, type Census } from '../model/census.js';
import { BOLT_FIXTURE_LIVE_KEYS, BOLT_FIXTURE_REVISIONS, loadBoltFixture } from '../../test/fixtures/etcd/bolt-fixtures.js';

const PAGE = 4096;

function census(db: Buffer, chunkSize = db.length, options: { maxKeyRevisions?: number } = {}) {
  const scanner = new BoltRevisionScanner({ census: true, ...options });
  for (let at = 0; at < db.length; at += chunkSize) scanner.push(db.subarray(at, at + chunkSize));
  return scanner.finish();
}

/** The census etcd itself gives: its live keys (etcdctl get --prefix --keys-only when the fixture was made), counted. */
function expectedCensus(name: string): Census {
  const resources: Record<string, number> = {};
  for (const key of BOLT_FIXTURE_LIVE_KEYS[name] ?? []) countKey(resources, key);
  return { revision: BOLT_FIXTURE_REVISIONS[name] as number, keys: BOLT_FIXTURE_LIVE_KEYS[name]?.length ?? 0, resources: sortedResources(resources) };
}

/** Pages outside the tree that bbolt freed with a `key` bucket leaf's content still in them (a stale copy). */
function staleKeyLeaves(db: Buffer, reachable: Set<number>): number[] {
  const stale: number[] = [];
  for (let pgid = 2; pgid < (db.length - 32) / PAGE; pgid += 1) {
    const at = pgid * PAGE;
    const isLeaf = Number(db.readBigUInt64LE(at)) === pgid && db.readUInt16LE(at + 8) === 0x02 && db.readUInt16LE(at + 10) > 0;
    if (!isLeaf || reachable.has(pgid) || db.readUInt32LE(at + 12) !== 0) continue;
    if (db.readUInt32LE(at + 16 + 8) === 17 && db[at + 16 + db.readUInt32LE(at + 16 + 4) + 8] === 0x5f) stale.push(pgid);
  }
  return stale;
}

/** Page ids of the leaves the `key` bucket's tree reaches, in order, and every page of that tree. */
function keyBucketPages(db: Buffer): { reachable: Set<number>; leaves: number[]; root: number } {
  const root = Number(db.readBigUInt64LE(32));
  const rootPage = root * PAGE;
  let bucketRoot = 0;
  for (let index = 0; index < db.readUInt16LE(rootPage + 10); index += 1) {
    const element = rootPage + 16 + index * 16;
    const key = element + db.readUInt32LE(element + 4);
    if (db.subarray(key, key + db.readUInt32LE(element + 8)).toString() === 'key') bucketRoot = Number(db.readBigUInt64LE(key + 3));
  }
  const reachable = new Set<number>();
  const leaves: number[] = [];
  const visit = (pgid: number) => {
    reachable.add(pgid);
    const at = pgid * PAGE;
    if (db.readUInt16LE(at + 8) === 0x02) {
      leaves.push(pgid);
      return;
    }
    for (let index = 0; index < db.readUInt16LE(at + 10); index += 1) visit(Number(db.readBigUInt64LE(at + 16 + index * 16 + 8)));
  };
  visit(bucketRoot);
  return { reachable, leaves, root: bucketRoot };
}

describe('the census of real etcd snapshots equals what etcd lists (etcdctl get --prefix --keys-only)', () => {
  for (const name of Object.keys(BOLT_FIXTURE_LIVE_KEYS)) {
    it(`${name}: ${BOLT_FIXTURE_LIVE_KEYS[name]?.length} live keys, whatever the chunk size`, () => {
      const db = loadBoltFixture(name);
      for (const size of [db.length, 65536, 4095, 1000]) {
        const result = census(db, size);
        assert.equal(result.censusProblem, undefined);
        assert.deepEqual(result.census, expectedCensus(name), `chunks of ${size}`);
      }
    });
  }

  it('the census fixture has what the census must get right: deletes, a re-creation, updates, a compaction, overflow, resources of groups and other keys', () => {
    const expected = expectedCensus('census');
    assert.deepEqual(Object.keys(expected.resources), [
      '(other)', 'apiextensions.k8s.io/customresourcedefinitions', 'configmaps', 'example.com/widgets', 'pods', 'secrets', 'services/endpoints', 'services/specs',
    ]);
    assert.equal(expected.resources.pods, 240 - 80 + 7, 'every third pod deleted, 7 of them re-created after the compaction');
    assert.equal(expected.resources.secrets, 119);
    assert.equal(expected.resources.configmaps, 30 - 10 + 1 + 1);
    const db = loadBoltFixture('census');
    const { leaves } = keyBucketPages(db);
    let revisions = 0;
    for (const leaf of leaves) revisions += db.readUInt16LE(leaf * PAGE + 10);
    assert.ok(revisions > expected.keys + 10, `updates and a tombstone after the compaction (${revisions} for ${expected.keys} keys)`);
  });

  it('a stale page (a freed copy of a leaf, as bbolt leaves them) is not counted, wherever it lies', () => {
    const db = Buffer.from(loadBoltFixture('census'));
    const { reachable, leaves } = keyBucketPages(db);
    const free = staleKeyLeaves(db, reachable);
    assert.ok(free.length >= 3, `the snapshot has freed pages with stale key revisions in them (${free.length})`);
    // Without the walk, these alone would count keys twice or bring deleted ones back: the fixture as it is.
    assert.deepEqual(census(db, 8192).census, expectedCensus('census'));
    // Copies of live leaves (double counting if read) into pages outside the tree, before and after the originals.
    for (const [index, pgid] of [free[0], free[Math.floor(free.length / 2)], free[free.length - 1]].entries()) {
      const source = leaves[index * 3] as number;
      db.set(db.subarray(source * PAGE, source * PAGE + PAGE), (pgid as number) * PAGE);
      db.writeBigUInt64LE(BigInt(pgid as number), (pgid as number) * PAGE);
    }
    assert.deepEqual(census(db, 8192).census, expectedCensus('census'));
  });

  it('a stale leaf holding a key the tree no longer has (deleted and compacted) does not bring it back', () => {
    const db = Buffer.from(loadBoltFixture('census'));
    const { reachable, leaves } = keyBucketPages(db);
    const live = new Set(BOLT_FIXTURE_LIVE_KEYS.census);
    // A freed page, made into a leaf holding one put of a key etcd no longer lists.
    const target = staleKeyLeaves(db, reachable)[0] as number;
    assert.ok(target !== undefined && !live.has('/registry/pods/ns-1/pod-1'));
    const page = Buffer.alloc(PAGE);
    page.writeBigUInt64LE(BigInt(target), 0);
    page.writeUInt16LE(0x02, 8);
    page.writeUInt16LE(1, 10);
    const key = Buffer.alloc(17);
    key.writeBigUInt64BE(5n, 0);
    key[8] = 0x5f;
    const userKey = Buffer.from('/registry/pods/ns-1/pod-1');
    const value = Buffer.concat([Buffer.from([0x0a, userKey.length]), userKey]);
    page.writeUInt32LE(0, 16);
    page.writeUInt32LE(16, 20);
    page.writeUInt32LE(key.length, 24);
    page.writeUInt32LE(value.length, 28);
    key.copy(page, 32);
    value.copy(page, 32 + key.length);
    page.copy(db, target * PAGE);
    assert.ok(leaves.length > 1);
    assert.deepEqual(census(db, 4096).census, expectedCensus('census'));
  });

  it('over its memory bound the census gives up with a reason; the revision is still read', () => {
    const result = census(loadBoltFixture('census'), 65536, { maxKeyRevisions: 100 });
    assert.equal(result.revision, BOLT_FIXTURE_REVISIONS.census);
    assert.equal(result.census, undefined);
    assert.match(result.censusProblem ?? '', /^no census: the snapshot holds more than 100 key revisions, the census's memory bound/);
  });

  it('a leaf of the tree whose value is not a key-value record: no census, named page; the revision stands', () => {
    const db = Buffer.from(loadBoltFixture('multilevel'));
    const { leaves } = keyBucketPages(db);
    const leaf = (leaves[0] as number) * PAGE;
    const value = leaf + 16 + db.readUInt32LE(leaf + 16 + 4) + db.readUInt32LE(leaf + 16 + 8);
    db[value] = 0x12; // field 2 where etcd writes field 1
    const result = census(db);
    assert.equal(result.revision, BOLT_FIXTURE_REVISIONS.multilevel);
    assert.match(result.censusProblem ?? '', new RegExp(`^no census: page ${leaves[0]} of the "key" bucket holds an entry etcd did not write`));
  });

  it('without the census option, none is taken', () => {
    const scanner = new BoltRevisionScanner();
    scanner.push(loadBoltFixture('census'));
    const result = scanner.finish();
    assert.equal(result.census, undefined);
    assert.equal(result.censusProblem, undefined);
  });
});

describe('CensusLedger', () => {
  const entry = (key: string, tombstone = false) => {
    const bytes = Buffer.from(key);
    return { ...keyHash(bytes, 0, bytes.length), tombstone, resource: key.split('/')[2] ?? '(other)' };
  };

  it('the latest revision in tree order decides; pages not in the tree do not count; many partitions give the same answer', () => {
    const ledger = new CensusLedger();
    ledger.addPage(7, [entry('/registry/pods/a'), entry('/registry/pods/b'), entry('/registry/secrets/s')]);
    ledger.addPage(3, [entry('/registry/pods/a', true), entry('/registry/pods/c')]);
    ledger.addPage(9, [entry('/registry/pods/a'), entry('/registry/pods/z')]); // stale: not a leaf of the tree
    ledger.addPage(5, [entry('/registry/pods/b', true), entry('/registry/pods/b')]);
    assert.deepEqual(ledger.resolve([7, 3, 5]), { keys: 3, resources: { pods: 2, secrets: 1 } });
    assert.deepEqual(ledger.resolve([7, 5, 3]), { keys: 3, resources: { pods: 2, secrets: 1 } }, 'order matters: pods/a deleted last; pods/b re-created last');
    assert.deepEqual(ledger.resolve([3, 5, 7]), { keys: 4, resources: { pods: 3, secrets: 1 } });
  });

  it('300 000 keys over two partitions', () => {
    const ledger = new CensusLedger();
    const n = 300_000;
    for (let page = 0; page < n / 100; page += 1) {
      ledger.addPage(page + 2, Array.from({ length: 100 }, (_, i) => entry(`/registry/${(page * 100 + i) % 3 === 0 ? 'secrets' : 'pods'}/k-${page * 100 + i}`, (page * 100 + i) % 10 === 0)));
    }
    const result = ledger.resolve(Array.from({ length: n / 100 }, (_, page) => page + 2));
    assert.equal(result.keys, n - n / 10);
    assert.equal((result.resources.pods ?? 0) + (result.resources.secrets ?? 0), n - n / 10);
  });
});

describe('resourceOfBytes', () => {
  it('gives resourceOf\'s answer for every key, read in place', () => {
    const keys = [
      '/registry/pods/default/web-1', '/registry/secrets/kube-system/token', '/registry/namespaces/default', '/registry/pods/',
      '/registry/apiextensions.k8s.io/customresourcedefinitions/certificates.cert-manager.io', '/registry/cert-manager.io/certificates/ns/x',
      '/registry/services/specs/default/kubernetes', '/registry/services/endpoints/default/kubernetes', '/registry/services/specs/',
      '/registry/health', '/registry/', '/registry/pods', '/registry//x', '/registry/services/specs', '/registry/services//x', '/registry/a.b/c',
      '/registry/a.b//', '/registry/servicesx/y', 'compact_rev_key', '/other/pods/x', '', '/registr', '/registry/ü/x', ...(BOLT_FIXTURE_LIVE_KEYS.census ?? []),
    ];
    for (const key of keys) {
      const bytes = Buffer.from(`xx${key}/yy`, 'latin1');
      assert.equal(resourceOfBytes(bytes, 2, 2 + Buffer.byteLength(key, 'latin1')), resourceOf(Buffer.from(key, 'latin1')), key);
    }
  });
});

describe('keyRevisionEntry', () => {
  const revision = (tombstone: boolean) => Buffer.concat([Buffer.alloc(8), Buffer.from('_'), Buffer.alloc(8), Buffer.from(tombstone ? 't' : '')]);
  it("reads the user key from the value's field 1; refuses what etcd does not write", () => {
    const value = Buffer.from([0x0a, 3, ...Buffer.from('abc'), 0x10, 1]);
    const read = keyRevisionEntry(revision(false), value, value.length);
    assert.equal(read?.tombstone, false);
    assert.deepEqual({ ...keyHash(Buffer.from('abc'), 0, 3) }, { hashHigh: read?.hashHigh, hashLow: read?.hashLow });
    assert.equal(keyRevisionEntry(revision(true), value.subarray(0, 5), 5)?.tombstone, true);
    assert.equal(keyRevisionEntry(revision(false), Buffer.from([0x12, 1, 0]), 3), undefined, 'not field 1');
    assert.equal(keyRevisionEntry(revision(false), Buffer.from([0x0a, 9, 0]), 3), undefined, 'key longer than the value');
    assert.equal(keyRevisionEntry(Buffer.alloc(17), value, value.length), undefined, 'no "_"');
    // A key longer than the head read (5000 bytes: varint 0x88 0x27): hashed by its head and its length.
    const long = Buffer.concat([Buffer.from([0x0a, 0x88, 0x27]), Buffer.alloc(5000, 0x61)]);
    const longer = Buffer.concat([Buffer.from([0x0a, 0x89, 0x27]), Buffer.alloc(5001, 0x61)]);
    const readLong = keyRevisionEntry(revision(false), long.subarray(0, 4096), long.length);
    assert.ok(readLong !== undefined);
    assert.notEqual(readLong.hashLow, keyRevisionEntry(revision(false), longer.subarray(0, 4096), longer.length)?.hashLow);
  });
});
