import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RestoreDrilled } from '../../model/restore.js';
import { restoreFinding, restoreSummary } from './restore.js';
import { formatVerifyTable } from './tables.js';
import { verifyVerdict, type LocationVerification } from './verification.js';

const census = { revision: 34, keys: 12, resources: { configmaps: 10, secrets: 2 } };
const drilled = (overrides: Partial<RestoreDrilled> = {}) => ({
  ok: true as const,
  result: { ok: true as const, file: '/opt/rke/etcd-snapshots/a.zip', etcdVersion: '3.4.23', census, durationMs: 1, tool: 'etcdctl', image: 'rancher/mirrored-coreos-etcd:v3.4.23', ...overrides },
  warnings: [],
});

test('a restored copy agreeing with its bbolt revision has no difference', () => {
  const finding = restoreFinding({ revision: 34 }, drilled());
  assert.deepEqual(finding, { ok: true, etcdVersion: '3.4.23', tool: 'etcdctl', image: 'rancher/mirrored-coreos-etcd:v3.4.23', census });
  assert.equal(restoreSummary(finding as Extract<typeof finding, { ok: true }>), 'restored with etcd v3.4.23 (etcdctl, rancher/mirrored-coreos-etcd:v3.4.23): 12 keys at revision 34');
});

test('the whole bbolt census is compared where the check reports one, else its revision', () => {
  assert.equal((restoreFinding({ revision: 33 }, drilled()) as { difference?: string }).difference, 'revision 33 vs 34');
  const bbolt = { revision: 34, keys: 13, resources: { configmaps: 10, secrets: 3 } };
  assert.equal((restoreFinding({ revision: 34, census: bbolt }, drilled()) as { difference?: string }).difference, 'keys 13 vs 12; secrets 3 vs 2');
  assert.equal((restoreFinding({}, drilled()) as { difference?: string }).difference, undefined);
});

test('a failed drill is its error', () => {
  assert.deepEqual(restoreFinding({ revision: 1 }, { ok: false, error: 'host 10.0.0.2: boom', warnings: [] }), { ok: false, error: 'host 10.0.0.2: boom' });
});

test('the table and the verdict: a copy that does not restore, or differs, fails the run', () => {
  const copy = { file: '/opt/rke/etcd-snapshots/a.zip', status: 'ok' as const, revision: 34 };
  const verifications: LocationVerification[] = [
    { location: 'node', node: '10.0.0.1', ok: true, copy: { ...copy, restore: restoreFinding(copy, drilled()) } },
    { location: 'node', node: '10.0.0.2', ok: true, copy: { ...copy, restore: { ok: false, error: 'a.zip on host 10.0.0.2 did not restore (etcdctl ...): Error: snapshot missing hash' } } },
    { location: 'node', node: '10.0.0.3', ok: true, copy: { ...copy, revision: 35, restore: restoreFinding({ revision: 35 }, drilled()) } },
  ];
  const table = formatVerifyTable('a', verifications);
  assert.match(table, /Restore drill:\n {2}10\.0\.0\.1: restored with etcd v3\.4\.23 \(etcdctl, rancher\/mirrored-coreos-etcd:v3\.4\.23\): 12 keys at revision 34\n/);
  assert.match(table, /10\.0\.0\.2: did not restore: .*Error: snapshot missing hash/);
  assert.match(table, /10\.0\.0\.3: \/opt\/rke\/etcd-snapshots\/a\.zip: the restored member differs from the snapshot's bbolt file \(file vs restored\): revision 35 vs 34/);
  const verdict = verifyVerdict(verifications);
  assert.equal(verdict.exitCode, 1);
  assert.equal(verdict.good, 1);
  assert.deepEqual(verdict.notRestored, ['10.0.0.2', '10.0.0.3']);
});
