/**
 * `snapshot-save --pki-bundle` (pre-v0.2.0 clusters) on the lab: each etcd node's
 * /etc/kubernetes/ssl as /opt/rke/etcd-snapshots/pki.bundle.tar.gz, checked with GNU
 * tar against the node's own files; with --s3 the uploading node's bundle in the lab's
 * S3 server (Ceph RGW). Objects go under pki-test/ in the bucket.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import { copyFromNode, labFacts, nodeExec, tempDir, type LabFacts } from '../support/lab.js';
import { aws, download, listKeys, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { sha256File } from '../support/snapshot-check.js';

const run = promisify(execFile);
const BUNDLE = '/opt/rke/etcd-snapshots/pki.bundle.tar.gz';

let lab: LabFacts;
let work: string;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-pki-*');
  await removeBundles();
  // Private keys pass through here: only root may read it, and it is removed after.
  work = tempDir('rke-pki-it-');
});

after(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (lab) {
    await removeBundles();
    await assertNoAgentContainers(lab);
  }
});

async function removeBundles(): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) {
    await nodeExec(node, 'find', '/opt/rke/etcd-snapshots', '-maxdepth', '1', '-name', '*pki.bundle.tar.gz*', '-exec', 'rm', '-rf', '{}', '+');
  }
}

function uniqueName(label: string): string {
  return `it-pki-${label}-${Date.now()}`;
}

/** The node's bundle extracted on the host, and its ssl directory copied out, compared file by file. */
async function assertBundleMatchesNode(node: number): Promise<void> {
  const dir = path.join(work, `node${node}-${Date.now()}`);
  mkdirSync(dir, { mode: 0o700 });
  const bundle = path.join(dir, 'pki.bundle.tar.gz');
  await copyFromNode(node, BUNDLE, bundle);
  await nodeExec(node, 'cp', '-a', '/etc/kubernetes/ssl', path.join(dir, 'ssl'));
  const extracted = path.join(dir, 'extracted');
  mkdirSync(extracted);
  await run('tar', ['-xzpf', bundle, '-C', extracted]);
  const { stdout } = await run('tar', ['-tzf', bundle]);
  const names = stdout.trim().split('\n');
  assert.equal(names[0], 'etc/kubernetes/ssl/', `node ${node}: first entry`);
  assert.ok(names.every((name) => name.startsWith('etc/kubernetes/ssl/')), `node ${node}: ${names.join(', ')}`);

  const original = path.join(dir, 'ssl');
  const fromBundle = path.join(extracted, 'etc', 'kubernetes', 'ssl');
  const files = readdirSync(original).sort();
  assert.ok(files.includes('kube-node-key.pem') && files.includes('kube-ca.pem'), `node ${node}: ${files.join(', ')}`);
  assert.deepEqual(readdirSync(fromBundle).sort(), files, `node ${node}: the bundle lists other files than /etc/kubernetes/ssl`);
  for (const file of files) {
    const expected = readFileSync(path.join(original, file));
    assert.ok(readFileSync(path.join(fromBundle, file)).equals(expected), `node ${node}: ${file} differs`);
    assert.equal(lstatSync(path.join(fromBundle, file)).mode & 0o777, lstatSync(path.join(original, file)).mode & 0o777, `node ${node}: ${file} mode`);
  }
}

async function bundleMode(node: number): Promise<string> {
  return (await nodeExec(node, 'stat', '-c', '%a %F', BUNDLE)).trim();
}

/** No bundle under its final name, and no temporary file of one. */
async function assertNoBundle(node: number): Promise<void> {
  const files = await snapshotFiles(node);
  assert.deepEqual(files.filter((file) => file.includes('pki.bundle.tar.gz')), [], `node ${node}: ${files.join(', ')}`);
}

