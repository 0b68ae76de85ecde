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
  assert.match(text, /^LOCATION\s+STATUS\s+SIZE\s+MODIFIED\s+REVISION\s+CENSUS\s+SNAPSHOT SHA256/m);
  assert.match(text, /^10\.0\.0\.1\s+ok\s+10 B\s+-\s+1504\s+-\s+a{64}\s+yes$/m);
  assert.match(text, /^10\.0\.0\.2\s+MISSING\s+-\s+-\s+-\s+-\s+-\s+-$/m);
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

const census = (revision: number, resources: Record<string, number>) => ({ revision, keys: Object.values(resources).reduce((a, b) => a + b, 0), resources });
const node = (address: string, copyCensus: object | undefined, sha = `z-${address}`): LocationVerification => ({
  location: 'node',
  node: address,
  ok: true,
  copy: { ...good(sha, `s-${address}`), ...(copyCensus ? { census: copyCensus as any, revision: (copyCensus as any).revision } : {}) },
});

test('verify: a copy whose census differs from the others at the same revision differs, naming the resource, and fails the run', () => {
  const compared = compareWithNodes([
    node('10.0.0.1', census(1210, { pods: 120, secrets: 300 })),
    node('10.0.0.2', census(1210, { pods: 120, secrets: 299 })),
    node('10.0.0.3', census(1210, { pods: 120, secrets: 300 })),
  ]);
  assert.deepEqual(compared.map((v: any) => v.copy.status), ['ok', 'differs', 'ok']);
  assert.equal(
    (compared[1] as any).copy.problem,
    'its census differs from the copy on 10.0.0.1, 10.0.0.3 at the same revision 1210: keys 419 vs 420; secrets 299 vs 300; copies at one revision hold the same keys, so this copy (or its etcd member) is not sound',
  );
  assert.equal(verifyVerdict(compared).exitCode, 1);
  assert.deepEqual(verifyVerdict(compared).bad, ['10.0.0.2']);
  const text = formatVerifyTable('f', compared);
  assert.match(text, /^10\.0\.0\.1\s+ok\s+10 B\s+-\s+1210\s+420 keys \(secrets 300, pods 120\)\s+s-10\.0\.0\.1\s+yes$/m);
  assert.match(text, /Problems:\n  10\.0\.0\.2: f: its census differs from the copy on 10\.0\.0\.1, 10\.0\.0\.3 at the same revision 1210: keys 419 vs 420; secrets 299 vs 300/);
  // Two copies at one revision, each its own census: neither can be trusted over the other.
  const tie = compareWithNodes([node('10.0.0.1', census(7, { pods: 1 })), node('10.0.0.2', census(7, { pods: 2 }))]);
  assert.deepEqual(tie.map((v: any) => v.copy.status), ['differs', 'differs']);
  // The S3 copy identical to a differing node copy differs too; identical to a sound one, it is ok.
  const withS3 = compareWithNodes([
    node('10.0.0.1', census(1210, { pods: 1 })),
    node('10.0.0.2', census(1210, { pods: 2 })),
    node('10.0.0.3', census(1210, { pods: 1 })),
    { ...s3Where, ok: true, copy: { ...good('z-10.0.0.2', 's-10.0.0.2'), file: 's3://backups/prod/f.zip' } },
  ]);
  assert.equal((withS3[3] as any).copy.status, 'differs');
  assert.match((withS3[3] as any).copy.problem, /identical to the copy on 10\.0\.0\.2, whose census differs/);
});

test('verify: copies at different revisions may differ: how is said (censusNote), the run does not fail', () => {
  const compared = compareWithNodes([
    node('10.0.0.1', census(1210, { pods: 120, secrets: 300 })),
    node('10.0.0.2', census(1211, { pods: 120, secrets: 301 })),
    node('10.0.0.3', census(1210, { pods: 120, secrets: 300 })),
    node('10.0.0.4', undefined),
  ]);
  assert.deepEqual(compared.map((v: any) => v.copy.status), ['ok', 'ok', 'ok', 'ok']);
  assert.equal((compared[1] as any).copy.censusNote, 'taken at another revision than the copy on 10.0.0.1, 10.0.0.3: revision 1211 vs 1210; keys 421 vs 420; secrets 301 vs 300');
  assert.equal(verifyVerdict(compared).exitCode, 0);
  assert.match(formatVerifyTable('f', compared), /Compared:\n  10\.0\.0\.2: taken at another revision than the copy on 10\.0\.0\.1, 10\.0\.0\.3: revision 1211 vs 1210; keys 421 vs 420; secrets 301 vs 300/);
  const doc = JSON.parse(JSON.stringify(verifyDocument('f', compared)));
  assert.deepEqual(doc.locations[0].census, census(1210, { pods: 120, secrets: 300 }));
  assert.match(doc.locations[1].censusNote, /secrets 301 vs 300/);
  // A malformed census (an older or foreign agent) is not compared, and is said.
  const odd = compareWithNodes([node('10.0.0.1', { revision: 1, keys: 'many' }), node('10.0.0.2', census(1, { pods: 1 }))]);
  assert.equal((odd[0] as any).copy.census, undefined);
  assert.equal((odd[0] as any).copy.censusProblem, 'the agent reported a malformed census');
});

test('formatCensus: the largest resources first, the rest counted', async () => {
  const { formatCensus } = await import('./tables.js');
  assert.equal(formatCensus(census(1, {})), '0 keys');
  assert.equal(formatCensus(census(1, { a: 1, b: 5, c: 5, d: 2, e: 1 })), '14 keys (b 5, c 5, d 2, +2 more)');
});
