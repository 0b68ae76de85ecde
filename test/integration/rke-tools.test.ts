/**
 * rke-tools' command line, both directions, on the 3-node lab and the lab's S3 server
 * (Ceph RGW over HTTPS with its own CA). rancher/rke-tools cannot be pulled here, so
 * the project's own image stands in for it:
 *  (a) our image run on a node exactly as RKE runs rke-tools (its command line, binds,
 *      env with base64 keys), through the node's engine, without our CLI;
 *  (b) our CLI driving an image that speaks only that contract: a label-less copy of
 *      our image's file system imported as rancher/rke-tools:v0.1.9x-test (no entrypoint,
 *      like rancher/rke-tools), detected automatically, and the bundled image forced;
 *  (c) failures in that mode: a bad etcd endpoint, a bad S3 secret.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import { REPO_ROOT, copyFromNode, containersNamed, labEtcdctl, labFacts, nodeDocker, nodeExec, tempDir, type LabFacts } from '../support/lab.js';
import { aws, download, listKeys, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { etcdctlSnapshotStatus, extractEntry, sha256File, unzipTest, zipEntryNames } from '../support/snapshot-check.js';

const run = promisify(execFile);
const LAB_SCRIPT = path.join(REPO_ROOT, 'lab', 'lab.sh');
const RKE_TOOLS_IMAGE = 'rancher/rke-tools:v0.1.9x-test';
const EXPORT_CONTAINER = 'rkt-test-export';
const RAW_CONTAINER = 'etcd-snapshot-once';
const WARNING = /the backup image speaks rke-tools' command line: the S3 access and secret keys go base64-encoded into the environment/g;

let lab: LabFacts;
let s3: S3LabFacts;
let work: string;
let secretFile: string;
let agentTag: string;
const b64 = (text: string) => Buffer.from(text).toString('base64');

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  await removeNodeSnapshots(lab, 'it-rkt-*');
  await labEtcdctl('put', 'rke-snapshot-test/rke-tools', `value-${Date.now()}`);
  work = tempDir('rke-rkt-it-');
  secretFile = writeSecretKeyFile(s3, work);
  const image = JSON.parse(readFileSync(path.join(REPO_ROOT, 'dist/agent-image/image.json'), 'utf8')) as { tag: string; tar: string };
  agentTag = image.tag;
  for (let node = 1; node <= lab.addresses.length; node++) {
    if ((await nodeDocker(node, 'images', '-q', agentTag)).trim() === '') {
      await nodeDocker(node, 'load', '-i', path.join(REPO_ROOT, 'dist/agent-image', image.tar));
    }
    // rancher/rke-tools has no entrypoint and none of our labels: a plain copy of our file system.
    await nodeDocker(node, 'rm', '-f', EXPORT_CONTAINER).catch(() => undefined);
    await nodeDocker(node, 'create', '--name', EXPORT_CONTAINER, agentTag);
    const docker = `bash ${LAB_SCRIPT} docker ${node}`;
    await run('bash', ['-c', `set -o pipefail; ${docker} export ${EXPORT_CONTAINER} | ${docker} import - ${RKE_TOOLS_IMAGE} >/dev/null`], {
      env: { ...process.env, LAB_DIR: lab.dir },
    });
    await nodeDocker(node, 'rm', EXPORT_CONTAINER);
  }
});

after(async () => {
  if (!lab) return;
  for (let node = 1; node <= lab.addresses.length; node++) {
    await nodeDocker(node, 'rm', '-f', EXPORT_CONTAINER, RAW_CONTAINER).catch(() => undefined);
    await nodeDocker(node, 'rmi', RKE_TOOLS_IMAGE).catch(() => undefined);
  }
  await assertNoAgentContainers(lab);
});

function uniqueFolder(label: string): string {
  return `rketools-test/${label}-${Date.now()}`;
}

interface RawRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * What RKE does for one etcd host (rancher/rke services/etcd.go RunEtcdSnapshotSave,
 * once): `etcd-snapshot-once`, host network, restart no, RKE's binds and env, its
 * command line word for word; then it reads the exit status and the output, and
 * removes the container.
 */
