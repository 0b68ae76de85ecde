import { loadBoltFixture } from '../../test/fixtures/etcd/bolt-fixtures.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { writeSnapshotArchive } from '../archive/snapshot-zip.js';
import { classifyObject, s3Dir, verifyS3Snapshot } from './inventory.js';
import { tempDir } from '../../test/support/temp-dir.js';

test('objects are classified as the node listing classifies files; the PKI bundle uploaded beside NAME is one', () => {
  assert.deepEqual(classifyObject('nightly.zip'), { kind: 'zip', name: 'nightly' });
  assert.deepEqual(classifyObject('nightly.pki.bundle.tar.gz'), { kind: 'pki-bundle', name: 'nightly.pki.bundle.tar.gz' });
  assert.deepEqual(classifyObject('old-raw'), { kind: 'raw', name: 'old-raw' });
  assert.equal(classifyObject('.nightly.zip.tmp-1'), undefined);
  assert.deepEqual(classifyObject('.pki.bundle.tar.gz'), undefined);
});

test('the S3 location is named s3://BUCKET[/FOLDER]', () => {
  assert.equal(s3Dir({ bucket: 'b', folder: '' }), 's3://b');
  assert.equal(s3Dir({ bucket: 'b', folder: 'prod/etcd' }), 's3://b/prod/etcd');
});

/** A fake S3 holding one object: the S3 calls verifyS3Snapshot makes, answered from memory (unit test of the reading logic only). */
function fakeS3(object: Buffer | undefined, options: { recordedSha256?: string; failRanges?: boolean } = {}) {
  const gets: Array<string | undefined> = [];
  const client = {
    config: {},
    destroy: () => undefined,
    send: async (command: { constructor: { name: string }; input: { Range?: string } }) => {
      const kind = command.constructor.name;
      if (kind === 'HeadBucketCommand') return {};
      if (kind === 'HeadObjectCommand') {
        if (object === undefined) throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
        return { ContentLength: object.length, ETag: '"e"', LastModified: new Date('2024-05-06T07:08:10Z'), Metadata: options.recordedSha256 ? { sha256: options.recordedSha256 } : {} };
      }
      if (kind === 'GetObjectCommand') {
        const range = command.input.Range;
        gets.push(range);
        if (range !== undefined && options.failRanges) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        const match = range === undefined ? undefined : /^bytes=(\d+)-(\d+)$/.exec(range);
        const body = match ? object!.subarray(Number(match[1]), Number(match[2]) + 1) : object!;
        return { Body: Readable.from([body.subarray(0, body.length >> 1), body.subarray(body.length >> 1)]) };
      }
      throw new Error(`unexpected ${kind}`);
    },
  };
  return { gets, createClient: () => client as unknown as S3Client };
}

const target = { endpoint: 's3.example:7480', bucket: 'b', folder: 'prod' };
const keys = { s3: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret-example' } };

async function zipBytes(): Promise<Buffer> {
  const dir = tempDir('s3-verify-');
  const db = loadBoltFixture('multilevel');
  await writeSnapshotArchive({
    target: { dir, fileName: 'snap.zip', mode: 0o600, overwrite: false, displayPath: '/x/snap.zip' },
    snapshotName: 'snap',
    endpoint: 'https://10.0.0.1:2379',
    openSnapshot: () => Readable.from([db]),
    level: 1,
    modified: new Date('2024-05-06T07:08:10Z'),
    stateFile: Buffer.from('{}'),
  });
  return readFileSync(path.join(dir, 'snap.zip'));
}

test('s3-verify: an intact object is ok; one whole read for the digest, the zip read in ranges', async () => {
  const zip = await zipBytes();
  const sha = createHash('sha256').update(zip).digest('hex');
  const s3 = fakeS3(zip, { recordedSha256: sha });
  const result = await verifyS3Snapshot(target, 'snap', keys, { createClient: s3.createClient });
  assert.equal(result.status, 'ok', result.problem);
  assert.deepEqual([result.file, result.size, result.sha256, result.recordedSha256, result.etag, result.stateFileIncluded], ['s3://b/prod/snap.zip', zip.length, sha, sha, 'e', true]);
  assert.equal(s3.gets.filter((range) => range === undefined).length, 1);
  assert.ok(s3.gets.length > 2, String(s3.gets));
});

test('s3-verify: missing, truncated, and content that is not what the upload recorded', async () => {
  assert.equal((await verifyS3Snapshot(target, 'snap', keys, { createClient: fakeS3(undefined).createClient })).status, 'missing');
  const zip = await zipBytes();
  const cut = await verifyS3Snapshot(target, 'snap', keys, { createClient: fakeS3(zip.subarray(0, zip.length >> 1)).createClient });
  assert.equal(cut.status, 'bad');
  assert.match(cut.problem ?? '', /damaged or truncated/);
  const other = await verifyS3Snapshot(target, 'snap', keys, { createClient: fakeS3(zip, { recordedSha256: 'a'.repeat(64) }).createClient });
  assert.equal(other.status, 'bad');
  assert.match(other.problem ?? '', /is not what was uploaded/);
});

test('s3-verify: an S3 failure during the zip check is the location\'s error, not a bad copy', async () => {
  const zip = await zipBytes();
  await assert.rejects(
    verifyS3Snapshot(target, 'snap', keys, { createClient: fakeS3(zip, { failRanges: true }).createClient }),
    /cannot reach S3 endpoint s3\.example:7480 \(GetObject of s3:\/\/b\/prod\/snap\.zip\): connection refused/,
  );
});