describe('snapshot-save --pki-bundle', () => {
  test('every node gets pki.bundle.tar.gz (0600), byte for byte its /etc/kubernetes/ssl; listed under the table', async () => {
    const name = uniqueName('all');
    const outcome = await save(['--config', lab.clusterYml, '--name', name, '--pki-bundle']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const bundleHeader = outcome.stdout.split('\n').findIndex((line) => /^NODE\s+PKI BUNDLE\s+SIZE\s+SHA256$/.test(line));
    assert.ok(bundleHeader > 0, outcome.stdout);
    for (const [index, address] of lab.addresses.entries()) {
      const node = index + 1;
      assert.match(tableRow(outcome.stdout, address), /\sok\s/);
      const bundleRow = outcome.stdout.split('\n').slice(bundleHeader).find((line) => line.startsWith(`${address} `));
      assert.ok(bundleRow, outcome.stdout);
      const [, file, , , sha] = bundleRow.split(/\s+/);
      assert.equal(file, BUNDLE);
      assert.equal(await bundleMode(node), '600 regular file');
      const local = path.join(work, `sha-${node}.tar.gz`);
      await copyFromNode(node, BUNDLE, local);
      assert.equal(sha, sha256File(local), `node ${node}: the reported sha256`);
      rmSync(local);
      await assertBundleMatchesNode(node);
      assert.match(outcome.stderr, new RegExp(`\\[${escapeRegExp(address)}\\] saved ${escapeRegExp(BUNDLE)} \\(\\d+ bytes\\)`));
    }
    assert.doesNotMatch(outcome.stdout, /^S3/m);
    await assertNoAgentContainers(lab);
  });

  test('a second run replaces the bundle (one per node, as RKE); without the flag none is written', async () => {
    await removeBundles();
    const plain = await save(['--config', lab.clusterYml, '--name', uniqueName('plain')]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /PKI BUNDLE/);
    for (let node = 1; node <= lab.addresses.length; node++) await assertNoBundle(node);

    await nodeExec(1, 'sh', '-c', `echo stale > ${BUNDLE}`);
    const bundled = await save(['--config', lab.clusterYml, '--name', uniqueName('again'), '--pki-bundle']);
    assert.equal(bundled.code, 0, bundled.stderr);
    await assertBundleMatchesNode(1);
    const files = await snapshotFiles(1);
    assert.deepEqual(files.filter((file) => file.includes('pki.bundle')), ['pki.bundle.tar.gz']);
    await assertNoAgentContainers(lab);
  });

  test('a FIFO in one node\'s /etc/kubernetes/ssl: that node fails, naming it, with no snapshot and no bundle; the others are fine', async () => {
    await removeBundles();
    const fifo = '/etc/kubernetes/ssl/it-pki-fifo';
    await nodeExec(2, 'mkfifo', fifo);
    try {
      const name = uniqueName('fifo');
      const outcome = await save(['--config', lab.clusterYml, '--name', name, '--pki-bundle']);
      assert.equal(outcome.code, 0, outcome.stderr);
      const address = lab.addresses[1]!;
      const expected =
        `host ${address}: --pki-bundle: ${fifo} is not a regular file, directory or symlink (a FIFO); ` +
        'remove it or move it out of /etc/kubernetes/ssl';
      assert.match(outcome.stderr, new RegExp(`^WARN \\[${escapeRegExp(address)}\\] failed: ${escapeRegExp(expected)}$`, 'm'));
      assert.match(outcome.stdout, new RegExp(`^  ${escapeRegExp(address)}: ${escapeRegExp(expected)}$`, 'm'));
      assert.match(tableRow(outcome.stdout, address), /FAILED/);
      assert.match(outcome.stderr, new RegExp(`WARN 1 of 3 etcd nodes failed: ${escapeRegExp(address)}`));
      assert.ok(!(await snapshotFiles(2)).includes(`${name}.zip`));
      await assertNoBundle(2);
      for (const node of [1, 3]) {
        assert.ok((await snapshotFiles(node)).includes(`${name}.zip`));
        await assertBundleMatchesNode(node);
      }
      await assertNoAgentContainers(lab);

      const strict = await save(['--config', lab.clusterYml, '--name', uniqueName('fifo-strict'), '--pki-bundle', '--strict']);
      assert.equal(strict.code, 1);
      assert.match(strict.stderr, new RegExp(`^ERROR --strict: 1 of 3 etcd nodes failed: ${escapeRegExp(address)}$`, 'm'));
      await assertNoBundle(2);
      await assertNoAgentContainers(lab);
    } finally {
      await nodeExec(2, 'rm', '-f', fifo);
    }
  });

  test('a directory at pki.bundle.tar.gz on one node: that node fails before the snapshot, the directory is left alone', async () => {
    await removeBundles();
    await nodeExec(3, 'mkdir', '-p', `${BUNDLE}/keep`);
    try {
      const name = uniqueName('dir');
      const outcome = await save(['--config', lab.clusterYml, '--name', name, '--pki-bundle']);
      assert.equal(outcome.code, 0, outcome.stderr);
      const address = lab.addresses[2]!;
      const expected = `host ${address}: --pki-bundle: ${BUNDLE} is a directory; move it away so that the bundle can take its name`;
      assert.match(outcome.stdout, new RegExp(`^  ${escapeRegExp(address)}: ${escapeRegExp(expected)}$`, 'm'));
      assert.ok(!(await snapshotFiles(3)).includes(`${name}.zip`));
      assert.equal((await nodeExec(3, 'stat', '-c', '%F', BUNDLE)).trim(), 'directory');
      assert.deepEqual((await snapshotFiles(3)).filter((file) => file.includes('.tmp-')), []);
      await assertBundleMatchesNode(1);
      await assertNoAgentContainers(lab);
    } finally {
      await nodeExec(3, 'rm', '-rf', BUNDLE);
    }
  });
});

describe('snapshot-save --pki-bundle --s3', () => {
  let s3: S3LabFacts;
  let secretFile: string;

  before(async () => {
    s3 = await s3LabFacts();
    secretFile = writeSecretKeyFile(s3, work);
  });

  const s3Args = (folder: string) => [
    '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket,
    '--folder', folder, '--access-key', s3.accessKey, '--secret-key-file', secretFile,
  ];

  test('the uploading node\'s bundle is in the bucket next to the snapshot, equal to the node\'s file', async () => {
    const folder = `pki-test/upload-${Date.now()}`;
    const name = uniqueName('s3');
    const outcome = await save(['--config', lab.clusterYml, '--name', name, '--pki-bundle', ...s3Args(folder)]);
    assert.equal(outcome.code, 0, outcome.stderr);
    const key = `${folder}/${name}.pki.bundle.tar.gz`;
    const line = new RegExp(`^S3 PKI bundle: s3://${escapeRegExp(s3.bucket)}/${escapeRegExp(key)} uploaded from (\\S+): .*, sha256 ([0-9a-f]{64}), verified by ETag$`, 'm').exec(outcome.stdout);
    assert.ok(line, outcome.stdout);
    assert.match(outcome.stdout, new RegExp(`^S3: s3://${escapeRegExp(s3.bucket)}/${escapeRegExp(folder)}/${escapeRegExp(name)}\\.zip uploaded from ${escapeRegExp(line[1]!)}: `, 'm'));
    assert.deepEqual((await listKeys(s3.bucket, `${folder}/`)).sort(), [`${folder}/${name}.pki.bundle.tar.gz`, `${folder}/${name}.zip`]);
    const node = lab.addresses.indexOf(line[1]!) + 1;
    const local = path.join(work, 's3-node.tar.gz');
    const remote = path.join(work, 's3-object.tar.gz');
    await copyFromNode(node, BUNDLE, local);
    await download(s3.bucket, key, remote);
    assert.equal(sha256File(remote), sha256File(local));
    assert.equal(sha256File(remote), line[2]);
    rmSync(local);
    rmSync(remote);
    await assertNoAgentContainers(lab);
  });

  test('a bundle key left by an earlier run: refused on every node before the zip is sent; exit 1, no container left', async () => {
    const folder = `pki-test/taken-${Date.now()}`;
    const name = uniqueName('taken');
    const key = `${folder}/${name}.pki.bundle.tar.gz`;
    const old = path.join(work, 'old-bundle');
    writeFileSync(old, 'an older bundle');
    await aws('s3api', 'put-object', '--bucket', s3.bucket, '--key', key, '--body', old);
    const outcome = await save(['--config', lab.clusterYml, '--name', name, '--pki-bundle', ...s3Args(folder)]);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const address of lab.addresses) {
      const expected = `host ${address}: s3://${s3.bucket}/${key} already exists (from an earlier run); pass --overwrite to replace it`;
      assert.match(outcome.stdout, new RegExp(`^  ${escapeRegExp(address)}: upload: ${escapeRegExp(expected)}$`, 'm'));
    }
    assert.match(outcome.stderr, /^ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3 \(tried /m);
    assert.deepEqual(await listKeys(s3.bucket, `${folder}/`), [key]);
    await assertNoAgentContainers(lab);
  });

  test('--s3 without --pki-bundle uploads only the snapshot; --pki-bundle without --s3 uploads nothing', async () => {
    const folder = `pki-test/only-zip-${Date.now()}`;
    const name = uniqueName('zip-only');
    const outcome = await save(['--config', lab.clusterYml, '--name', name, ...s3Args(folder)]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.doesNotMatch(outcome.stdout, /PKI/);
    assert.deepEqual(await listKeys(s3.bucket, `${folder}/`), [`${folder}/${name}.zip`]);

    const local = uniqueName('local-only');
    const before = await listKeys(s3.bucket, 'pki-test/');
    const bundled = await save(['--config', lab.clusterYml, '--name', local, '--pki-bundle']);
    assert.equal(bundled.code, 0, bundled.stderr);
    assert.doesNotMatch(bundled.stdout, /^S3/m);
    assert.deepEqual(await listKeys(s3.bucket, 'pki-test/'), before);
    assert.ok(!before.some((key) => key.includes(local)));
    await assertNoAgentContainers(lab);
  });
});
