import assert from 'node:assert/strict';
import { test } from 'node:test';
import { saveResultDocument } from './result-json.js';
import type { NodeResult } from './result.js';

const ok: NodeResult = { address: '10.0.0.1', ok: true, file: '/opt/rke/etcd-snapshots/n.zip', size: 10, sha256: 'a'.repeat(64), durationMs: 5, warnings: [] };
const failed: NodeResult = { address: '10.0.0.2', ok: false, error: 'etcd is not running on host [10.0.0.2]', durationMs: 3, warnings: [] };

test('the JSON document carries every node, the verdict, and the one S3 copy', () => {
  const uploaded: NodeResult = {
    ...ok,
    upload: { ok: true, bucket: 'b', key: 'f/n.zip', size: 10, sha256: 'a'.repeat(64), etag: '"x"', verifiedBy: 'etag', durationMs: 1, warnings: [] } as never,
  };
  const document = saveResultDocument('n', [uploaded, failed], { exitCode: 0, summary: '1 of 2 etcd nodes failed' }, { s3Requested: true });
  assert.equal(document.schemaVersion, 1);
  assert.equal(document.exitCode, 0);
  assert.equal(document.nodes.length, 2);
  assert.ok(!('upload' in document.nodes[0]!), 'the upload is reported once, under s3');
  assert.equal(document.s3?.uploadedFrom, '10.0.0.1');
  assert.equal(document.s3?.key, 'f/n.zip');
  assert.equal(document.summary, '1 of 2 etcd nodes failed');
});

test('no copy in S3 is null; no --s3 leaves the field out; an interruption wins the exit code', () => {
  assert.equal(saveResultDocument('n', [ok], { exitCode: 1 }, { s3Requested: true }).s3, null);
  assert.ok(!('s3' in saveResultDocument('n', [ok], { exitCode: 0 }, { s3Requested: false })));
  const interrupted = saveResultDocument('n', [failed], { exitCode: 1, summary: 'x' }, { s3Requested: false, interruptedExitCode: 130 });
  assert.equal(interrupted.exitCode, 130);
  assert.equal(interrupted.interrupted, true);
  assert.ok(!('summary' in interrupted));
});
