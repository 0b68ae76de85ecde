import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { BoltFormatError, BoltRevisionScanner } from './bolt-revision.js';
import { BoltRevisionTap, readBoltRevision } from './bolt-revision-stream.js';
import { BOLT_FIXTURE_REVISIONS, loadBoltFixture } from '../../test/fixtures/etcd/bolt-fixtures.js';

// Real etcd snapshots, with the revision `etcdctl snapshot status -w json` printed for each.
const expected = BOLT_FIXTURE_REVISIONS as Record<string, number>;
const fixtures = Object.keys(expected);
const load = loadBoltFixture;

function scan(db: Buffer, chunkSize = db.length) {
  const scanner = new BoltRevisionScanner();
  for (let at = 0; at < db.length; at += chunkSize) scanner.push(db.subarray(at, at + chunkSize));
  return scanner.finish();
}

/** Pages as the tests need them: the meta's root, a leaf's elements, the key bucket's root. */
const PAGE = 4096;
function rootPage(db: Buffer): number {
  return Number(db.readBigUInt64LE(32));
}
function keyBucketRoot(db: Buffer): number {
  const page = rootPage(db) * PAGE;
  assert.equal(db.readUInt16LE(page + 8), 0x02, 'the fixtures have a one-leaf root bucket');
  for (let index = 0; index < db.readUInt16LE(page + 10); index += 1) {
    const element = page + 16 + index * 16;
    const key = element + db.readUInt32LE(element + 4);
    if (db.subarray(key, key + db.readUInt32LE(element + 8)).toString() === 'key') return Number(db.readBigUInt64LE(key + 3));
  }
  throw new Error('no key bucket');
}

describe('BoltRevisionScanner on real etcd snapshots', () => {
  for (const name of fixtures) {
    it(`${name}: the revision etcdctl snapshot status prints (${expected[name]}), whatever the chunk size`, () => {
      const db = load(name);
      for (const size of [db.length, 65536, 4096, 4095, 1000, 17]) {
        const result = scan(db, size);
        assert.equal(result.revision, expected[name], `chunks of ${size}`);
        assert.equal(result.pageSize, PAGE);
        assert.equal(result.pages * result.pageSize + 32, db.length, 'the database plus etcd trailer');
      }
    });
  }

  it('the fixtures cover an empty, an inline and a multi-level key bucket, and a leaf with overflow pages', () => {
    assert.equal(scan(load('empty')).revision, 0);
    assert.equal(keyBucketRoot(load('inline')), 0, 'inline bucket');
    const multilevel = load('multilevel');
    assert.equal(multilevel.readUInt16LE(keyBucketRoot(multilevel) * PAGE + 8), 0x01, 'the key bucket root is a branch page');
    const overflow = load('overflow');
    let overflowPages = 0;
    for (let page = 2; page * PAGE < overflow.length - 32; page += 1) {
      if (Number(overflow.readBigUInt64LE(page * PAGE)) === page && overflow.readUInt16LE(page * PAGE + 8) === 0x02) {
        overflowPages = Math.max(overflowPages, overflow.readUInt32LE(page * PAGE + 12));
      }
    }
    assert.ok(overflowPages >= 10, `a leaf with overflow pages (${overflowPages})`);
  });

  it('byte at a time on a small snapshot', () => {
    assert.equal(scan(load('tombstone'), 1).revision, expected.tombstone);
  });

  it('as a pass-through stream and over an async iterable', async () => {
    const db = load('multilevel');
    const tap = new BoltRevisionTap();
    let passed = 0;
    const sink = new Writable({ write: (chunk: Buffer, _e, callback) => ((passed += chunk.length), callback()) });
    await pipeline(Readable.from([db.subarray(0, 10000), db.subarray(10000)]), tap, sink);
    assert.equal(passed, db.length, 'every byte passes through');
    assert.equal(tap.result.revision, expected.multilevel);
    assert.equal((await readBoltRevision(Readable.from([db]))).revision, expected.multilevel);
  });
});

