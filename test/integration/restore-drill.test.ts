/**
 * `snapshot-verify --restore` on the lab (SPEC §8): each node's copy restored with the node's own
 * etcd image (the lab's is etcd 3.4: etcdctl restores, no shell in it), a throw-away member started
 * on it and read back; a copy that does not restore fails the run with etcd's own words; the drill
 * needs no live member; and afterwards, whatever happened (Ctrl-C included), no drill container,
 * process or scratch directory is left on any node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, truncateSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, removeNodeSnapshots, save } from '../support/cli-run.js';
import {
  copyFromNode,
  labEtcdctl,
  labFault,
  labFacts,
  nodeDocker,
  nodeExec,
  runCli,
  startCli,
  tempDir,
  waitForHealthyCluster,
  waitForNoContainer,
  waitForRunningContainer,
  type CliOutcome,
  type LabFacts,
} from '../support/lab.js';
import { s3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { extractWithPython, zipWithPython } from '../support/zip-tools.js';

const run = promisify(execFile);

let lab: LabFacts;
const DIR = '/opt/rke/etcd-snapshots';
const NAME = 'it-drill-good';
const WRITTEN = 25;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-drill-*');
});

after(async () => {
  await removeNodeSnapshots(lab, 'it-drill-*');
});

const verify = (...args: string[]): Promise<CliOutcome> => runCli(['etcd', 'snapshot-verify', '--config', lab.clusterYml, ...args]);

/**
 * Holds a drill on node `node` with its member running: the member is stopped (SIGSTOP, before
 * etcd has elected itself and answers) as soon as it runs, so the supervisor waits for its answer
 * until something else ends the drill. (Not `docker pause`: under cgroup v1 a frozen process
 * cannot be killed, so its PID namespace could not end.)
 */
async function holdDrillWithMemberRunning(node: number): Promise<void> {
  await waitForRunningContainer(node, 'etcd-snapshot-drill-member', 90_000);
  await nodeDocker(node, 'kill', '--signal', 'SIGSTOP', 'etcd-snapshot-drill-member');
}

/** A drill on node 1 alone (the fault tests need no other node to wait for). */
const drillNode1 = () =>
  startCli(['etcd', 'snapshot-verify', '--config', clusterFile(lab, 'drill-node1', (config) => (config.nodes = config.nodes.slice(0, 1))), '--name', NAME, '--restore', '--output', 'json']);

function parseJson(outcome: CliOutcome): any {
  try {
    return JSON.parse(outcome.stdout);
  } catch {
    return assert.fail(`stdout is not JSON (exit ${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`);
  }
}

/** Nothing of a drill remains on any node: no container, no scratch directory, no etcd of ours running. */
async function assertNothingLeft(): Promise<void> {
  await assertNoAgentContainers(lab);
  for (let node = 1; node <= lab.addresses.length; node++) {
    const entries = (await nodeExec(node, 'ls', '-A', DIR)).split('\n').filter(Boolean);
    assert.deepEqual(entries.filter((entry) => entry.startsWith('.restore-drill-')), [], `scratch directory left on node ${node}`);
  }
  // The member's and the restore's processes would carry the drill's member name on their command line.
  const drillProcesses = (await nodeExec(1, 'sh', '-c', 'grep -l -a -- "--name=restore-dril[l]" /proc/[0-9]*/cmdline 2>/dev/null || true')).split('\n').filter(Boolean);
  assert.deepEqual(drillProcesses, [], 'a drill process is still running');
}

