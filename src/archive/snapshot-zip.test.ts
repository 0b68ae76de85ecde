import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { perTestDirectory } from '../../test/support/case-dirs.js';
import { inspectWithPython } from '../../test/support/zip-tools.js';
import { writeSnapshotArchive, type ArchiveRequest } from './snapshot-zip.js';
import { COMPRESSION_LEVELS, COMPRESSION_MODES, type CompressionMode } from '../model/compression.js';
import { BOLT_FIXTURE_REVISIONS, loadBoltFixture } from '../../test/fixtures/etcd/bolt-fixtures.js';

const cases = await perTestDirectory('archive-test-');

const endpoint = 'https://10.0.0.1:2379';
const db = Buffer.from('bbolt pages '.repeat(10_000));
const stream = Buffer.concat([db, createHash('sha256').update(db).digest()]);

function archiveRequest(openSnapshot: () => Readable, overrides: Partial<ArchiveRequest> = {}): ArchiveRequest {
  return {
    target: { dir: cases.path, fileName: 'snap.zip', mode: 0o600, overwrite: false, displayPath: '/opt/rke/etcd-snapshots/snap.zip' },
    snapshotName: 'snap',
    endpoint,
    openSnapshot,
    level: 1,
    modified: new Date('2024-05-06T07:08:10Z'),
    ...overrides,
  };
}

const chunked = (bytes: Buffer) => () => Readable.from(Array.from({ length: Math.ceil(bytes.length / 4096) }, (_, i) => bytes.subarray(i * 4096, (i + 1) * 4096)));

test('the archive holds etcd\'s stream whole, trailer included, and the state file', async () => {
  const state = Buffer.from('{"currentState":{}}');
  const written = await writeSnapshotArchive(archiveRequest(chunked(stream), { stateFile: state }));
  assert.deepEqual(written.snapshot, { snapshotSize: db.length, snapshotSha256: createHash('sha256').update(db).digest('hex') });
  const python = await inspectWithPython(join(cases.path, 'snap.zip'));
  assert.deepEqual(
    python.entries.map((entry) => [entry.name, entry.size, entry.unixMode.toString(8)]),
    [
      ['/backup/snap', stream.length, '100600'],
      ['/etc/kubernetes/snap.rkestate', state.length, '100400'],
    ],
  );
  assert.equal(python.entries[0]?.sha256, createHash('sha256').update(stream).digest('hex'));
});

test('every compression mode writes a deflate entry that Python reads back whole; none is the largest', async () => {
  const sizes = new Map<CompressionMode, number>();
  for (const mode of COMPRESSION_MODES) {
    const fileName = `snap-${mode}.zip`;
    const written = await writeSnapshotArchive(
      archiveRequest(chunked(stream), { level: COMPRESSION_LEVELS[mode], target: { dir: cases.path, fileName, mode: 0o600, overwrite: false, displayPath: fileName } }),
    );
    const python = await inspectWithPython(join(cases.path, fileName));
    assert.equal(python.entries[0]?.sha256, createHash('sha256').update(stream).digest('hex'), mode);
    sizes.set(mode, written.archive.size);
  }
  assert.ok(sizes.get('none')! > stream.length, `stored blocks: ${sizes.get('none')} bytes for ${stream.length}`);
  assert.ok(sizes.get('fast')! < stream.length / 10 && sizes.get('standard')! <= sizes.get('fast')!, JSON.stringify([...sizes]));
});

test('the etcd revision is read in the same pass; a database it cannot read still saves, without a revision', async () => {
  const real = loadBoltFixture('multilevel');
  const written = await writeSnapshotArchive(archiveRequest(chunked(real), { target: { dir: cases.path, fileName: 'real.zip', mode: 0o600, overwrite: false, displayPath: '/x/real.zip' } }));
  assert.equal(written.revision, BOLT_FIXTURE_REVISIONS.multilevel);
  assert.equal(written.revisionProblem, undefined);
  const notBolt = await writeSnapshotArchive(archiveRequest(chunked(stream)));
  assert.equal(notBolt.revision, undefined);
  assert.match(notBolt.revisionProblem ?? '', /cannot read the snapshot's etcd revision: it is not a bbolt database/);
});

test('a corrupt snapshot fails the SHA-256 check and leaves no file at all', async () => {
  const corrupt = Buffer.from(stream);
  corrupt.writeUInt8(corrupt.readUInt8(100) ^ 0xff, 100);
  await assert.rejects(writeSnapshotArchive(archiveRequest(chunked(corrupt))), {
    message: `snapshot from ${endpoint} failed its SHA-256 check (etcd's trailer does not match): it is corrupt or truncated`,
  });
  assert.deepEqual(await readdir(cases.path), []);
});

test('a stream that breaks off leaves no file at all', async () => {
  async function* breaksOff() {
    yield stream.subarray(0, 50_000);
    throw new Error('snapshot from https://10.0.0.1:2379 failed: connection reset (UNAVAILABLE)');
  }
  await assert.rejects(writeSnapshotArchive(archiveRequest(() => Readable.from(breaksOff()))), /connection reset/);
  assert.deepEqual(await readdir(cases.path), []);
});

test('an abort (SIGTERM) mid-stream leaves no file at all', async () => {
  const controller = new AbortController();
  const source = new Readable({ read() {} });
  source.push(stream.subarray(0, 10_000));
  setTimeout(() => controller.abort('SIGTERM'), 50);
  await assert.rejects(writeSnapshotArchive(archiveRequest(() => source, { signal: controller.signal })), { name: 'AbortError' });
  assert.ok(source.destroyed, 'the snapshot stream (the gRPC call) is cancelled');
  assert.deepEqual(await readdir(cases.path), []);
});
