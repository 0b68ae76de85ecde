import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareWithNodes, verifyVerdict, type LocationVerification } from './verification.js';
import { formatVerifyTable } from './tables.js';
import { verifyDocument } from './json.js';

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
