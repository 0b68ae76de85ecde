import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pkiBundleObjectKey, snapshotObjectKey } from './key.js';
import { normalizeFolder } from './settings.js';

test('the key is <folder>/NAME.zip without double or leading slashes', () => {
  assert.equal(snapshotObjectKey('', 'snap'), 'snap.zip');
  assert.equal(snapshotObjectKey(normalizeFolder('/rke//prod/'), 'snap'), 'rke/prod/snap.zip');
  assert.equal(snapshotObjectKey('rke', 'rke_etcd_snapshot_2026-11-28T17:00:00Z'), 'rke/rke_etcd_snapshot_2026-11-28T17:00:00Z.zip');
});

test('the PKI bundle goes next to the snapshot, named after it: <folder>/NAME.pki.bundle.tar.gz', () => {
  assert.equal(pkiBundleObjectKey('', 'snap'), 'snap.pki.bundle.tar.gz');
  assert.equal(pkiBundleObjectKey('rke/prod', 'snap'), 'rke/prod/snap.pki.bundle.tar.gz');
});
