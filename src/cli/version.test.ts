import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packageVersion, versionOutput } from './version.js';

test('--version and -v print the version as RKE does; --output json as {"version"}', () => {
  assert.equal(versionOutput(['--version'], '1.2.3'), 'rke version v1.2.3');
  assert.equal(versionOutput(['-v'], '1.2.3'), 'rke version v1.2.3');
  assert.equal(versionOutput(['--version', '--output', 'json'], '1.2.3'), '{"version":"1.2.3"}');
  assert.equal(versionOutput(['-v', '--output=json'], '1.2.3'), '{"version":"1.2.3"}');
  assert.equal(versionOutput(['etcd', 'snapshot-save', '-v'], '1.2.3'), undefined);
  assert.equal(versionOutput([], '1.2.3'), undefined);
});

test("the version is the package's", () => {
  assert.match(packageVersion(), /^\d+\.\d+\.\d+/);
});
