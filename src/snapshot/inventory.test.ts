import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SnapshotFile, SnapshotObject } from '../model/snapshot.js';
import {
  JSON_SCHEMA_VERSION,
  formatLsTable,
  formatPruneTable,
  formatRmTable,
  formatVerifyTable,
  groupByName,
  compareWithNodes,
  locationLabel,
  verifyDocument,
  verifyVerdict,
  type LocationVerification,
  lsDocument,
  planPrune,
  pruneDocument,
  pruneExitCode,
  rmDocument,
  rmExitCode,
  type LocationListing,
  type LocationPrune,
  type LocationRemoval,
} from './inventory.js';

const zip = (name: string, modified: string, size = 100): SnapshotFile => ({ file: `${name}.zip`, kind: 'zip', name, size, modified });
const node = (address: string, files: SnapshotFile[]): LocationListing => ({
  location: 'node', node: address, ok: true, dir: '/opt/rke/etcd-snapshots', files, skipped: [],
});

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

test('ls groups copies by name, newest first, and names the nodes that lack one', () => {
  const listings: LocationListing[] = [
    node('10.0.0.1', [zip('a', '2024-01-01T00:00:00Z'), zip('b', '2024-01-02T00:00:00Z')]),
    node('10.0.0.2', [zip('a', '2024-01-01T00:00:01Z')]),
    { location: 'node', node: '10.0.0.3', ok: false, error: 'the SSH connection to host 10.0.0.3 was refused' },
  ];
  const { snapshots } = groupByName(listings);
  assert.deepEqual(snapshots.map((s) => [s.name, s.copies.map(locationLabel), s.missingOn]), [
    ['b', ['10.0.0.1'], ['10.0.0.2']],
    ['a', ['10.0.0.1', '10.0.0.2'], []],
  ]);
  const table = formatLsTable(listings);
  assert.match(table, /^NAME\s+KIND\s+MODIFIED\s+SIZE\s+LOCATIONS\s+MISSING ON$/m);
  assert.match(table, /^b\s+zip\s+2024-01-02T00:00:00Z\s+100 B\s+10\.0\.0\.1\s+10\.0\.0\.2$/m);
  assert.match(table, /Errors:\n  10\.0\.0\.3: the SSH connection/);
  const doc = JSON.parse(JSON.stringify(lsDocument(listings)));
  assert.equal(doc.schemaVersion, JSON_SCHEMA_VERSION);
  assert.equal(doc.command, 'snapshot-ls');
  assert.deepEqual(doc.locations.map((l: { node: string; ok: boolean }) => [l.node, l.ok]), [['10.0.0.1', true], ['10.0.0.2', true], ['10.0.0.3', false]]);
  assert.deepEqual(doc.snapshots[1].copies[0], {
    name: 'a', location: 'node', node: '10.0.0.1', file: '/opt/rke/etcd-snapshots/a.zip', kind: 'zip', size: 100, modified: '2024-01-01T00:00:00Z',
  });
  assert.deepEqual(doc.pkiBundles, []);
});

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

test('verify: a bad copy or an unchecked node fails; missing copies are flagged, and fail only when no copy is good', () => {
  const good: LocationVerification = { location: 'node', node: '10.0.0.1', ok: true, copy: { file: '/f.zip', status: 'ok', size: 10, revision: 1504, snapshotSha256: 'a'.repeat(64), stateFileIncluded: true } };
  const missing: LocationVerification = { location: 'node', node: '10.0.0.2', ok: true, copy: { file: '/f.zip', status: 'missing' } };
  const bad: LocationVerification = { location: 'node', node: '10.0.0.3', ok: true, copy: { file: '/f.zip', status: 'bad', problem: 'the zip is damaged or truncated' } };
  const down: LocationVerification = { location: 'node', node: '10.0.0.4', ok: false, error: 'down' };
  assert.equal(verifyVerdict([good, missing]).exitCode, 0);
  assert.deepEqual(verifyVerdict([good, missing]).missing, ['10.0.0.2']);
  assert.equal(verifyVerdict([missing]).exitCode, 1);
  assert.equal(verifyVerdict([good, bad]).exitCode, 1);
  assert.equal(verifyVerdict([good, down]).exitCode, 1);
  const doc = JSON.parse(JSON.stringify(verifyDocument('f', [good, bad, down])));
  assert.equal(doc.ok, false);
  assert.deepEqual(doc.locations.map((l: any) => l.status ?? l.error), ['ok', 'bad', 'down']);
  assert.deepEqual(doc.locations.map((l: any) => l.revision), [1504, undefined, undefined]);
  const text = formatVerifyTable('f', [good, missing, bad]);
  assert.match(text, /^10\.0\.0\.3\s+BAD/m);
  assert.match(text, /^LOCATION\s+STATUS\s+SIZE\s+MODIFIED\s+REVISION\s+SNAPSHOT SHA256/m);
  assert.match(text, /^10\.0\.0\.1\s+ok\s+10 B\s+-\s+1504\s+a{64}\s+yes$/m);
  assert.match(text, /^10\.0\.0\.2\s+MISSING\s+-\s+-\s+-\s+-\s+-$/m);
  assert.match(text, /Problems:\n  10\.0\.0\.2: \/f\.zip is missing\n  10\.0\.0\.3: \/f\.zip: the zip is damaged or truncated/);
});

