import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SnapshotFile, SnapshotObject } from '../../model/snapshot.js';
import { planPrune, pruneExitCode, type LocationPrune } from './prune.js';
import { formatPruneTable } from './tables.js';
import { pruneDocument } from './json.js';

const zip = (name: string, modified: string, size = 100): SnapshotFile => ({ file: `${name}.zip`, kind: 'zip', name, size, modified });

test('prune keeps the N newest zips by time and removes the older ones', () => {
  const plan = planPrune(
    [zip('c', '2024-01-03T00:00:00Z'), zip('a', '2024-01-01T00:00:00Z'), zip('b', '2024-01-02T00:00:00Z'), zip('d', '2024-01-04T00:00:00Z')],
    2,
  );
  assert.deepEqual(plan, { keep: ['d', 'c'], remove: ['b', 'a'], unordered: [] });
});

test('prune never touches raw files or the PKI bundle; fewer than N removes nothing', () => {
  const files: SnapshotFile[] = [
    zip('a', '2024-01-01T00:00:00Z'),
    { file: 'raw', kind: 'raw', name: 'raw', size: 1, modified: '2020-01-01T00:00:00Z' },
    { file: 'pki.bundle.tar.gz', kind: 'pki-bundle', name: 'pki.bundle.tar.gz', size: 1, modified: '2020-01-01T00:00:00Z' },
  ];
  assert.deepEqual(planPrune(files, 1), { keep: ['a'], remove: [], unordered: [] });
  assert.deepEqual(planPrune(files, 5).remove, []);
});

test('prune lists, and does not remove, what it cannot order: ties across the cut, bad times, names that are not plain', () => {
  const plan = planPrune(
    [
      zip('new', '2024-01-03T00:00:00Z'),
      zip('tie-1', '2024-01-02T00:00:00Z'),
      zip('tie-2', '2024-01-02T00:00:00Z'),
      zip('old', '2024-01-01T00:00:00Z'),
      zip('weird', 'not a time'),
      zip('x.zip', '2000-01-01T00:00:00Z'),
    ],
    2,
  );
  assert.deepEqual(plan.keep, ['new', 'tie-1']);
  assert.deepEqual(plan.remove, ['old']);
  assert.deepEqual(plan.unordered.map((u) => u.name).sort(), ['tie-2', 'weird', 'x.zip']);
  assert.match(plan.unordered.find((u) => u.name === 'tie-2')!.reason, /same modification time/);
});

test('prune document and table: dry run says would-remove; a failed node fails the run', () => {
  const plan = { keep: ['new'], remove: ['old'], unordered: [] };
  const dry: LocationPrune[] = [{ location: 'node', node: '10.0.0.1', ok: true, plan }];
  const doc = JSON.parse(JSON.stringify(pruneDocument(1, true, dry)));
  assert.deepEqual(doc.locations[0].remove, [{ name: 'old', status: 'would-remove' }]);
  assert.match(formatPruneTable(1, true, dry), /^Dry run: [\s\S]*10\.0\.0\.1\s+old\s+would-remove$/m);
  assert.equal(pruneExitCode(dry), 0);
  const done: LocationPrune[] = [
    { ...dry[0]!, ok: true, plan, removal: { ok: true, names: [{ name: 'old', status: 'removed', removed: [], refused: [] }] } },
    { location: 'node', node: '10.0.0.2', ok: false, error: 'down' },
  ];
  assert.deepEqual(JSON.parse(JSON.stringify(pruneDocument(1, false, done))).locations[0].remove, [{ name: 'old', status: 'removed' }]);
  assert.equal(pruneExitCode(done), 1);
});

test('prune --s3 plans the S3 location like a node: by modification time, zips only', () => {
  const objects: SnapshotObject[] = [
      { file: 'n1.zip', key: 'prod/n1.zip', kind: 'zip', name: 'n1', size: 1, modified: '2024-01-01T00:00:00.000Z', etag: 'x' },
      { file: 'n2.zip', key: 'prod/n2.zip', kind: 'zip', name: 'n2', size: 1, modified: '2024-01-02T00:00:00.000Z', etag: 'y' },
      { file: 'n1.pki.bundle.tar.gz', key: 'prod/n1.pki.bundle.tar.gz', kind: 'pki-bundle', name: 'n1.pki.bundle.tar.gz', size: 1, modified: '2020-01-01T00:00:00.000Z', etag: 'z' },
  ];
  const plan = planPrune(objects, 1);
  assert.deepEqual(plan, { keep: ['n2'], remove: ['n1'], unordered: [] });
});
