import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatResultTable, formatTimings } from './report.js';
import type { NodeResult } from './result.js';

const sha = (digit: string) => digit.repeat(64);
const ok = (address: string, withBundle: boolean): NodeResult => ({
  address,
  ok: true,
  file: '/opt/rke/etcd-snapshots/snap.zip',
  size: 11_360,
  sha256: sha('a'),
  durationMs: 4_800,
  warnings: [],
  ...(withBundle ? { pkiBundle: { file: '/opt/rke/etcd-snapshots/pki.bundle.tar.gz', size: 3_210, sha256: sha('b'), entries: 9 } } : {}),
});

test('without --pki-bundle the table has no bundle block', () => {
  const table = formatResultTable([ok('10.0.0.1', false)]);
  assert.doesNotMatch(table, /PKI/);
});

test('--pki-bundle: one bundle row per node that wrote one, below the table', () => {
  const failed: NodeResult = { address: '10.0.0.2', ok: false, error: 'host 10.0.0.2: --pki-bundle: ...', durationMs: 300, warnings: [] };
  const lines = formatResultTable([ok('10.0.0.1', true), failed]).split('\n');
  const header = lines.indexOf('NODE      PKI BUNDLE                                 SIZE     SHA256');
  assert.ok(header > 0, lines.join('\n'));
  assert.equal(lines[header + 1], `10.0.0.1  /opt/rke/etcd-snapshots/pki.bundle.tar.gz  3.1 KiB  ${sha('b')}`);
  assert.equal(lines[header + 2], '');
  assert.equal(lines[header + 3], 'Errors:');
});

test('--pki-bundle --s3: the bundle object has its own line after the S3 line', () => {
  const result = ok('10.0.0.1', true);
  result.upload = {
    ok: true,
    bucket: 'b',
    key: 'f/snap.zip',
    size: 11_360,
    sha256: sha('a'),
    etag: 'e',
    verifiedBy: 'etag',
    warnings: [],
    durationMs: 1,
    pkiBundle: { key: 'f/snap.pki.bundle.tar.gz', size: 3_210, sha256: sha('b'), etag: 'e2', verifiedBy: 'etag', versionId: 'v1' },
  };
  const lines = formatResultTable([result]).split('\n');
  const s3 = lines.findIndex((line) => line.startsWith('S3: '));
  assert.equal(lines[s3], `S3: s3://b/f/snap.zip uploaded from 10.0.0.1: 11.1 KiB, sha256 ${sha('a')}, verified by ETag`);
  assert.equal(lines[s3 + 1], `S3 PKI bundle: s3://b/f/snap.pki.bundle.tar.gz uploaded from 10.0.0.1: 3.1 KiB, sha256 ${sha('b')}, verified by ETag, version v1`);
  assert.equal(lines.filter((line) => line.startsWith('S3: ')).length, 1);
});

test('timings read in phase order and skip the phases that did not run', () => {
  assert.equal(formatTimings({ imageMs: 5, sshConnectMs: 120, agentMs: 900 }), 'ssh 120 ms, image 5 ms, agent 900 ms');
  assert.equal(formatTimings({}), '');
});

test('the REVISION column: the etcd revision the agent read, "-" when it has none', () => {
  const lines = formatResultTable([{ ...ok('10.0.0.1', false), revision: 1504 }, ok('10.0.0.2', false)]).split('\n');
  assert.match(lines[0]!, /^NODE\s+STATUS\s+FILE\s+SIZE\s+REVISION\s+SHA256\s+TIME\s+S3$/);
  assert.match(lines[1]!, new RegExp(`^10\\.0\\.0\\.1\\s+ok\\s+/opt/rke/etcd-snapshots/snap\\.zip\\s+11\\.1 KiB\\s+1504\\s+${sha('a')}\\s+4\\.8s\\s+-$`));
  assert.match(lines[2]!, new RegExp(`^10\\.0\\.0\\.2\\s+ok\\s+\\S+\\s+11\\.1 KiB\\s+-\\s+${sha('a')}`));
});