const s3Where = { location: 's3' as const, endpoint: 's3.example:7480', bucket: 'backups', folder: 'prod' };

test('ls --s3: S3 is its own location; objects grouped with the nodes\' copies, with key and ETag; missingOn names it', () => {
  const listings: LocationListing[] = [
    node('10.0.0.1', [zip('a', '2024-01-01T00:00:00Z'), zip('b', '2024-01-02T00:00:00Z')]),
    {
      ...s3Where,
      via: '10.0.0.1',
      ok: true,
      dir: 's3://backups/prod',
      skipped: [],
      files: [
        { file: 'a.zip', key: 'prod/a.zip', kind: 'zip', name: 'a', size: 100, modified: '2024-01-01T00:00:05.000Z', etag: 'e1', sha256: 'f'.repeat(64) },
        { file: 'a.pki.bundle.tar.gz', key: 'prod/a.pki.bundle.tar.gz', kind: 'pki-bundle', name: 'a.pki.bundle.tar.gz', size: 9, modified: '2024-01-01T00:00:05.000Z', etag: 'e2' },
      ],
    },
  ];
  const { snapshots, pkiBundles } = groupByName(listings);
  assert.deepEqual(snapshots.map((s) => [s.name, s.copies.map(locationLabel), s.missingOn]), [
    ['b', ['10.0.0.1'], ['s3://backups/prod']],
    ['a', ['10.0.0.1', 's3://backups/prod'], []],
  ]);
  const copy = snapshots[1]!.copies[1]!;
  assert.deepEqual(copy, {
    name: 'a', ...s3Where, file: 's3://backups/prod/a.zip', kind: 'zip', size: 100, modified: '2024-01-01T00:00:05.000Z', sha256: 'f'.repeat(64), key: 'prod/a.zip', etag: 'e1',
  });
  assert.deepEqual(pkiBundles.map((b) => b.file), ['s3://backups/prod/a.pki.bundle.tar.gz']);
  const doc = lsDocument(listings) as any;
  assert.deepEqual(doc.locations[1], { ...s3Where, via: '10.0.0.1', ok: true, dir: 's3://backups/prod', skipped: [] });
  assert.match(formatLsTable(listings), /^a\s+zip\s+2024-01-01T00:00:05Z\s+100 B\s+10\.0\.0\.1, s3:\/\/backups\/prod\s+-$/m);
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

const good = (sha: string, snap: string) => ({ file: 'f', status: 'ok' as const, size: 10, sha256: sha, snapshotSize: 5, snapshotSha256: snap, stateFileIncluded: true });

test('verify --s3: the S3 copy matching a node\'s copy is ok and says which; one matching none differs and fails the run', () => {
  const nodes: LocationVerification[] = [
    { location: 'node', node: '10.0.0.1', ok: true, copy: good('z1', 's1') },
    { location: 'node', node: '10.0.0.2', ok: true, copy: good('z2', 's2') },
  ];
  const same = compareWithNodes([...nodes, { ...s3Where, ok: true, copy: { ...good('z2', 's2'), file: 's3://backups/prod/a.zip' } }]);
  assert.deepEqual((same[2] as any).copy.matches, ['10.0.0.2']);
  assert.equal(verifyVerdict(same).exitCode, 0);
  assert.match(formatVerifyTable('a', same), /Compared:\n  s3:\/\/backups\/prod: identical to the copy on 10\.0\.0\.2/);

  const other = compareWithNodes([...nodes, { ...s3Where, ok: true, copy: { ...good('z3', 's3'), file: 's3://backups/prod/a.zip' } }]);
  assert.equal((other[2] as any).copy.status, 'differs');
  assert.match((other[2] as any).copy.problem, /matches no etcd node's copy/);
  const verdict = verifyVerdict(other);
  assert.equal(verdict.exitCode, 1);
  assert.deepEqual(verdict.bad, ['s3://backups/prod']);
  assert.match(formatVerifyTable('a', other), /^s3:\/\/backups\/prod\s+DIFFERS\s/m);
  assert.equal((verifyDocument('a', other) as any).locations[2].status, 'differs');
});

test('verify --s3: a missing S3 copy fails the run; with no good node copy the S3 copy is not compared', () => {
  const missing = verifyVerdict([
    { location: 'node', node: '10.0.0.1', ok: true, copy: good('z1', 's1') },
    { ...s3Where, ok: true, copy: { file: 's3://backups/prod/a.zip', status: 'missing' } },
  ]);
  assert.deepEqual([missing.exitCode, missing.missing, missing.missingInS3], [1, [], ['s3://backups/prod']]);
  const alone = compareWithNodes([
    { location: 'node', node: '10.0.0.1', ok: true, copy: { file: 'f', status: 'missing' } },
    { ...s3Where, ok: true, copy: { ...good('z3', 's3'), file: 's3://backups/prod/a.zip' } },
  ]);
  assert.equal((alone[1] as any).copy.status, 'ok');
  assert.equal((alone[1] as any).copy.matches, undefined);
  assert.equal(verifyVerdict(alone).exitCode, 0);
});
