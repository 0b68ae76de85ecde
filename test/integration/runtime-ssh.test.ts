/**
 * `snapshot-save --runtime ssh` on the lab: no container anywhere; etcd reached through
 * an SSH tunnel with the node's certificate read over SFTP, the zip written over SFTP.
 * Real sshd, dockerd, etcd and S3 (Ceph RGW); LAB_DIR and S3_LAB_DIR name the labs.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import {
  copyFromNode,
  followerNode,
  labEtcdctl,
  labFacts,
  labFault,
  nodeDocker,
  nodeExec,
  privateKeyMaterial,
  runCli,
  startCli,
  tempDir,
  waitForHealthyCluster,
  type CliOutcome,
  type LabFacts,
} from '../support/lab.js';
import { download, listKeys, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { etcdctlSnapshotStatus, extractEntry, sha256File } from '../support/snapshot-check.js';
import { checkWithUnzip, inspectWithPython, type PythonZipEntry } from '../support/zip-tools.js';

const run = promisify(execFile);
const DIR = '/opt/rke/etcd-snapshots';

let lab: LabFacts;
let work: string;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-ssh-*');
  await removeNodeSnapshots(lab, '.it-ssh-*');
  work = tempDir('rke-ssh-it-');
});

after(async () => {
  if (lab) await assertNoAgentContainers(lab);
});

function saveSsh(args: string[]): Promise<CliOutcome> {
  return save(['--config', lab.clusterYml, '--runtime', 'ssh', ...args]);
}

/** Nothing of that snapshot under a temporary name on any node. */
async function assertNoTempFiles(name: string): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) {
    const temps = (await snapshotFiles(node)).filter((file) => file.startsWith(`.${name}.zip.tmp-`));
    assert.deepEqual(temps, [], `temporary files left on node ${node}`);
  }
}

async function copyOut(node: number, name: string, label: string): Promise<string> {
  const local = path.join(work, `${label}-node${node}.zip`);
  await copyFromNode(node, `${DIR}/${name}.zip`, local);
  return local;
}

/** The zip's format, with the snapshot's name taken out, so that two runs compare. */
function formatOf(entries: PythonZipEntry[], name: string): unknown[] {
  return entries.map((entry) => ({
    name: entry.name.replace(name, 'NAME'),
    compressType: entry.compressType,
    flagBits: entry.flagBits,
    unixMode: entry.unixMode,
  }));
}

