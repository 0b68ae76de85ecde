import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyObject, s3Dir } from './s3-inventory.js';

test('objects are classified as the node listing classifies files; the PKI bundle uploaded beside NAME is one', () => {
  assert.deepEqual(classifyObject('nightly.zip'), { kind: 'zip', name: 'nightly' });
  assert.deepEqual(classifyObject('nightly.pki.bundle.tar.gz'), { kind: 'pki-bundle', name: 'nightly.pki.bundle.tar.gz' });
  assert.deepEqual(classifyObject('old-raw'), { kind: 'raw', name: 'old-raw' });
  assert.equal(classifyObject('.nightly.zip.tmp-1'), undefined);
  assert.deepEqual(classifyObject('.pki.bundle.tar.gz'), undefined);
});

test('the S3 location is named s3://BUCKET[/FOLDER]', () => {
  assert.equal(s3Dir({ bucket: 'b', folder: '' }), 's3://b');
  assert.equal(s3Dir({ bucket: 'b', folder: 'prod/etcd' }), 's3://b/prod/etcd');
});
