import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentSaveArgs, parseSaveResultLine } from './save.js';
import { formatResultLine } from './wire.js';
import type { SavedSnapshot } from '../../model/snapshot.js';

const success: SavedSnapshot = {
  ok: true,
  file: '/opt/rke/etcd-snapshots/s.zip',
  size: 10,
  sha256: 'a'.repeat(64),
  snapshotSize: 8,
  snapshotSha256: 'b'.repeat(64),
  stateFileIncluded: true,
  durationMs: 5,
};

test('the result line is found after any other output, and round-trips', () => {
  const stdout = `some log\n${formatResultLine(success)}\n`;
  assert.deepEqual(parseSaveResultLine(stdout), success);
});

test('no result, or a malformed one, is undefined rather than a guess', () => {
  assert.equal(parseSaveResultLine('crashed\n'), undefined);
  assert.equal(parseSaveResultLine('RKE-SNAPSHOT-RESULT {not json\n'), undefined);
  assert.equal(parseSaveResultLine('RKE-SNAPSHOT-RESULT {"ok":true}\n'), undefined);
});

test('arguments carry no secrets, only the settings', () => {
  const args = agentSaveArgs({
    name: 'n',
    endpoint: 'https://10.0.0.1:2379',
    cacert: '/c',
    cert: '/e',
    key: '/k',
    overwrite: true,
    healthTimeoutSeconds: 30,
  });
  assert.deepEqual(args, [
    'save', '--name', 'n', '--endpoint', 'https://10.0.0.1:2379', '--cacert', '/c', '--cert', '/e', '--key', '/k',
    '--health-timeout', '30', '--overwrite',
  ]);
});

test('progress lines: formatted and parsed back; anything else is not progress', async () => {
  const { formatProgressLine, parseProgressLine } = await import('./wire.js');
  assert.deepEqual(parseProgressLine(formatProgressLine({ phase: 'snapshot', bytes: 1234 })), { phase: 'snapshot', bytes: 1234 });
  assert.deepEqual(parseProgressLine(formatProgressLine({ phase: 'verify' })), { phase: 'verify' });
  assert.equal(parseProgressLine('RKE-SNAPSHOT-RESULT {"ok":true}'), undefined);
  assert.equal(parseProgressLine('RKE-SNAPSHOT-PROGRESS {"phase":"etcd"}'), undefined);
  assert.equal(parseProgressLine('RKE-SNAPSHOT-PROGRESS {"phase":"snapshot","bytes":-1}'), undefined);
  assert.equal(parseProgressLine('RKE-SNAPSHOT-PROGRESS {broken'), undefined);
});
