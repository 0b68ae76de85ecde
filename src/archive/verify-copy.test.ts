import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { localDirectory, type SnapshotDirectory } from './snapshot-directory.js';
import { writeSnapshotArchive } from './snapshot-zip.js';
import { verifySnapshotCopy } from './verify-copy.js';
import { BOLT_FIXTURE_REVISIONS, loadBoltFixture } from '../../test/fixtures/etcd/bolt-fixtures.js';
import { tempDir } from '../../test/support/temp-dir.js';

// A real etcd snapshot: the stream etcd sends is the bbolt database plus its SHA-256.
const stream = loadBoltFixture('multilevel');
const db = stream.subarray(0, stream.length - 32);

async function written(name: string, withState = true, snapshot = stream): Promise<{ dir: string; options: SnapshotDirectory }> {
  const dir = tempDir('verify-copy-');
  await writeSnapshotArchive({
    target: { dir, fileName: `${name}.zip`, mode: 0o600, overwrite: false, displayPath: `/opt/rke/etcd-snapshots/${name}.zip` },
    snapshotName: name,
    endpoint: 'https://10.0.0.1:2379',
    openSnapshot: () => Readable.from([snapshot]),
    level: 6,
    modified: new Date('2024-05-06T07:08:10Z'),
    ...(withState ? { stateFile: Buffer.from('{}') } : {}),
  });
  return { dir, options: localDirectory(dir, '/opt/rke/etcd-snapshots') };
}

test('an intact copy: ok, with the snapshot size and sha256 and the state file present', async () => {
  const { dir, options } = await written('snap');
  const result = await verifySnapshotCopy(options, 'snap');
  assert.equal(result.status, 'ok', result.problem);
  assert.equal(result.file, '/opt/rke/etcd-snapshots/snap.zip');
  assert.equal(result.snapshotSize, db.length);
  assert.equal(result.snapshotSha256, createHash('sha256').update(db).digest('hex'));
  assert.equal(result.revision, BOLT_FIXTURE_REVISIONS.multilevel);
  assert.equal(result.stateFileIncluded, true);
  assert.equal(result.sha256, createHash('sha256').update(readFileSync(path.join(dir, 'snap.zip'))).digest('hex'));
  const noState = await written('bare', false);
  assert.equal((await verifySnapshotCopy(noState.options, 'bare')).stateFileIncluded, false);
});

test('a truncated copy is bad; a missing one is missing; a symlink is not followed', async () => {
  const { dir, options } = await written('snap');
  const file = path.join(dir, 'snap.zip');
  truncateSync(file, Math.floor(readFileSync(file).length / 2));
  const truncated = await verifySnapshotCopy(options, 'snap');
  assert.equal(truncated.status, 'bad');
  assert.match(truncated.problem ?? '', /damaged or truncated/);
  assert.equal((await verifySnapshotCopy(options, 'absent')).status, 'missing');
  symlinkSync(path.join(dir, 'snap.zip'), path.join(dir, 'link.zip'));
  const link = await verifySnapshotCopy(options, 'link');
  assert.deepEqual([link.status, link.problem], ['bad', 'it is a symlink (not followed)']);
});

test('a flipped byte inside the snapshot fails the CRC or etcd\'s trailer check', async () => {
  const { dir, options } = await written('snap');
  const file = path.join(dir, 'snap.zip');
  const bytes = readFileSync(file);
  bytes[200] = bytes[200]! ^ 0xff;
  writeFileSync(file, bytes);
  const result = await verifySnapshotCopy(options, 'snap');
  assert.equal(result.status, 'bad');
  assert.match(result.problem ?? '', /\/backup\/snap/);
});

test('a damaged state file entry makes the copy bad too', async () => {
  const { dir, options } = await written('snap');
  const file = path.join(dir, 'snap.zip');
  const bytes = readFileSync(file);
  const entryName = '/etc/kubernetes/snap.rkestate';
  const nameAt = bytes.indexOf(Buffer.from(entryName)); // in its local header, which comes first
  const at = nameAt + entryName.length + bytes.readUInt16LE(nameAt - 30 + 28);
  bytes[at] = bytes[at]! ^ 0xff; // first byte of the state file's deflated data
  writeFileSync(file, bytes);
  const result = await verifySnapshotCopy(options, 'snap');
  assert.equal(result.status, 'bad');
  assert.match(result.problem ?? '', /\/etc\/kubernetes\/snap\.rkestate/);
});

test('a database that passes etcd\'s trailer check but has a damaged page is bad, naming the page', async () => {
  const damaged = Buffer.from(db);
  const rootLeaf = Number(damaged.readBigUInt64LE(32)) * 4096;
  const keyAt = damaged.indexOf('key', rootLeaf);
  const bucketRoot = Number(damaged.readBigUInt64LE(keyAt + 3));
  damaged.writeUInt16LE(0x55, bucketRoot * 4096 + 8);
  const { options } = await written('snap', true, Buffer.concat([damaged, createHash('sha256').update(damaged).digest()]));
  const result = await verifySnapshotCopy(options, 'snap');
  assert.equal(result.status, 'bad');
  assert.equal(result.revision, undefined);
  assert.equal(
    result.problem,
    `/backup/snap: cannot read the snapshot's etcd revision: the database is corrupt: page ${bucketRoot} (the "key" bucket) is not a branch or leaf page (its header is damaged)`,
  );
});
