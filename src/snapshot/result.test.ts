import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatResultTable } from './report.js';
import { verdictFor, type NodeResult } from './result.js';
import { mapConcurrently } from './scope.js';

const ok = (address: string): NodeResult => ({
  address,
  ok: true,
  file: '/opt/rke/etcd-snapshots/s.zip',
  size: 2048,
  sha256: 'ab'.repeat(32),
  durationMs: 1200,
  warnings: [],
});
const failed = (address: string): NodeResult => ({
  address,
  ok: false,
  error: `etcd is not running on host [${address}]`,
  durationMs: 300,
  warnings: [],
});

test('the run succeeds when some node produced a snapshot, as RKE does', () => {
  const verdict = verdictFor([ok('10.0.0.1'), failed('10.0.0.2')], false);
  assert.equal(verdict.exitCode, 0);
  assert.match(verdict.summary ?? '', /1 of 2 etcd nodes failed: 10\.0\.0\.2/);
});

test('--strict fails the run on any failed node', () => {
  const verdict = verdictFor([ok('10.0.0.1'), failed('10.0.0.2')], true);
  assert.equal(verdict.exitCode, 1);
  assert.match(verdict.summary ?? '', /--strict: 1 of 2/);
});

test('the run fails when no node produced a snapshot', () => {
  assert.equal(verdictFor([failed('10.0.0.1'), failed('10.0.0.2')], false).exitCode, 1);
});

test('all nodes fine: exit 0 and nothing to say', () => {
  assert.deepEqual(verdictFor([ok('10.0.0.1')], true), { exitCode: 0 });
});

test('the table lists every node, and the errors in full below it', () => {
  const table = formatResultTable([ok('10.0.0.1'), { ...failed('10.0.0.2'), hostnameOverride: 'etcd-b' }]);
  const lines = table.split('\n');
  assert.match(lines[0]!, /^NODE\s+STATUS\s+FILE\s+SIZE\s+REVISION\s+SHA256\s+TIME\s+S3$/);
  assert.match(lines[1]!, /^10\.0\.0\.1\s+ok\s+\/opt\/rke\/etcd-snapshots\/s\.zip\s+2\.0 KiB\s+-\s+(ab){32}\s+1\.2s\s+-$/);
  assert.match(lines[2]!, /^10\.0\.0\.2 \(etcd-b\)\s+FAILED\s+-\s+-\s+-\s+-\s+0\.3s\s+-$/);
  assert.ok(table.includes('10.0.0.2 (etcd-b): etcd is not running on host [10.0.0.2]'));
});

test('sizes are shown in binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
});

test('mapConcurrently keeps order and never exceeds its limit', async () => {
  let inFlight = 0;
  let peak = 0;
  const results = await mapConcurrently([5, 1, 3, 2, 4], 2, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, n * 3));
    inFlight--;
    return n * 10;
  });
  assert.deepEqual(results, [50, 10, 30, 20, 40]);
  assert.equal(peak, 2);
});

const uploaded = (address: string): NodeResult => ({
  ...ok(address),
  upload: {
    ok: true,
    bucket: 'b',
    key: 'f/s.zip',
    size: 2048,
    sha256: 'cd'.repeat(32),
    etag: '"x"',
    versionId: 'v1',
    verifiedBy: 'etag',
    warnings: [],
    durationMs: 10,
  },
});

test('with --s3 the run fails when no copy reached S3, even though snapshots exist', () => {
  const verdict = verdictFor([{ ...ok('10.0.0.1'), uploadError: 'bucket b is not found' }, ok('10.0.0.2')], false, true);
  assert.equal(verdict.exitCode, 1);
  assert.match(verdict.summary ?? '', /saved on 2 node\(s\) but not uploaded to S3 \(tried 10\.0\.0\.1\)/);
});

test('a failed upload followed by another node\'s success passes, except under --strict', () => {
  const results = [{ ...ok('10.0.0.1'), uploadError: 'timeout' }, uploaded('10.0.0.2')];
  assert.equal(verdictFor(results, false, true).exitCode, 0);
  assert.match(verdictFor(results, true, true).summary ?? '', /--strict: the upload failed on 10\.0\.0\.1/);
});

test('the table names the S3 copy, its node, checksum and version, and failed upload attempts', () => {
  const table = formatResultTable([{ ...ok('10.0.0.1'), uploadError: 'access denied' }, uploaded('10.0.0.2')]);
  assert.match(table, /^10\.0\.0\.1 .*FAILED$/m);
  assert.match(table, /^10\.0\.0\.2 .*uploaded$/m);
  assert.ok(table.includes(`S3: s3://b/f/s.zip uploaded from 10.0.0.2: 2.0 KiB, sha256 ${'cd'.repeat(32)}, verified by ETag, version v1`));
  assert.ok(table.includes('10.0.0.1: upload: access denied'));
});