describe('BoltRevisionTap, lenient (snapshot-save: the revision is a bonus, never a reason to fail)', () => {
  it('passes every byte and reports the problem instead of failing the stream', async () => {
    const notBolt = Buffer.from('not a bbolt database '.repeat(1000));
    const tap = new BoltRevisionTap({ lenient: true });
    let passed = 0;
    await pipeline(Readable.from([notBolt]), tap, new Writable({ write: (chunk: Buffer, _e, callback) => ((passed += chunk.length), callback()) }));
    assert.equal(passed, notBolt.length);
    assert.equal(tap.resultIfRead, undefined);
    assert.match(tap.problem ?? '', /^cannot read the snapshot's etcd revision: it is not a bbolt database/);
    const strict = new BoltRevisionTap();
    await assert.rejects(pipeline(Readable.from([notBolt]), strict, new Writable({ write: (_c, _e, callback) => callback() })), /not a bbolt database/);
  });
});

describe('BoltRevisionScanner on damaged databases', () => {
  const fails = (db: Buffer, pattern: RegExp) => assert.throws(() => scan(db, 4096), (error: unknown) => error instanceof BoltFormatError && pattern.test(error.message));

  it('the key bucket root page header damaged: names the page', () => {
    const db = Buffer.from(load('multilevel'));
    const root = keyBucketRoot(db);
    db.writeUInt16LE(0x55, root * PAGE + 8);
    fails(db, new RegExp(`page ${root} \\(the "key" bucket\\) is not a branch or leaf page`));
  });

  it('a leaf element pointing outside its page: names the page', () => {
    const db = Buffer.from(load('multilevel'));
    const root = keyBucketRoot(db);
    const lastChild = root * PAGE + 16 + (db.readUInt16LE(root * PAGE + 10) - 1) * 16;
    const leaf = Number(db.readBigUInt64LE(lastChild + 8));
    db.writeUInt32LE(0xffffff, leaf * PAGE + 16 + 4);
    fails(db, new RegExp(`page ${leaf} \\(child of branch page ${root}\\) has a leaf element \\(0\\) that points outside the page`));
  });

  it('a branch pointing past the last page', () => {
    const db = Buffer.from(load('multilevel'));
    const root = keyBucketRoot(db);
    db.writeBigUInt64LE(999999n, root * PAGE + 16 + 8);
    // the rightmost child is read first; damage it instead
    const last = root * PAGE + 16 + (db.readUInt16LE(root * PAGE + 10) - 1) * 16;
    db.writeBigUInt64LE(999999n, last + 8);
    fails(db, /points to page 999999, outside pages 2\.\.\d+/);
  });

  it('truncated: says where it ends', () => {
    fails(load('multilevel').subarray(0, 50000), /truncated: it ends at byte 50000, its meta page says \d+ pages of 4096 bytes/);
  });

  it('both meta pages damaged: not a bbolt database; one damaged: the other is used', () => {
    const db = Buffer.from(load('inline'));
    db.writeUInt8(db.readUInt8(PAGE + 40) ^ 0xff, PAGE + 40);
    assert.equal(scan(db).revision, expected.inline, 'meta 1 damaged');
    db.writeUInt8(db.readUInt8(40) ^ 0xff, 40);
    fails(db, /both its meta pages are damaged \(page 0: checksum mismatch; page 1: checksum mismatch\)/);
    fails(Buffer.from('PK\u0003\u0004 this is a zip, not a database'.padEnd(9000, 'x')), /not a bbolt database.*no bbolt magic number/);
    fails(Buffer.alloc(10), /ends after 10 bytes, before its meta pages/);
  });

  it('no "key" bucket: not an etcd database', () => {
    const db = Buffer.from(load('tombstone'));
    const page = rootPage(db) * PAGE;
    const at = db.indexOf('key', page);
    assert.ok(at > page && at < page + PAGE);
    db.write('kez', at);
    fails(db, /no "key" bucket: it is not an etcd v3 database/);
  });

  it('random damage: a result or a BoltFormatError, never another exception', () => {
    const original = load('multilevel');
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
    let errors = 0;
    for (let round = 0; round < 300; round += 1) {
      const db = Buffer.from(original);
      for (let flip = 0; flip < 1 + Math.floor(random() * 8); flip += 1) {
        const page = 2 + Math.floor(random() * (db.length / PAGE - 2));
        db[page * PAGE + Math.floor(random() * 64)] = Math.floor(random() * 256);
      }
      try {
        scan(db, 1 + Math.floor(random() * 8192));
      } catch (error) {
        assert.ok(error instanceof BoltFormatError, String(error));
        errors += 1;
      }
    }
    assert.ok(errors > 0);
  });
});
