import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rmExitCode, type LocationRemoval } from './removal.js';
import { formatRmTable } from './tables.js';
import { rmDocument } from './json.js';

test('rm: missing copies are reported and not fatal; a refused file or a failed node is', () => {
  const removals: LocationRemoval[] = [
    { location: 'node', node: '10.0.0.1', ok: true, names: [{ name: 'a', status: 'removed', removed: [{ file: 'a.zip', size: 100, modified: 'm' }], refused: [] }] },
    { location: 'node', node: '10.0.0.2', ok: true, names: [{ name: 'a', status: 'missing', removed: [], refused: [] }] },
  ];
  assert.equal(rmExitCode('a', removals), 0);
  assert.match(formatRmTable('a', removals), /10\.0\.0\.2\s+missing\s+-/);
  const down: LocationRemoval = { location: 'node', node: '10.0.0.3', ok: false, error: 'down' };
  assert.equal(rmExitCode('a', [...removals, down]), 1);
  const doc = JSON.parse(JSON.stringify(rmDocument('a', [...removals, down])));
  assert.deepEqual(doc.locations.map((l: { status?: string; ok: boolean }) => l.status ?? l.ok), ['removed', 'missing', false]);
  const refused: LocationRemoval = {
    location: 'node', node: '10.0.0.1', ok: true, names: [{ name: 'a', status: 'refused', removed: [], refused: [{ file: 'a.zip', reason: 'a symlink, not removed' }] }],
  };
  assert.equal(rmExitCode('a', [refused]), 1);
});