async function runAsRke(
  node: number,
  image: string,
  name: string,
  options: { s3?: string[]; env?: string[]; endpoint?: string; cert?: string } = {},
): Promise<RawRun> {
  const address = lab.addresses[node - 1]!;
  const cmd = [
    '/opt/rke-tools/rke-etcd-backup', 'etcd-backup', 'save',
    '--cacert', '/etc/kubernetes/ssl/kube-ca.pem',
    '--cert', options.cert ?? '/etc/kubernetes/ssl/kube-node.pem',
    '--key', '/etc/kubernetes/ssl/kube-node-key.pem',
    '--name', name,
    `--endpoints=${options.endpoint ?? address}:2379`,
    '--once',
    ...(options.s3 ?? []),
  ];
  const env = (options.env ?? []).flatMap((entry) => ['-e', entry]);
  await nodeDocker(node, 'create', '--name', RAW_CONTAINER, '--network', 'host', '--restart', 'no',
    '-v', '/opt/rke/etcd-snapshots/:/backup', '-v', '/etc/kubernetes:/etc/kubernetes', ...env, image, ...cmd);
  try {
    try {
      const { stdout, stderr } = await run('bash', [LAB_SCRIPT, 'docker', String(node), 'start', '-a', RAW_CONTAINER], {
        env: { ...process.env, LAB_DIR: lab.dir },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: Number(failed.code), stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  } finally {
    await nodeDocker(node, 'rm', '-f', RAW_CONTAINER);
  }
}

/** RKE places the cluster state file before it runs the container (DeployStateFile, mode 0400). */
async function deployStateFile(node: number, name: string): Promise<void> {
  await nodeExec(node, 'install', '-m', '0400', lab.clusterYml.replace(/\.yml$/, '.rkestate'), `/etc/kubernetes/${name}.rkestate`);
}

function s3Flags(folder: string): string[] {
  return [
    '--s3-backup=true',
    `--s3-endpoint=${s3.endpoint}`,
    `--s3-bucketName=${s3.bucket}`,
    '--s3-region=',
    `--s3-endpoint-ca=${b64(readFileSync(s3.ca, 'utf8'))}`,
    `--s3-folder=${folder}`,
  ];
}

function keyEnv(secret = s3.secretKey): string[] {
  return [`S3_ACCESS_KEY=${b64(s3.accessKey)}`, `S3_SECRET_KEY=${b64(secret)}`];
}

/** The zip on the node is RKE's layout, restorable, with the state file; nothing else is left. */
async function assertRkeSnapshot(node: number, name: string, withState = true): Promise<string> {
  const onNode = `/opt/rke/etcd-snapshots/${name}.zip`;
  assert.equal((await nodeExec(node, 'stat', '-c', '%a', onNode)).trim(), '600', `mode of ${onNode} on node ${node}`);
  const local = path.join(work, `node${node}-${name}.zip`);
  await copyFromNode(node, onNode, local);
  const entries = [`/backup/${name}`, ...(withState ? [`/etc/kubernetes/${name}.rkestate`] : [])];
  assert.deepEqual((await zipEntryNames(local)).sort(), entries.sort());
  assert.match(await unzipTest(local), /No errors detected/);
  const snapshot = path.join(work, `node${node}-${name}.db`);
  await extractEntry(local, `/backup/${name}`, snapshot);
  const status = await etcdctlSnapshotStatus(snapshot);
  assert.ok(status.totalKey > 0 && status.revision > 0, `snapshot status: ${JSON.stringify(status)}`);
  if (withState) {
    const state = path.join(work, `node${node}-${name}.rkestate`);
    await extractEntry(local, `/etc/kubernetes/${name}.rkestate`, state);
    assert.deepEqual(readFileSync(state), readFileSync(lab.clusterYml.replace(/\.yml$/, '.rkestate')));
  }
  assert.deepEqual((await snapshotFiles(node)).filter((file) => file.includes(name)), [`${name}.zip`], 'no raw or temporary file left');
  assert.equal((await nodeExec(node, 'ls', '/etc/kubernetes')).includes(`${name}.rkestate`), false, 'the deployed state file is removed');
  return local;
}

function assertNoSecrets(text: string, secret = s3.secretKey): void {
  for (const form of [secret, b64(secret)]) assert.equal(text.includes(form), false, 'a secret key appears in the output');
}

describe('(a) our image answers rke-tools\' command line, run as RKE runs it', () => {
  test('without S3: a valid snapshot zip with the state file, logrus-style log, exit 0', async () => {
    const name = 'it-rkt-raw';
    await deployStateFile(1, name);
    const outcome = await runAsRke(1, RKE_TOOLS_IMAGE, name, { env: ['HTTPS_PROXY='] });
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stdout, '', 'rke-tools prints nothing on stdout');
    assert.match(outcome.stderr, /level=info msg="Initializing Onetime Backup" name=it-rkt-raw/);
    assert.match(outcome.stderr, /level=info msg="Created local backup" name=it-rkt-raw/);
    await assertRkeSnapshot(1, name);
    assert.deepEqual(await containersNamed(1, RAW_CONTAINER), []);
  });

  test('with S3 (keys base64 in env, CA base64 in args): one object in the folder; a second node finds it and skips, as rke-tools does', async () => {
    const name = 'it-rkt-raw-s3';
    const folder = uniqueFolder('raw');
    await deployStateFile(1, name);
    const first = await runAsRke(1, agentTag, name, { s3: s3Flags(folder), env: keyEnv() });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`Successfully uploaded \\[${escapeRegExp(folder)}/${name}\\.zip\\] of size \\[\\d+\\]`));
    assertNoSecrets(first.stderr);
    const local = await assertRkeSnapshot(1, name);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/${name}.zip`]);
    const remote = path.join(work, `${name}-s3.zip`);
    await download(s3.bucket, `${folder}/${name}.zip`, remote);
    assert.equal(sha256File(remote), sha256File(local), 'the object is the node\'s zip');

    const second = await runAsRke(2, RKE_TOOLS_IMAGE, name, { s3: s3Flags(folder), env: keyEnv() });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /Skipping upload to s3 because snapshot already exists and versioning is not enabled for the bucket/);
    await download(s3.bucket, `${folder}/${name}.zip`, remote);
    assert.equal(sha256File(remote), sha256File(local), 'the first node\'s object is kept');
  });

  test('failures exit 1 with rke-tools\' fatal line: a bad etcd endpoint, a missing certificate, a bad S3 secret (worded as an upload failure, no key shown)', async () => {
    const endpoint = await runAsRke(1, agentTag, 'it-rkt-raw-bad-endpoint', { endpoint: '127.0.9.9' });
    assert.equal(endpoint.code, 1);
    assert.match(endpoint.stderr.trim().split('\n').pop()!, /^time="[^"]+" level=fatal msg="etcd at https:\/\/127\.0\.9\.9:2379 is not healthy: .*"$/);
    assert.deepEqual((await snapshotFiles(1)).filter((file) => file.includes('it-rkt-raw-bad-endpoint')), []);

    // A failure before etcd is even reached: the state file RKE placed is removed all the same.
    await deployStateFile(3, 'it-rkt-raw-bad-cert');
    const cert = await runAsRke(3, agentTag, 'it-rkt-raw-bad-cert', { cert: '/etc/kubernetes/ssl/missing.pem' });
    assert.equal(cert.code, 1);
    assert.match(cert.stderr.trim().split('\n').pop()!, /level=fatal msg=".*\/etc\/kubernetes\/ssl\/missing\.pem/);
    assert.equal((await nodeExec(3, 'ls', '/etc/kubernetes')).includes('it-rkt-raw-bad-cert'), false, 'the state file is removed');

    const wrong = 'wrong-secret-for-this-test';
    const secret = await runAsRke(2, agentTag, 'it-rkt-raw-bad-secret', { s3: s3Flags(uniqueFolder('raw-bad')), env: keyEnv(wrong) });
    assert.equal(secret.code, 1);
    assert.match(secret.stderr.trim().split('\n').pop()!, /level=fatal msg="failed to upload etcd snapshot file: .*secret key does not match/);
    assertNoSecrets(secret.stderr, wrong);
    for (let node = 1; node <= lab.addresses.length; node++) assert.deepEqual(await containersNamed(node, RAW_CONTAINER), []);
  });
});

describe('(b) our CLI drives an image that speaks only rke-tools\' command line', () => {
  test('detected (an image without our label) with --s3: snapshots on all nodes, one S3 copy, the keys warning exactly once, no container left', async () => {
    const name = 'it-rkt-cli-s3';
    const folder = uniqueFolder('cli');
    const outcome = await save([
      '--config', lab.clusterYml, '--name', name, '--backup-image', RKE_TOOLS_IMAGE, '--debug',
      '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder,
      '--access-key', s3.accessKey, '--secret-key-file', secretFile,
    ]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal((outcome.stderr.match(WARNING) ?? []).length, 1, `the warning must appear once:\n${outcome.stderr}`);
    assert.match(outcome.stderr, /is driven with the rke-tools contract/);
    assertNoSecrets(outcome.stdout + outcome.stderr);
    for (const address of lab.addresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    const line = /^S3: s3:\/\/([^/]+)\/(\S+) uploaded from (\S+): ([\d.]+ \S+), as reported by the rke-tools container/m.exec(outcome.stdout);
    assert.ok(line, `no S3 line in:\n${outcome.stdout}`);
    assert.equal(line[2], `${folder}/${name}.zip`);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/${name}.zip`]);
    for (let node = 1; node <= lab.addresses.length; node++) await assertRkeSnapshot(node, name);
    const uploader = lab.addresses.indexOf(line[3]!) + 1;
    const remote = path.join(work, `${name}-s3.zip`);
    await download(s3.bucket, `${folder}/${name}.zip`, remote);
    assert.equal(sha256File(remote), sha256File(path.join(work, `node${uploader}-${name}.zip`)), 'the object is the uploading node\'s zip');
    await assertNoAgentContainers(lab);
  });

  test('forced on the bundled image, no S3: no keys, no warning; an existing file is refused unless --overwrite', async () => {
    const name = 'it-rkt-cli-forced';
    const outcome = await save(['--config', lab.clusterYml, '--name', name, '--backup-image-contract', 'rke-tools']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal((outcome.stderr.match(WARNING) ?? []).length, 0);
    for (let node = 1; node <= lab.addresses.length; node++) await assertRkeSnapshot(node, name);

    const again = await save(['--config', lab.clusterYml, '--name', name, '--backup-image-contract', 'rke-tools']);
    assert.equal(again.code, 1);
    assert.match(again.stdout, new RegExp(`host ${escapeRegExp(lab.addresses[0]!)}: /opt/rke/etcd-snapshots/${name}\\.zip already exists on this node; pass --overwrite to replace it`));
    assert.match(again.stderr, /^ERROR no etcd node produced a snapshot \(3 failed\)$/m);
    const replaced = await save(['--config', lab.clusterYml, '--name', name, '--backup-image-contract', 'rke-tools', '--overwrite']);
    assert.equal(replaced.code, 0, replaced.stderr);
    await assertNoAgentContainers(lab);
  });
});

