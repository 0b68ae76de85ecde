/**
 * `snapshot-ls/-rm/-prune/-verify --s3` on the lab: real nodes, real agent containers
 * (etcd-snapshot-s3-ls/-rm/-verify on one etcd node) and the lab's real S3 server (Ceph
 * RGW over HTTPS with its own CA). Each test works in its own folder of the bucket and on
 * node snapshots named `it-s3i-*`.
 */
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, removeNodeSnapshots, save } from '../support/cli-run.js';
import { copyFromNode, labFacts, labFault, nodeExec, runCli, tempDir, type CliOutcome, type LabFacts } from '../support/lab.js';
import { aws, imdsRequests, listKeys, rgw, s3LabFacts, versionsOf, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { sha256File } from '../support/snapshot-check.js';

let lab: LabFacts;
let s3: S3LabFacts;
let work: string;
let secretFile: string;
const DIR = '/opt/rke/etcd-snapshots';

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  await removeNodeSnapshots(lab, 'it-s3i-*');
  work = tempDir('rke-s3inv-it-');
  secretFile = writeSecretKeyFile(s3, work);
});

after(async () => {
  if (lab) await removeNodeSnapshots(lab, 'it-s3i-*');
});

function uniqueFolder(label: string): string {
  return `it-s3i/${label}-${Date.now()}`;
}

function s3Args(folder: string, bucket = s3.bucket): string[] {
  return ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', bucket, '--access-key', s3.accessKey, '--secret-key-file', secretFile, '--folder', folder];
}

const cli = (command: string, ...args: string[]): Promise<CliOutcome> => runCli(['etcd', command, '--config', lab.clusterYml, ...args]);

async function json(command: string, ...args: string[]): Promise<{ outcome: CliOutcome; doc: any }> {
  const outcome = await cli(command, '--output', 'json', ...args);
  let doc: any;
  try {
    doc = JSON.parse(outcome.stdout);
  } catch {
    assert.fail(`stdout of ${command} is not JSON (exit ${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`);
  }
  assert.equal(doc.command, command);
  return { outcome, doc };
}

/** The CLI's error: exactly one ERROR line on stderr, no stack trace, no secret. */
function errorLine(outcome: CliOutcome): string {
  const lines = outcome.stderr.split('\n').filter((line) => line.startsWith('ERROR '));
  assert.equal(lines.length, 1, outcome.stderr);
  assert.doesNotMatch(outcome.stderr, /\n\s+at /);
  assert.ok(!(outcome.stdout + outcome.stderr).includes(s3.secretKey), 'the secret key was printed');
  return lines[0]!;
}

/** Save NAME on every node with one copy uploaded to `folder`; returns the uploading node's address. */
async function saveWithUpload(name: string, folder: string): Promise<string> {
  const outcome = await save(['--config', lab.clusterYml, '--name', name, ...s3Args(folder)]);
  assert.equal(outcome.code, 0, outcome.stderr);
  const match = /^S3: s3:\/\/\S+ uploaded from (\S+):/m.exec(outcome.stdout);
  assert.ok(match, outcome.stdout);
  return match[1]!;
}

async function putObject(bucket: string, key: string, file: string): Promise<void> {
  await aws('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', file);
}