describe('snapshot-verify --restore', () => {
  let revision: number;

  before(async () => {
    for (let index = 0; index < WRITTEN; index++) await labEtcdctl('put', `/registry/configmaps/it-drill/cm-${index}`, `{"n":${index}}`);
    await labEtcdctl('put', '/registry/secrets/it-drill/s', 'x');
    const saved = await save(['--config', lab.clusterYml, '--name', NAME]);
    assert.equal(saved.code, 0, saved.stderr);
    revision = Number(JSON.parse(await labEtcdctl('endpoint', 'status', '-w', 'json'))[0].Status.header.revision);
  });

  test('every good copy restores: the census read back is what etcd held, at the copy’s revision', async () => {
    const outcome = await verify('--name', NAME, '--restore', '--output', 'json');
    assert.equal(outcome.code, 0, outcome.stderr);
    const doc = parseJson(outcome);
    const allKeys = (await labEtcdctl('get', '', '--from-key', '--keys-only', `--rev=${revision}`)).split('\n').filter(Boolean).length;
    const configmaps = (await labEtcdctl('get', '/registry/configmaps/', '--prefix', '--keys-only', `--rev=${revision}`)).split('\n').filter(Boolean).length;
    for (const location of doc.locations) {
      assert.equal(location.status, 'ok');
      assert.equal(location.restore.ok, true, JSON.stringify(location.restore));
      assert.match(location.restore.etcdVersion, /^3\.4\.\d+$/);
      assert.equal(location.restore.tool, 'etcdctl', 'the lab image (etcd 3.4) has no etcdutl');
      assert.equal(location.restore.census.revision, location.revision, 'the restored member serves the revision the bbolt file holds');
      assert.equal(location.restore.census.revision, revision);
      assert.equal(location.restore.census.keys, allKeys);
      assert.equal(location.restore.census.resources.configmaps, configmaps);
      assert.ok(location.restore.census.resources.configmaps >= WRITTEN);
      assert.equal(location.restore.census.resources.secrets >= 1, true);
      assert.equal(location.restore.difference, undefined);
    }
    await assertNothingLeft();
  });

  test('with node 3’s etcd container stopped the drill still restores its copy (it never needs the live member)', async () => {
    await nodeDocker(3, 'stop', 'etcd');
    try {
      const outcome = await verify('--name', NAME, '--restore', '--output', 'json');
      assert.equal(outcome.code, 0, outcome.stderr);
      const node3 = parseJson(outcome).locations.find((location: any) => location.node === lab.addresses[2]);
      assert.equal(node3.restore.ok, true, JSON.stringify(node3));
      assert.equal(node3.restore.census.revision, revision);
    } finally {
      await nodeDocker(3, 'start', 'etcd');
      await waitForHealthyCluster();
    }
    await assertNothingLeft();
  });

  test('a copy whose snapshot is truncated fails the run, naming the copy and etcd’s own error', async () => {
    const name = 'it-drill-truncated';
    const work = tempDir('rke-drill-');
    const zip = path.join(work, 'good.zip');
    await copyFromNode(1, `${DIR}/${NAME}.zip`, zip);
    const db = path.join(work, name);
    await extractWithPython(zip, `/backup/${NAME}`, db);
    truncateSync(db, Math.floor(statSync(db).size / 2));
    const bad = path.join(work, `${name}.zip`);
    await zipWithPython(bad, [[`/backup/${name}`, db]]);
    assert.ok(readFileSync(bad).length > 0);
    await nodeExec(2, 'install', '-m', '0600', bad, `${DIR}/${name}.zip`);

    const outcome = await verify('--name', name, '--restore', '--output', 'json');
    assert.equal(outcome.code, 1, outcome.stdout);
    const node2 = parseJson(outcome).locations.find((location: any) => location.node === lab.addresses[1]);
    assert.equal(node2.status, 'bad', 'the check already finds the trailer wrong');
    assert.equal(node2.restore.ok, false);
    assert.match(node2.restore.error, new RegExp(`${DIR}/${name}\\.zip on host ${lab.addresses[1]!.replace(/\./g, '\\.')} did not restore \\(etcdctl snapshot restore, image \\S+\\): Error: `));
    const lastLine = outcome.stderr.trim().split('\n').pop()!;
    assert.match(lastLine, new RegExp(`the copy on ${lab.addresses[1]!.replace(/\./g, '\\.')} did not restore: .*Error: `));
    await assertNothingLeft();
  });

  test('too little free space beside the snapshots: that copy is refused first, naming the node, the free and the needed bytes', async () => {
    const small = 2;
    const zip = path.join(tempDir('rke-drill-space-'), `${NAME}.zip`);
    await copyFromNode(small, `${DIR}/${NAME}.zip`, zip);
    // Room for the copy (whatever the suite's earlier tests left in etcd) and a little more:
    // far from the drill's 2 × the snapshot + 128 MiB.
    const room = Math.ceil((statSync(zip).size + 256 * 1024) / 4096) * 4096;
    await nodeExec(small, 'mount', '-t', 'tmpfs', '-o', `size=${room},mode=0700`, 'rke-it-drill-small', DIR);
    let outcome: CliOutcome;
    try {
      await nodeExec(small, 'install', '-m', '0600', zip, `${DIR}/${NAME}.zip`);
      outcome = await verify('--name', NAME, '--restore', '--output', 'json');
      assert.deepEqual((await nodeExec(small, 'ls', '-A', DIR)).split('\n').filter(Boolean), [`${NAME}.zip`], 'nothing written beside the copy');
    } finally {
      await nodeExec(small, 'umount', DIR);
    }
    assert.equal(outcome.code, 1, outcome.stderr);
    const refused = parseJson(outcome).locations.find((location: any) => location.node === lab.addresses[small - 1]);
    assert.equal(refused.status, 'ok');
    assert.match(
      refused.restore.error,
      new RegExp(`^host ${lab.addresses[small - 1]!.replace(/\./g, '\\.')}: not enough free space in ${DIR} for the restore drill: \\d+ bytes free, \\d+ needed`),
    );
    await assertNothingLeft();
  });

  test('Ctrl-C while the member runs: exit 130, and the containers, processes and scratch directory are gone', async () => {
    const run = drillNode1();
    try {
      await holdDrillWithMemberRunning(1);
    } finally {
      run.child.kill('SIGINT');
    }
    const outcome = await run.outcome;
    assert.equal(outcome.code, 130, outcome.stderr);
    await assertNothingLeft();
  });

  test('the supervisor SIGKILLed mid-drill: its etcd dies with it, and the next drill on the node sweeps its scratch directory', async () => {
    const run = drillNode1();
    await holdDrillWithMemberRunning(1);
    await nodeDocker(1, 'kill', 'etcd-snapshot-drill');
    const outcome = await run.outcome;
    assert.equal(outcome.code, 1, outcome.stderr);
    const node1 = parseJson(outcome).locations.find((location: any) => location.node === lab.addresses[0]);
    assert.match(node1.restore.error, /killed \(exit status 137/);
    await waitForNoContainer(1, 'etcd-snapshot-drill-member', 30_000);
    const left = (await nodeExec(1, 'ls', '-A', DIR)).split('\n').filter((entry) => entry.startsWith('.restore-drill-'));
    assert.equal(left.length, 1, 'a killed supervisor leaves its scratch directory');
    const again = await drillNode1().outcome;
    assert.equal(again.code, 0, again.stderr);
    await assertNothingLeft();
  });

  test('the node lost mid-drill (its SSH sessions cut): the supervisor’s stdin closes, it tears down on its own', async () => {
    const run = drillNode1();
    await holdDrillWithMemberRunning(1);
    await labFault('ssh-drop', 1);
    const outcome = await run.outcome;
    assert.equal(outcome.code, 1, outcome.stderr);
    const node1 = parseJson(outcome).locations.find((location: any) => location.node === lab.addresses[0]);
    assert.equal(node1.restore.ok, false);
    assert.match(node1.restore.error, /SSH connection to host .* was lost/);
    // Nobody is left to remove anything on node 1: the supervisor and the engine do it.
    await waitForNoContainer(1, 'etcd-snapshot-drill', 60_000);
    await waitForNoContainer(1, 'etcd-snapshot-drill-member', 30_000);
    await assertNothingLeft();
  });

  test('an S3 copy encrypted with age is downloaded here, decrypted, placed on an etcd node and drilled there', async () => {
    const s3 = await s3LabFacts();
    const work = tempDir('rke-drill-s3-');
    const identityFile = path.join(work, 'age-identity.txt');
    await run('age-keygen', ['-o', identityFile]);
    const recipient = (await run('age-keygen', ['-y', identityFile])).stdout.trim();
    const folder = `it-drill-${randomBytes(4).toString('hex')}`;
    const s3Args = ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder, '--access-key', s3.accessKey, '--secret-key-file', writeSecretKeyFile(s3, work)];
    const name = 'it-drill-s3';
    const saved = await save(['--config', lab.clusterYml, '--name', name, ...s3Args, '--encrypt-recipient', recipient]);
    assert.equal(saved.code, 0, saved.stderr);
    const outcome = await verify('--name', name, ...s3Args, '--identity-file', identityFile, '--restore', '--output', 'json');
    assert.equal(outcome.code, 0, outcome.stderr);
    const locations = parseJson(outcome).locations;
    const inS3 = locations.find((location: any) => location.location === 's3');
    assert.equal(inS3.status, 'ok');
    assert.equal(inS3.restore.ok, true, JSON.stringify(inS3.restore));
    assert.equal(inS3.restore.via, lab.addresses[0], 'placed on the first etcd node');
    assert.equal(inS3.restore.census.revision, inS3.revision);
    const node1 = locations.find((location: any) => location.node === lab.addresses[0]);
    assert.equal(inS3.restore.census.keys, node1.restore.census.keys);
    assert.ok(!outcome.stdout.includes(readFileSync(identityFile, 'utf8').split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-'))!));
    await assertNothingLeft();
  });
});
