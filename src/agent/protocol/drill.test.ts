import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentArgs } from '../args.js';
import { agentDrillArgs, formatDrillReadyLine, parseDrillReadyLine, parseDrillResultLine } from './drill.js';
import { formatResultLine } from './wire.js';

test('the drill’s arguments round-trip through the agent’s parser; only placed copies of our own name pattern', () => {
  assert.deepEqual(parseAgentArgs(agentDrillArgs({ name: 'nightly', timeoutSeconds: 290 })), { command: 'drill', request: { name: 'nightly', timeoutSeconds: 290 } });
  const placed = { name: 'nightly', timeoutSeconds: 60, placedCopy: '.restore-drill-0123456789ab.zip' };
  assert.deepEqual(parseAgentArgs(agentDrillArgs(placed)), { command: 'drill', request: placed });
  assert.throws(() => parseAgentArgs(['drill', '--name', 'n', '--timeout', '60', '--placed-copy', 'nightly.zip']), /--placed-copy must be/);
  assert.throws(() => parseAgentArgs(['drill', '--name', '../x', '--timeout', '60']));
  assert.throws(() => parseAgentArgs(['drill', '--name', 'n', '--timeout', '0']), /--timeout/);
});

test('the ready line: scratch name, ports and token checked before the CLI binds anything', () => {
  const ready = { scratch: '.restore-drill-0123456789ab', ports: { client: 40001, peer: 40002 }, token: 'rke-restore-drill-ab', snapshotSize: 20512 };
  assert.deepEqual(parseDrillReadyLine(formatDrillReadyLine(ready)), ready);
  assert.equal(parseDrillReadyLine(formatDrillReadyLine({ ...ready, scratch: '../../etc' })), undefined);
  assert.equal(parseDrillReadyLine(formatDrillReadyLine({ ...ready, ports: { client: 0, peer: 1 } })), undefined);
  assert.equal(parseDrillReadyLine(formatDrillReadyLine({ ...ready, token: 'a b' })), undefined);
  assert.equal(parseDrillReadyLine('RKE-SNAPSHOT-RESULT {}'), undefined);
});

test('the result line: a census, or the failure', () => {
  const census = { revision: 3, keys: 2, resources: { pods: 1, secrets: 1 } };
  const ok = { ok: true, file: '/opt/rke/etcd-snapshots/n.zip', etcdVersion: '3.4.23', census, durationMs: 5 };
  assert.deepEqual(parseDrillResultLine(`log\n${formatResultLine(ok)}\n`), ok);
  assert.deepEqual(parseDrillResultLine(formatResultLine({ ok: false, error: 'x' } as { ok: boolean })), { ok: false, error: 'x' });
  assert.equal(parseDrillResultLine(formatResultLine({ ok: true, file: 'f', etcdVersion: '3', census: { keys: 1 } } as { ok: boolean })), undefined);
});