describe('snapshot-ls --s3', () => {
  test('the bucket/folder is its own location: zip, raw and PKI bundle objects with size, time, ETag and the recorded sha256', async () => {
    const folder = uniqueFolder('ls');
    const uploader = await saveWithUpload('it-s3i-ls', folder);
    const raw = path.join(work, 'raw');
    writeFileSync(raw, 'an old raw snapshot');
    await putObject(s3.bucket, `${folder}/it-s3i-old`, raw);
    await putObject(s3.bucket, `${folder}/it-s3i-ls.pki.bundle.tar.gz`, raw);
    await putObject(s3.bucket, `${folder}/sub/it-s3i-deeper.zip`, raw);

    const { outcome, doc } = await json('snapshot-ls', ...s3Args(folder));
    assert.equal(outcome.code, 0, outcome.stderr);
    const location = doc.locations.at(-1);
    assert.deepEqual(location, { location: 's3', endpoint: s3.endpoint, bucket: s3.bucket, folder, via: lab.addresses[0], ok: true, dir: `s3://${s3.bucket}/${folder}`, skipped: [] });
    const group = doc.snapshots.find((s: any) => s.name === 'it-s3i-ls');
    assert.deepEqual(group.missingOn, []);
    const copy = group.copies.find((c: any) => c.location === 's3');
    const nodeCopy = group.copies.find((c: any) => c.node === uploader);
    const head = await aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', `${folder}/it-s3i-ls.zip`);
    assert.deepEqual(
      [copy.file, copy.key, copy.kind, copy.size, copy.sha256, copy.etag],
      [`s3://${s3.bucket}/${folder}/it-s3i-ls.zip`, `${folder}/it-s3i-ls.zip`, 'zip', nodeCopy.size, nodeCopy.sha256, head.ETag.replace(/"/g, '')],
    );
    // The listing has milliseconds, HEAD's Last-Modified header whole seconds.
    assert.equal(Math.floor(Date.parse(copy.modified) / 1000), Date.parse(head.LastModified) / 1000);
    const old = doc.snapshots.find((s: any) => s.name === 'it-s3i-old');
    assert.deepEqual(old.copies.map((c: any) => [c.location, c.kind, c.size]), [['s3', 'raw', 19]]);
    assert.deepEqual(old.missingOn, lab.addresses);
    assert.deepEqual(doc.pkiBundles.filter((b: any) => b.location === 's3').map((b: any) => b.file), [`s3://${s3.bucket}/${folder}/it-s3i-ls.pki.bundle.tar.gz`]);
    assert.ok(!doc.snapshots.some((s: any) => s.name === 'it-s3i-deeper'), 'objects in sub-folders are not listed');

    const table = await cli('snapshot-ls', ...s3Args(folder));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^it-s3i-ls\\s+zip\\s+.*, s3://${s3.bucket}/${folder.replace(/[.]/g, '\\.')}\\s+-$`, 'm'));
    await assertNoAgentContainers(lab);
  });

  test('no keys anywhere: the S3 work uses the node\'s IAM role (instance metadata), as the upload does', async () => {
    const folder = uniqueFolder('ls-iam');
    const file = clusterFile(lab, 's3i-iam', (config) => {
      config.services.etcd.extra_env = [`AWS_EC2_METADATA_SERVICE_ENDPOINT=${s3.imdsEndpoint}`];
    });
    const endpoint = ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder];
    const saved = await save(['--config', file, '--name', 'it-s3i-iam', ...endpoint]);
    assert.equal(saved.code, 0, saved.stderr);
    const before = imdsRequests(s3).length;
    const outcome = await runCli(['etcd', 'snapshot-ls', '--config', file, '--output', 'json', ...endpoint]);
    assert.equal(outcome.code, 0, outcome.stderr);
    const copies = JSON.parse(outcome.stdout).snapshots.find((s: any) => s.name === 'it-s3i-iam').copies;
    assert.deepEqual(copies.map((c: any) => c.location), ['node', 'node', 'node', 's3']);
    assert.match(imdsRequests(s3).slice(before), /security-credentials/, 'the metadata service was not asked');
    await assertNoAgentContainers(lab);
  });

  test('a wrong secret key: one line naming the bucket and endpoint, exit 1, the nodes still listed', async () => {
    const folder = uniqueFolder('ls-badkey');
    const wrong = path.join(work, 'wrong-secret');
    writeFileSync(wrong, 'not-the-secret-key-0123456789\n', { mode: 0o600 });
    const args = [...s3Args(folder).slice(0, -4), '--secret-key-file', wrong, '--folder', folder];
    const { outcome, doc } = await json('snapshot-ls', ...args);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.deepEqual(doc.locations.map((l: any) => [l.location, l.ok]), [...lab.addresses.map(() => ['node', true]), ['s3', false]]);
    assert.match(doc.locations[3].error, new RegExp(`S3 endpoint ${s3.endpoint} refused the request signature for bucket ${s3.bucket}: the secret key does not match`));
    assert.match(errorLine(outcome), new RegExp(`^ERROR 1 of 4 location\\(s\\) could not be listed: .*bucket ${s3.bucket}.*`));
    assert.ok(!outcome.stderr.includes('not-the-secret-key'), 'the wrong secret was printed');
    await assertNoAgentContainers(lab);
  });

  test('S3 down: one line naming the endpoint, exit 1; the table still shows every node', async () => {
    const folder = uniqueFolder('ls-down');
    await rgw('rgw-kill');
    let outcome: CliOutcome;
    try {
      outcome = await cli('snapshot-ls', ...s3Args(folder));
    } finally {
      await rgw('rgw-start');
    }
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(errorLine(outcome), new RegExp(`^ERROR .*cannot reach S3 endpoint ${s3.endpoint} \\(HeadBucket of bucket ${s3.bucket}\\): connection refused`));
    assert.match(outcome.stdout, /^NAME\s+KIND\s+MODIFIED\s+SIZE\s+LOCATIONS\s+MISSING ON$/m);
    assert.match(outcome.stdout, new RegExp(`Errors:\\n  s3://${s3.bucket}/${folder}: cannot reach S3 endpoint`));
    await assertNoAgentContainers(lab);
  });

  test('one node down: the other nodes and S3 (from the next node) are still listed; exit 1 names the node', async () => {
    const folder = uniqueFolder('ls-node-down');
    const raw = path.join(work, 'one.zip');
    writeFileSync(raw, 'x');
    await putObject(s3.bucket, `${folder}/it-s3i-one.zip`, raw);
    await labFault('dockerd-stop', 1);
    let result: { outcome: CliOutcome; doc: any };
    try {
      result = await json('snapshot-ls', ...s3Args(folder));
    } finally {
      await labFault('dockerd-start', 1);
    }
    const { outcome, doc } = result;
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.deepEqual(doc.locations.map((l: any) => [l.location, l.ok]), [['node', false], ['node', true], ['node', true], ['s3', true]]);
    assert.equal(doc.locations[3].via, lab.addresses[1]);
    assert.deepEqual(doc.snapshots.find((s: any) => s.name === 'it-s3i-one').copies.map((c: any) => c.location), ['s3']);
    assert.match(outcome.stderr, new RegExp(`WARN \\[${lab.addresses[0]!.replace(/\./g, '\\.')}\\] cannot reach S3 from this node: .*; trying the next etcd node`));
    assert.match(errorLine(outcome), new RegExp(`^ERROR 1 of 4 location\\(s\\) could not be listed: ${lab.addresses[0]!.replace(/\./g, '\\.')}$`));
    await assertNoAgentContainers(lab);
  });
});

describe('snapshot-rm --s3', () => {
  test('refuses a bad name and a missing bucket before touching any node or S3', async () => {
    for (const [args, message] of [
      [['--name', '../x', ...s3Args('it-s3i/never')], /must not contain "\/"/],
      [['--name', 'it-s3i-x.zip', ...s3Args('it-s3i/never')], /without "\.zip"/],
      [['--name', 'it-s3i-x', '--s3'], /--s3 needs a bucket: pass --bucket-name/],
    ] as const) {
      const outcome = await cli('snapshot-rm', ...args);
      assert.equal(outcome.code, 1, outcome.stderr);
      assert.match(errorLine(outcome), message);
      assert.equal(outcome.stdout, '');
    }
    await assertNoAgentContainers(lab);
  });

  test('removes NAME.zip and NAME.pki.bundle.tar.gz from the folder; missing is reported, not fatal', async () => {
    const folder = uniqueFolder('rm');
    await saveWithUpload('it-s3i-rm', folder);
    const bundle = path.join(work, 'bundle');
    writeFileSync(bundle, 'bundle');
    await putObject(s3.bucket, `${folder}/it-s3i-rm.pki.bundle.tar.gz`, bundle);
    await putObject(s3.bucket, `${folder}/it-s3i-rm-other.zip`, bundle);
    const { outcome, doc } = await json('snapshot-rm', '--name', 'it-s3i-rm', ...s3Args(folder));
    assert.equal(outcome.code, 0, outcome.stderr);
    const location = doc.locations.at(-1);
    assert.deepEqual([location.location, location.ok, location.status], ['s3', true, 'removed']);
    assert.deepEqual(location.removed.map((r: any) => r.key).sort(), [`${folder}/it-s3i-rm.pki.bundle.tar.gz`, `${folder}/it-s3i-rm.zip`]);
    assert.deepEqual(doc.locations.slice(0, 3).map((l: any) => l.status), ['removed', 'removed', 'removed']);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3i-rm-other.zip`]);

    const again = await json('snapshot-rm', '--name', 'it-s3i-rm', ...s3Args(folder));
    assert.equal(again.outcome.code, 0, again.outcome.stderr);
    assert.deepEqual(again.doc.locations.map((l: any) => l.status), ['missing', 'missing', 'missing', 'missing']);
    assert.match(again.outcome.stderr, /WARN snapshot it-s3i-rm was not found on any location/);
    await assertNoAgentContainers(lab);
  });

  test('a versioned bucket: the removal is a delete marker, older versions stay', async () => {
    const folder = uniqueFolder('rm-versioned');
    const file = path.join(work, 'v.zip');
    writeFileSync(file, 'v1');
    const key = `${folder}/it-s3i-ver.zip`;
    await putObject(s3.versionedBucket, key, file);
    const { outcome, doc } = await json('snapshot-rm', '--name', 'it-s3i-ver', ...s3Args(folder, s3.versionedBucket));
    assert.equal(outcome.code, 0, outcome.stderr);
    const removed = doc.locations.at(-1).removed;
    assert.equal(removed.length, 1);
    assert.ok(removed[0].deleteMarker, JSON.stringify(removed));
    assert.deepEqual(await listKeys(s3.versionedBucket, folder), []);
    assert.equal((await versionsOf(s3.versionedBucket, key)).length, 1, 'the older version stays');
    assert.match(outcome.stderr, /is versioned: removed objects got a delete marker/);
  });
});

describe('snapshot-prune --s3', () => {
  test('S3 is its own location: keeps the N newest objects there, --dry-run only says so', async () => {
    const folder = uniqueFolder('prune');
    // Keep more than any node holds, so that the nodes (with other tests' snapshots) lose nothing.
    let most = 0;
    for (let node = 1; node <= lab.addresses.length; node++) {
      const out = await nodeExec(node, 'find', DIR, '-maxdepth', '1', '-type', 'f', '-name', '*.zip', '!', '-name', '.*');
      most = Math.max(most, out.split('\n').filter(Boolean).length);
    }
    const keep = most + 1;
    // The two oldest one by one, then the kept ones in one batch (the batch's objects may share a
    // LastModified among themselves, never with the older two: the cut is clean).
    const source = tempDir('rke-s3inv-prune-');
    for (const name of ['it-s3i-p-old1', 'it-s3i-p-old2']) {
      writeFileSync(path.join(work, `${name}.zip`), name);
      await putObject(s3.bucket, `${folder}/${name}.zip`, path.join(work, `${name}.zip`));
    }
    for (let index = 0; index < keep; index++) writeFileSync(path.join(source, `it-s3i-p-new${String(index).padStart(3, '0')}.zip`), `object ${index}`);
    await aws('s3', 'cp', '--recursive', '--quiet', source, `s3://${s3.bucket}/${folder}/`);
    const listing = await aws('s3api', 'list-objects-v2', '--bucket', s3.bucket, '--prefix', `${folder}/`);
    const times = new Map((listing.Contents as Array<{ Key: string; LastModified: string }>).map((o) => [path.basename(o.Key, '.zip'), Date.parse(o.LastModified)]));
    const newest = [...times.keys()].filter((name) => name.includes('-new')).sort();
    assert.ok(Math.max(times.get('it-s3i-p-old1')!, times.get('it-s3i-p-old2')!) < Math.min(...newest.map((name) => times.get(name)!)), JSON.stringify([...times]));
    const byAge = [...newest, 'it-s3i-p-old2', 'it-s3i-p-old1'];
    const expectedRemoved = ['it-s3i-p-old1', 'it-s3i-p-old2'];

    const dry = await json('snapshot-prune', '--keep', String(keep), '--dry-run', ...s3Args(folder));
    assert.equal(dry.outcome.code, 0, dry.outcome.stderr);
    const dryS3 = dry.doc.locations.at(-1);
    assert.equal(dryS3.location, 's3');
    assert.deepEqual(dryS3.remove.map((r: any) => [r.name, r.status]).sort(), expectedRemoved.map((name) => [name, 'would-remove']));
    for (const node of dry.doc.locations.slice(0, 3)) assert.deepEqual(node.remove, []);
    assert.equal((await listKeys(s3.bucket, folder)).length, keep + 2);

    const real = await json('snapshot-prune', '--keep', String(keep), ...s3Args(folder));
    assert.equal(real.outcome.code, 0, real.outcome.stderr);
    assert.deepEqual(real.doc.locations.at(-1).remove.map((r: any) => [r.name, r.status]).sort(), expectedRemoved.map((name) => [name, 'removed']));
    assert.deepEqual((await listKeys(s3.bucket, folder)).map((k) => path.basename(k, '.zip')).sort(), byAge.slice(0, keep).sort());
    await assertNoAgentContainers(lab);
  });
});

describe('snapshot-verify --s3', () => {
  let folder: string;
  let uploader: string;

  before(async () => {
    folder = uniqueFolder('verify');
    uploader = await saveWithUpload('it-s3i-v', folder);
  });

  test('an intact S3 copy is checked like a node\'s and found identical to the uploading node\'s copy', async () => {
    const { outcome, doc } = await json('snapshot-verify', '--name', 'it-s3i-v', ...s3Args(folder));
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(doc.ok, true);
    const s3Copy = doc.locations.at(-1);
    const nodeCopy = doc.locations.find((l: any) => l.node === uploader);
    assert.deepEqual(
      [s3Copy.location, s3Copy.status, s3Copy.file, s3Copy.matches, s3Copy.stateFileIncluded],
      ['s3', 'ok', `s3://${s3.bucket}/${folder}/it-s3i-v.zip`, [uploader], true],
    );
    assert.deepEqual([s3Copy.size, s3Copy.sha256, s3Copy.snapshotSize, s3Copy.snapshotSha256], [nodeCopy.size, nodeCopy.sha256, nodeCopy.snapshotSize, nodeCopy.snapshotSha256]);
    assert.equal(s3Copy.recordedSha256, s3Copy.sha256);
    await assertNoAgentContainers(lab);
  });

  test('missing in S3: exit 1, one line naming the S3 location', async () => {
    const other = uniqueFolder('verify-missing');
    const { outcome, doc } = await json('snapshot-verify', '--name', 'it-s3i-v', ...s3Args(other));
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.equal(doc.locations.at(-1).status, 'missing');
    assert.match(errorLine(outcome), new RegExp(`^ERROR snapshot it-s3i-v: missing in s3://${s3.bucket}/${other}$`));
    await assertNoAgentContainers(lab);
  });

  test('a truncated S3 copy (a cut zip put with the aws cli) is flagged bad: exit 1', async () => {
    const cut = uniqueFolder('verify-cut');
    const file = path.join(work, 'cut.zip');
    await copyFromNode(1, `${DIR}/it-s3i-v.zip`, file);
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    await putObject(s3.bucket, `${cut}/it-s3i-v.zip`, file);
    const { outcome, doc } = await json('snapshot-verify', '--name', 'it-s3i-v', ...s3Args(cut));
    assert.equal(outcome.code, 1, outcome.stderr);
    const s3Copy = doc.locations.at(-1);
    assert.deepEqual([s3Copy.status, s3Copy.size, s3Copy.sha256], ['bad', Math.floor(readFileSync(file).length), sha256File(file)]);
    assert.match(s3Copy.problem, /the zip is damaged or truncated/);
    assert.match(errorLine(outcome), new RegExp(`^ERROR snapshot it-s3i-v: bad copy on s3://${s3.bucket}/${cut}$`));
    const table = await cli('snapshot-verify', '--name', 'it-s3i-v', ...s3Args(cut));
    assert.match(table.stdout, new RegExp(`^s3://${s3.bucket}/${cut}\\s+BAD\\s`, 'm'));
    await assertNoAgentContainers(lab);
  });

  test('a wrong secret key fails verify, rm and prune on S3 alone: the nodes are reported, one line names bucket and endpoint', async () => {
    const wrong = path.join(work, 'wrong-secret-2');
    writeFileSync(wrong, 'still-not-the-secret-key-42\n', { mode: 0o600 });
    const args = [...s3Args(folder).slice(0, -4), '--secret-key-file', wrong, '--folder', folder];
    const refused = `S3 endpoint ${s3.endpoint} refused the request signature for bucket ${s3.bucket}`;
    for (const [command, extra, nodeField, nodeValue] of [
      ['snapshot-verify', ['--name', 'it-s3i-v'], 'status', 'ok'],
      ['snapshot-rm', ['--name', 'it-s3i-never-saved'], 'status', 'missing'],
      ['snapshot-prune', ['--keep', '1000', '--dry-run'], 'ok', true],
    ] as const) {
      const { outcome, doc } = await json(command, ...extra, ...args);
      assert.equal(outcome.code, 1, `${command}: ${outcome.stderr}`);
      assert.deepEqual(doc.locations.slice(0, 3).map((l: any) => [l.location, l.ok, l[nodeField]]), lab.addresses.map(() => ['node', true, nodeValue]), command);
      assert.deepEqual([doc.locations[3].location, doc.locations[3].ok], ['s3', false], command);
      assert.match(doc.locations[3].error, new RegExp(refused), command);
      assert.match(errorLine(outcome), new RegExp(`^ERROR .*${refused}`), command);
      assert.ok(!outcome.stderr.includes('still-not-the-secret'), 'the wrong secret was printed');
    }
    await assertNoAgentContainers(lab);
  });

  test('an intact S3 copy that matches no node\'s copy is flagged as differing: exit 1', async () => {
    const differs = uniqueFolder('verify-differs');
    // The object is today's copy; then every node replaces its copy (--overwrite, no upload):
    // the object, intact, now matches no node's copy. (Copies of different nodes may well be
    // byte-identical: same database, same second; so another node's file would not do.)
    const file = path.join(work, 'before-overwrite.zip');
    await copyFromNode(1, `${DIR}/it-s3i-v.zip`, file);
    await putObject(s3.bucket, `${differs}/it-s3i-v.zip`, file);
    const resaved = await save(['--config', lab.clusterYml, '--name', 'it-s3i-v', '--overwrite']);
    assert.equal(resaved.code, 0, resaved.stderr);
    for (let node = 1; node <= lab.addresses.length; node++) {
      const sha = (await nodeExec(node, 'sha256sum', `${DIR}/it-s3i-v.zip`)).split(' ')[0];
      assert.notEqual(sha, sha256File(file), `node ${node}'s new copy is byte-identical to the old one`);
    }
    const result = await json('snapshot-verify', '--name', 'it-s3i-v', ...s3Args(differs));
    const { outcome, doc } = result;
    assert.equal(outcome.code, 1, outcome.stderr);
    const s3Copy = doc.locations.at(-1);
    assert.equal(s3Copy.status, 'differs', JSON.stringify(s3Copy));
    assert.match(s3Copy.problem, /matches no etcd node's copy/);
    assert.match(errorLine(outcome), new RegExp(`^ERROR snapshot it-s3i-v: differing copy on s3://${s3.bucket}/${differs}$`));
    await assertNoAgentContainers(lab);
  });
});