describe('(c) failures with the rke-tools contract', () => {
  test('a bad etcd endpoint fails that node with the container\'s error; --strict exits 1; no container left', async () => {
    const bad = lab.addresses[1]!;
    const file = clusterFile(lab, 'rkt-bad-endpoint', (config) => {
      config.nodes[1].internal_address = '127.0.9.9';
    });
    const outcome = await save(['--config', file, '--name', 'it-rkt-bad-endpoint', '--backup-image', RKE_TOOLS_IMAGE, '--strict']);
    assert.equal(outcome.code, 1);
    assert.match(tableRow(outcome.stdout, bad), /FAILED/);
    assert.match(
      outcome.stdout,
      new RegExp(`^  ${escapeRegExp(bad)}: host ${escapeRegExp(bad)}: the snapshot failed \\(rke-tools image ${escapeRegExp(RKE_TOOLS_IMAGE)}, exit code 1\\): etcd at https://127\\.0\\.9\\.9:2379 is not healthy: [^\\n]+$`, 'm'),
    );
    assert.match(outcome.stderr, /^ERROR --strict: 1 of 3 etcd nodes failed: /m);
    await assertNoAgentContainers(lab);
  });

  test('a bad S3 secret: every node\'s upload fails with a clear error, exit 1, no key shown, the warning once, no container left', async () => {
    const wrong = path.join(work, 'wrong-secret');
    writeFileSync(wrong, 'wrong-secret-for-this-test\n', { mode: 0o600 });
    const folder = uniqueFolder('cli-bad');
    const outcome = await save([
      '--config', lab.clusterYml, '--name', 'it-rkt-bad-secret', '--backup-image', RKE_TOOLS_IMAGE, '--debug',
      '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder,
      '--access-key', s3.accessKey, '--secret-key-file', wrong,
    ]);
    assert.equal(outcome.code, 1);
    assertNoSecrets(outcome.stdout + outcome.stderr, 'wrong-secret-for-this-test');
    assert.equal((outcome.stderr.match(WARNING) ?? []).length, 1);
    for (const address of lab.addresses) {
      assert.match(
        outcome.stdout,
        new RegExp(`^  ${escapeRegExp(address)}: upload: host ${escapeRegExp(address)}: the upload failed \\(rke-tools image [^)]+, exit code 1\\): failed to upload etcd snapshot file: [^\\n]*secret key does not match`, 'm'),
      );
    }
    assert.match(outcome.stderr, /^ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/m);
    assert.deepEqual(await listKeys(s3.bucket, folder), []);
    await assertNoAgentContainers(lab);
  });

  test('an image without rke-tools\' tool fails every node with a hint, exit 1; no container and no state file left', async () => {
    // Any image without /opt/rke-tools/rke-etcd-backup: the lab's etcd image will do.
    const image = (await nodeDocker(1, 'inspect', '-f', '{{.Config.Image}}', 'etcd')).trim();
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-rkt-not-rke-tools', '--backup-image', image]);
    assert.equal(outcome.code, 1);
    for (const address of lab.addresses) {
      assert.match(
        outcome.stdout,
        new RegExp(`^  ${escapeRegExp(address)}: cannot start container etcd-snapshot-once on host ${escapeRegExp(address)}: .*; image ${escapeRegExp(image)} has no /opt/rke-tools/rke-etcd-backup: it does not speak rke-tools' command line`, 'm'),
      );
    }
    assert.match(outcome.stderr, /^ERROR no etcd node produced a snapshot \(3 failed\)$/m);
    for (let node = 1; node <= lab.addresses.length; node++) {
      assert.equal((await nodeExec(node, 'ls', '/etc/kubernetes')).includes('it-rkt-not-rke-tools'), false, `state file left on node ${node}`);
    }
    await assertNoAgentContainers(lab);
  });

  test('an object of an earlier run on an unversioned bucket: rke-tools keeps it, so the upload fails saying so; exit 1', async () => {
    const name = 'it-rkt-earlier';
    const folder = uniqueFolder('cli-earlier');
    const earlier = path.join(work, 'earlier.zip');
    writeFileSync(earlier, 'an object left by an earlier run');
    await aws('s3api', 'put-object', '--bucket', s3.bucket, '--key', `${folder}/${name}.zip`, '--body', earlier);
    const outcome = await save([
      '--config', lab.clusterYml, '--name', name, '--backup-image', RKE_TOOLS_IMAGE, '--overwrite',
      '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder,
      '--access-key', s3.accessKey, '--secret-key-file', secretFile,
    ]);
    assert.equal(outcome.code, 1);
    assert.match(
      outcome.stdout,
      new RegExp(`^  ${escapeRegExp(lab.addresses[0]!)}: upload: host ${escapeRegExp(lab.addresses[0]!)}: s3://${s3.bucket}/${escapeRegExp(folder)}/${name}\\.zip already exists \\(from an earlier run\\) and the bucket is unversioned: an rke-tools image keeps it`, 'm'),
    );
    assert.match(outcome.stderr, /^ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/m);
    const kept = path.join(work, 'earlier-kept.zip');
    await download(s3.bucket, `${folder}/${name}.zip`, kept);
    assert.equal(readFileSync(kept, 'utf8'), 'an object left by an earlier run');
    await assertNoAgentContainers(lab);
  });
});