describe('snapshot-save --runtime ssh', () => {
  test('3 nodes: zips that unzip -t and etcdctl accept, in the container path\'s format, no container, no key in the output', async () => {
    const marker = `ssh-${Date.now()}`;
    await labEtcdctl('put', 'rke-snapshot-test/ssh-marker', marker);
    const outcome = await saveSsh(['--name', 'it-ssh-full', '--debug']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stderr, /--runtime ssh/);
    const docker = await save(['--config', lab.clusterYml, '--name', 'it-ssh-docker-twin']);
    assert.equal(docker.code, 0, docker.stderr);
    const dockerFormat = formatOf((await inspectWithPython(await copyOut(1, 'it-ssh-docker-twin', 'twin'))).entries, 'it-ssh-docker-twin');

    const nodeKey = readFileSync(lab.nodeKey, 'utf8');
    for (const [index, address] of lab.addresses.entries()) {
      const node = index + 1;
      const row = tableRow(outcome.stdout, address);
      assert.match(row, /\sok\s/);
      const reported = /\b([0-9a-f]{64})\b/.exec(row)?.[1];
      assert.equal((await nodeExec(node, 'stat', '-c', '%a %F', `${DIR}/it-ssh-full.zip`)).trim(), '600 regular file');
      const local = await copyOut(node, 'it-ssh-full', 'full');
      assert.equal(sha256File(local), reported, 'the reported sha256 is the file on the node');

      const unzip = await checkWithUnzip(local);
      assert.match(unzip.testOutput, /No errors detected/);
      const python = await inspectWithPython(local);
      assert.equal(python.bad, null);
      assert.deepEqual(formatOf(python.entries, 'it-ssh-full'), dockerFormat, 'the same entries, methods, flags and modes as the container path');

      const snapshot = path.join(work, `full-node${node}.db`);
      await extractEntry(local, '/backup/it-ssh-full', snapshot);
      const status = await etcdctlSnapshotStatus(snapshot);
      assert.ok(status.totalKey > 0 && status.revision > 0, `snapshot status: ${JSON.stringify(status)}`);
      const state = path.join(work, `full-node${node}.rkestate`);
      await extractEntry(local, '/etc/kubernetes/it-ssh-full.rkestate', state);
      assert.deepEqual(readFileSync(state), readFileSync(lab.clusterYml.replace(/\.yml$/, '.rkestate')));
      assert.equal((await nodeExec(node, 'ls', '/etc/kubernetes')).includes('it-ssh-full'), false, 'no state file placed on the node');
    }
    await assertNoTempFiles('it-ssh-full');
    assert.ok(!(outcome.stdout + outcome.stderr).includes(privateKeyMaterial(nodeKey)), 'the etcd client key was printed');
    await assertNoAgentContainers(lab);

    const json = await saveSsh(['--name', 'it-ssh-json', '--output', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const document = JSON.parse(json.stdout) as { nodes: Array<{ runtime?: string; ok: boolean; revision?: number }> };
    assert.deepEqual(document.nodes.map((node) => [node.ok, node.runtime]), lab.addresses.map(() => [true, 'ssh']));
    // The revision is read in the same pass as with the container path.
    for (const node of document.nodes) assert.ok(typeof node.revision === 'number' && node.revision > 0, JSON.stringify(node));
  });

  test('refuses an existing NAME.zip without --overwrite (file untouched), replaces it with', async () => {
    const first = await saveSsh(['--name', 'it-ssh-twice']);
    assert.equal(first.code, 0, first.stderr);
    const before = (await nodeExec(1, 'sha256sum', `${DIR}/it-ssh-twice.zip`)).split(' ')[0];
    const again = await saveSsh(['--name', 'it-ssh-twice']);
    assert.equal(again.code, 1);
    for (const address of lab.addresses) {
      assert.match(again.stdout, new RegExp(`${escapeRegExp(address)}: ${DIR}/it-ssh-twice\\.zip already exists on host ${escapeRegExp(address)}; pass --overwrite to replace it`));
    }
    assert.match(again.stderr, /^ERROR no etcd node produced a snapshot \(3 failed\)$/m);
    assert.equal((await nodeExec(1, 'sha256sum', `${DIR}/it-ssh-twice.zip`)).split(' ')[0], before);
    const replaced = await saveSsh(['--name', 'it-ssh-twice', '--overwrite']);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.notEqual((await nodeExec(1, 'sha256sum', `${DIR}/it-ssh-twice.zip`)).split(' ')[0], before);
    await assertNoTempFiles('it-ssh-twice');
  });

  test('a symlink at the final name is never written through: refused, and with --overwrite replaced itself', async () => {
    const victim = path.join(work, 'victim.txt');
    writeFileSync(victim, 'do not touch\n');
    await nodeExec(1, 'ln', '-s', victim, `${DIR}/it-ssh-link.zip`);
    await nodeExec(2, 'ln', '-s', path.join(work, 'dangling-target'), `${DIR}/it-ssh-link.zip`);
    const refused = await saveSsh(['--name', 'it-ssh-link']);
    assert.equal(refused.code, 0, refused.stderr);
    assert.match(tableRow(refused.stdout, lab.addresses[0]!), /FAILED/);
    assert.match(tableRow(refused.stdout, lab.addresses[1]!), /FAILED/);
    assert.match(tableRow(refused.stdout, lab.addresses[2]!), /\sok\s/);
    assert.match(refused.stdout, new RegExp(`${escapeRegExp(lab.addresses[1]!)}: ${DIR}/it-ssh-link\\.zip already exists on host`));
    assert.equal(readFileSync(victim, 'utf8'), 'do not touch\n');
    assert.equal((await nodeExec(2, 'ls', path.dirname(path.join(work, 'dangling-target')))).includes('dangling-target'), false, 'nothing created through the dangling link');

    const replaced = await saveSsh(['--name', 'it-ssh-link', '--overwrite']);
    assert.equal(replaced.code, 0, replaced.stderr);
    for (const node of [1, 2]) {
      assert.equal((await nodeExec(node, 'stat', '-c', '%F', `${DIR}/it-ssh-link.zip`)).trim(), 'regular file');
    }
    assert.equal(readFileSync(victim, 'utf8'), 'do not touch\n', 'the link\'s target was not written');
    await assertNoTempFiles('it-ssh-link');
  });

  test('a missing client key on one node: that node fails naming the node and the path, the others succeed', async () => {
    const keyPath = '/etc/kubernetes/ssl/kube-node-key.pem';
    await nodeExec(3, 'mv', keyPath, `${keyPath}.moved`);
    try {
      const outcome = await saveSsh(['--name', 'it-ssh-nokey']);
      assert.equal(outcome.code, 0, outcome.stderr);
      const broken = lab.addresses[2]!;
      assert.match(tableRow(outcome.stdout, broken), /FAILED/);
      const line = outcome.stdout.split('\n').find((l) => l.startsWith(`  ${broken}: `));
      assert.equal(
        line,
        `  ${broken}: host ${broken}: cannot read the etcd client key ${keyPath} over SFTP: no such file or directory; ` +
          '--runtime ssh authenticates to etcd with the node\'s kube-ca.pem, kube-node.pem, kube-node-key.pem there (as the snapshot container does)',
      );
      for (const address of lab.addresses.slice(0, 2)) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
      assert.equal((await snapshotFiles(3)).some((f) => f.includes('it-ssh-nokey')), false, 'nothing written on the failed node');
    } finally {
      await nodeExec(3, 'mv', `${keyPath}.moved`, keyPath);
    }
  });

  test('etcd stopped on one node: it fails at once saying etcd cannot be reached, the others succeed', async () => {
    const stoppedNode = await followerNode(lab.addresses);
    const stopped = lab.addresses[stoppedNode - 1]!;
    await nodeDocker(stoppedNode, 'stop', 'etcd');
    try {
      const outcome = await saveSsh(['--name', 'it-ssh-etcd-down']);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(tableRow(outcome.stdout, stopped), /FAILED/);
      assert.ok(
        outcome.stdout.includes(`  ${stopped}: cannot reach ${stopped}:2379 from host ${stopped} through SSH: connection refused (is etcd running and listening there?)`),
        outcome.stdout,
      );
      for (const address of lab.addresses.filter((a) => a !== stopped)) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
      assert.match(outcome.stderr, /1 of 3 etcd nodes failed/);
      assert.equal((await snapshotFiles(stoppedNode)).some((f) => f.includes('it-ssh-etcd-down')), false);
    } finally {
      await nodeDocker(stoppedNode, 'start', 'etcd');
      await waitForHealthyCluster();
    }
  });

  test('Docker stopped on a node (etcd kept running outside it): the docker runtime fails there, the ssh runtime does not', async () => {
    const node = 2;
    const address = lab.addresses[node - 1]!;
    const args = JSON.parse(await nodeDocker(node, 'inspect', 'etcd', '--format', '{{json .Args}}')) as string[];
    const dataDir = path.join(lab.dir, 'nodes', `node${node}`, 'etcd-data');
    let etcd: ChildProcess | undefined;
    await labFault('dockerd-stop', node);
    try {
      etcd = startEtcdWithoutDocker(node, args.map((arg) => (arg.startsWith('--data-dir=') ? `--data-dir=${dataDir}` : arg)));
      await waitForHealthyCluster();

      const docker = await save(['--config', lab.clusterYml, '--name', 'it-ssh-nodocker-d']);
      assert.equal(docker.code, 0, docker.stderr);
      assert.match(tableRow(docker.stdout, address), /FAILED/);
      assert.match(docker.stdout, new RegExp(`  ${escapeRegExp(address)}: .*(docker|Docker)`));

      const ssh = await saveSsh(['--name', 'it-ssh-nodocker']);
      assert.equal(ssh.code, 0, ssh.stderr);
      for (const a of lab.addresses) assert.match(tableRow(ssh.stdout, a), /\sok\s/);
      const local = await copyOut(node, 'it-ssh-nodocker', 'nodocker');
      assert.match((await checkWithUnzip(local)).testOutput, /No errors detected/);
    } finally {
      if (etcd) await stopProcess(etcd);
      await labFault('dockerd-start', node);
      await waitForHealthyCluster(120_000);
    }
  });

  test('--s3: one copy uploaded from this machine, byte-identical to the node\'s file, verified, no container', async () => {
    const s3: S3LabFacts = await s3LabFacts();
    const secretFile = writeSecretKeyFile(s3, work);
    const folder = `it/ssh-${Date.now()}`;
    const outcome = await saveSsh([
      '--name', 'it-ssh-s3', '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket,
      '--access-key', s3.accessKey, '--secret-key-file', secretFile, '--folder', folder, '--debug',
    ]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stderr, /uploading \/opt\/rke\/etcd-snapshots\/it-ssh-s3\.zip to s3:\/\/\S+ from this machine \(--runtime ssh\)/);
    const match = /^S3: s3:\/\/[^/]+\/(\S+) uploaded from (\S+): .*verified by ETag$/m.exec(outcome.stdout);
    assert.ok(match, outcome.stdout);
    assert.equal(match[1], `${folder}/it-ssh-s3.zip`);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-ssh-s3.zip`]);
    const node = lab.addresses.indexOf(match[2]!) + 1;
    const local = await copyOut(node, 'it-ssh-s3', 's3');
    const remote = path.join(work, 's3-object.zip');
    await download(s3.bucket, match[1]!, remote);
    assert.equal(sha256File(remote), sha256File(local));
    assert.ok(!(outcome.stdout + outcome.stderr).includes(s3.secretKey), 'the secret key was printed');
    await assertNoAgentContainers(lab);
  });

  test('--s3 without credentials on this machine: the snapshots are kept, the run fails saying where the credentials must be', async () => {
    const s3: S3LabFacts = await s3LabFacts();
    const home = tempDir('rke-ssh-nohome-');
    const outcome = await runCli(
      ['etcd', 'snapshot-save', '--config', lab.clusterYml, '--runtime', 'ssh', '--name', 'it-ssh-nocreds', '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket],
      // No keys anywhere, and the SDK must not look for an instance role (no traffic outside the lab).
      { env: { HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none') } },
    );
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stdout, /: upload: no S3 credentials on this machine \(--runtime ssh uploads from here, not from the nodes\): pass --access-key and --secret-key-file/);
    assert.match(outcome.stderr, /^ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/m);
    for (let node = 1; node <= lab.addresses.length; node++) assert.ok((await snapshotFiles(node)).includes('it-ssh-nocreds.zip'));
  });

  test('backup_config.timeout ends a snapshot that hangs (etcd frozen): the node fails saying so, nothing left', async () => {
    const frozenNode = await followerNode(lab.addresses);
    const frozen = lab.addresses[frozenNode - 1]!;
    const file = clusterFile(lab, 'ssh-timeout', (config) => {
      // Long enough for the healthy nodes on a busy 2-core CI machine; the frozen one waits it out.
      config.services.etcd.backup_config.timeout = 20;
    });
    await nodeDocker(frozenNode, 'pause', 'etcd');
    try {
      const outcome = await save(['--config', file, '--runtime', 'ssh', '--name', 'it-ssh-timeout']);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.ok(
        outcome.stdout.includes(
          `  ${frozen}: the snapshot over SSH on host ${frozen} did not finish within 20 s (services.etcd.backup_config.timeout); it was stopped and its temporary file removed`,
        ),
        outcome.stdout,
      );
      assert.equal((await snapshotFiles(frozenNode)).some((f) => f.includes('it-ssh-timeout')), false);
    } finally {
      await nodeDocker(frozenNode, 'unpause', 'etcd');
      await waitForHealthyCluster();
    }
  });

  test('bad flag combinations are refused before any node is touched', async () => {
    const outcome = await saveSsh(['--name', 'it-ssh-flags', '--pki-bundle']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^ERROR --pki-bundle cannot be used with --runtime ssh .*use --runtime docker$/m);
    assert.equal((await snapshotFiles(1)).some((f) => f.includes('it-ssh-flags')), false);
  });
});

describe('--runtime ssh with a 100+ MiB database', () => {
  const KEYS = 110;
  before(async () => {
    const value = path.join(work, 'value.bin');
    for (let index = 0; index < KEYS; index++) {
      writeFileSync(value, randomBytes(1024 * 1024)); // incompressible: the zip is as big as the database
      await etcdctlPut(`rke-snapshot-test/big/${String(index).padStart(3, '0')}`, value);
    }
  });

  after(async () => {
    await labEtcdctl('del', '--prefix', 'rke-snapshot-test/big/');
    const status = JSON.parse(await labEtcdctl('endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>;
    await labEtcdctl('compaction', String(status[0]!.Status.header.revision));
    await labEtcdctl('defrag');
    await removeNodeSnapshots(lab, 'it-ssh-big-*');
  });

  test('throughput: --runtime ssh vs --runtime docker on the same database (reported, not asserted)', async (t) => {
    const results: Record<string, { ms: number; bytes: number; perNodeMs: number[] }> = {};
    for (const runtime of ['docker', 'ssh']) {
      const outcome = await save(['--config', lab.clusterYml, '--runtime', runtime, '--name', `it-ssh-big-${runtime}`, '--output', 'json']);
      assert.equal(outcome.code, 0, outcome.stderr);
      const document = JSON.parse(outcome.stdout) as { nodes: Array<{ ok: boolean; size: number; durationMs: number }> };
      assert.ok(document.nodes.every((node) => node.ok && node.size > 100 * 1024 * 1024), outcome.stdout);
      results[runtime] = { ms: outcome.ms, bytes: document.nodes[0]!.size, perNodeMs: document.nodes.map((node) => node.durationMs) };
    }
    for (const [runtime, result] of Object.entries(results)) {
      const mib = result.bytes / 1024 / 1024;
      const slowest = Math.max(...result.perNodeMs) / 1000;
      t.diagnostic(
        `${runtime}: ${mib.toFixed(1)} MiB zip per node, 3 nodes at once; run ${(result.ms / 1000).toFixed(1)} s; per node ${result.perNodeMs.map((ms) => (ms / 1000).toFixed(1)).join('/')} s; ` +
          `${(mib / slowest).toFixed(1)} MiB/s per node, ${((3 * mib) / slowest).toFixed(1)} MiB/s total`,
      );
    }
    const one = await copyOut(1, 'it-ssh-big-ssh', 'big');
    assert.match((await checkWithUnzip(one)).testOutput, /No errors detected/);
  });

  test('SIGINT while the zip streams over SFTP: the temporary file is removed, nothing under the final name, exit 130', async () => {
    const { child, outcome } = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--runtime', 'ssh', '--name', 'it-ssh-big-sigint']);
    let sawTemp = false;
    const deadline = Date.now() + 60_000;
    while (!sawTemp && Date.now() < deadline && child.exitCode === null) {
      sawTemp = (await snapshotFiles(1)).some((file) => file.startsWith('.it-ssh-big-sigint.zip.tmp-'));
    }
    assert.ok(sawTemp, 'the temporary file never appeared on node 1');
    child.kill('SIGINT');
    const result = await outcome;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /SIGINT received/);
    for (let node = 1; node <= lab.addresses.length; node++) {
      assert.deepEqual((await snapshotFiles(node)).filter((f) => f.includes('it-ssh-big-sigint')), [], `left on node ${node}`);
    }
  });
});

/** A plain etcd process for the member, in the node's mount namespace (its certificates), as a node without Docker would run it. */
function startEtcdWithoutDocker(node: number, args: string[]): ChildProcess {
  const nodePid = readFileSync(path.join(lab.dir, 'nodes', `node${node}`, 'node.pid'), 'utf8').trim();
  const log = openSync(path.join(work, `etcd-node${node}.log`), 'a');
  try {
    return spawn('nsenter', ['-t', nodePid, '-m', '--', '/usr/bin/etcd', ...args], { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function etcdctlPut(key: string, valueFile: string): Promise<void> {
  const endpoint = `https://${lab.addresses[0]}:2379`;
  await run('bash', ['-c', 'etcdctl --endpoints "$1" --cacert "$2" --cert "$3" --key "$4" put "$5" < "$6" > /dev/null', '-', endpoint, lab.ca, lab.nodeCert, lab.nodeKey, key, valueFile], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
}
