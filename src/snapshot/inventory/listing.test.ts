import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SnapshotFile } from '../../model/snapshot.js';
import { locationLabel } from '../../model/location.js';
import { groupByName, type LocationListing } from './listing.js';
import { formatLsTable } from './tables.js';
import { JSON_SCHEMA_VERSION, lsDocument } from './json.js';

const zip = (name: string, modified: string, size = 100): SnapshotFile => ({ file: `${name}.zip`, kind: 'zip', name, size, modified });
const node = (address: string, files: SnapshotFile[]): LocationListing => ({
  location: 'node', node: address, ok: true, dir: '/opt/rke/etcd-snapshots', files, skipped: [],
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
