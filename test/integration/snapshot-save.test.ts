/**
 * `rke etcd snapshot-save` end to end on the lab: real sshd, real dockerd per node,
 * real etcd in a container named `etcd` on each node. scripts/test.sh brings the lab up.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile as clusterFile_, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import {
  followerNode,
  copyFromNode,
  labEtcdctl,
  labFacts,
  nodeDocker,
  nodeExec,
  privateKeyMaterial,
  runCli,
  startCli,
  tempDir,
  waitForHealthyCluster,
  waitForRunningContainer,
  type LabFacts,
} from '../support/lab.js';
import {
  etcdctlSnapshotStatus,
  extractEntry,
  restoreAndRead,
  sha256File,
  unzipTest,
  zipEntryNames,
} from '../support/snapshot-check.js';

let lab: LabFacts;
let work: string;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-*');
  work = tempDir('rke-it-');
});

const clusterFile = (name: string, edit: (config: Record<string, any>) => void, withState = true) =>
  clusterFile_(lab, name, edit, withState);
const assertNoSnapshotContainers = () => assertNoAgentContainers(lab);

describe('snapshot-save on the 3-node lab', () => {
  test('takes a verified, restorable snapshot on every etcd node and leaves no container', async () => {
    const marker = `value-${Date.now()}`;
    await labEtcdctl('put', 'rke-snapshot-test/marker', marker);

    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-full']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.doesNotMatch(outcome.stderr, /^(WARN|ERROR) /m, 'a clean run logs no warning');

    for (const [index, address] of lab.addresses.entries()) {
      const node = index + 1;
      const row = tableRow(outcome.stdout, address);
      assert.match(row, /\sok\s/);
      const reportedSha = /\b([0-9a-f]{64})\b/.exec(row)?.[1];

      const onNode = '/opt/rke/etcd-snapshots/it-full.zip';
      const mode = (await nodeExec(node, 'stat', '-c', '%a', onNode)).trim();
      assert.equal(mode, '600', `mode of ${onNode} on node ${node}`);
      const local = path.join(work, `node${node}-it-full.zip`);
      await copyFromNode(node, onNode, local);
      assert.equal(sha256File(local), reportedSha, 'the reported sha256 is the file on the node');

      assert.deepEqual((await zipEntryNames(local)).sort(), ['/backup/it-full', '/etc/kubernetes/it-full.rkestate']);
      assert.match(await unzipTest(local), /No errors detected/);
      const snapshot = path.join(work, `node${node}-it-full.db`);
      await extractEntry(local, '/backup/it-full', snapshot);
      const status = await etcdctlSnapshotStatus(snapshot);
      assert.ok(status.totalKey > 0 && status.revision > 0, `snapshot status: ${JSON.stringify(status)}`);
      // The REVISION column is what etcdctl snapshot status reads from that node's file.
      assert.match(row, new RegExp(`KiB\\s+${status.revision}\\s+${reportedSha}\\s`), row);

      const state = path.join(work, `node${node}.rkestate`);
      await extractEntry(local, '/etc/kubernetes/it-full.rkestate', state);
      assert.deepEqual(readFileSync(state), readFileSync(lab.clusterYml.replace(/\.yml$/, '.rkestate')));

      // Nothing else left behind: no raw snapshot, no temp file, no deployed state file.
      assert.deepEqual((await snapshotFiles(node)).filter((f) => f.includes('it-full')), ['it-full.zip']);
      assert.equal((await nodeExec(node, 'ls', '/etc/kubernetes')).includes('it-full.rkestate'), false);
    }

    const restoreDir = tempDir('rke-restore-');
    const firstSnapshot = path.join(work, 'node1-it-full.db');
    assert.equal(await restoreAndRead(firstSnapshot, restoreDir, '127.0.9.9', 'rke-snapshot-test/marker'), marker);
    await assertNoSnapshotContainers();
  });

  test('a container left by a killed run (created, never started) is removed and the snapshot taken', async () => {
    const image = (await nodeDocker(1, 'images', '--format', '{{.Repository}}:{{.Tag}}', 'rke-snapshot-agent')).split('\n')[0]!.trim();
    assert.ok(image, 'the agent image is on node 1 after the first test');
    await nodeDocker(1, 'create', '--name', 'etcd-snapshot-once', image, 'version');
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-stale-container']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(tableRow(outcome.stdout, lab.addresses[0]!), /\sok\s/);
    await assertNoSnapshotContainers();
    await removeNodeSnapshots(lab, 'it-stale-container.zip');
  });

  test('refuses to replace an existing snapshot unless --overwrite', async () => {
    const first = await save(['--config', lab.clusterYml, '--name', 'it-twice']);
    assert.equal(first.code, 0, first.stderr);
    const before = (await nodeExec(1, 'sha256sum', '/opt/rke/etcd-snapshots/it-twice.zip')).split(' ')[0];

    const again = await save(['--config', lab.clusterYml, '--name', 'it-twice']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\/opt\/rke\/etcd-snapshots\/it-twice\.zip already exists/);
    assert.match(again.stderr, /--overwrite/);
    assert.equal((await nodeExec(1, 'sha256sum', '/opt/rke/etcd-snapshots/it-twice.zip')).split(' ')[0], before);

    const replaced = await save(['--config', lab.clusterYml, '--name', 'it-twice', '--overwrite']);
    assert.equal(replaced.code, 0, replaced.stderr);
    await assertNoSnapshotContainers();
  });

  test('a node whose etcd container is stopped fails alone; --strict makes it fatal', async () => {
    const stopped = lab.addresses[1]!;
    await nodeDocker(2, 'stop', 'etcd');
    try {
      const outcome = await save(['--config', lab.clusterYml, '--name', 'it-etcd-down']);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(outcome.stdout + outcome.stderr, new RegExp(`etcd is not running on host \\[${stopped.replace(/\./g, '\\.')}\\]`));
      assert.match(tableRow(outcome.stdout, stopped), /FAILED/);
      assert.match(tableRow(outcome.stdout, lab.addresses[0]!), /\sok\s/);
      assert.match(tableRow(outcome.stdout, lab.addresses[2]!), /\sok\s/);
      assert.match(outcome.stderr, /1 of 3 etcd nodes failed/);

      const strict = await save(['--config', lab.clusterYml, '--name', 'it-etcd-down-strict', '--strict']);
      assert.equal(strict.code, 1);
      assert.match(strict.stderr, /ERROR --strict: 1 of 3 etcd nodes failed: 127\.0\.\d+\.\d+/);
    } finally {
      await nodeDocker(2, 'start', 'etcd');
      await waitForHealthyCluster();
    }
    await assertNoSnapshotContainers();
  });

  test('a node where nothing listens on the SSH port fails within a bounded time, the others succeed', async () => {
    const deadAddress = '127.0.9.77';
    const file = clusterFile('dead-node', (config) => {
      config.nodes.push({ ...config.nodes[0], address: deadAddress });
    });
    const outcome = await save(['--config', file, '--name', 'it-dead-node']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(tableRow(outcome.stdout, deadAddress), /FAILED/);
    assert.match(outcome.stdout, /cannot connect over SSH to host 127\.0\.9\.77 port 22: connection refused/);
    for (const address of lab.addresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    assert.ok(outcome.ms < 120_000, `took ${outcome.ms} ms`);
  });

  test('a wrong SSH key is refused with a clear message on every node', async () => {
    const keyDir = tempDir('rke-wrong-key-');
    const wrongKey = path.join(keyDir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey]);
    const file = clusterFile('wrong-key', (config) => {
      config.ssh_key_path = wrongKey;
      for (const node of config.nodes) node.ssh_key_path = wrongKey;
    });
    const outcome = await save(['--config', file, '--name', 'it-wrong-key']);
    assert.equal(outcome.code, 1);
    for (const address of lab.addresses) {
      assert.match(outcome.stdout, new RegExp(`SSH authentication as root@${address.replace(/\./g, '\\.')} failed`));
    }
    assert.match(outcome.stderr, /ERROR no etcd node produced a snapshot/);
    assert.ok(!outcome.stdout.includes(privateKeyMaterial(readFileSync(wrongKey, 'utf8'))), 'the key never shows');
  });

  test('backup_config.timeout ends a snapshot that hangs (etcd frozen): container removed, node reported', async () => {
    const frozenNode = await followerNode(lab.addresses);
    const frozen = lab.addresses[frozenNode - 1]!;
    const file = clusterFile('timeout', (config) => {
      config.services.etcd.backup_config.timeout = 5;
    });
    await nodeDocker(frozenNode, 'pause', 'etcd');
    try {
      const outcome = await save(['--config', file, '--name', 'it-timeout']);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(tableRow(outcome.stdout, frozen), /FAILED/);
      assert.match(
        outcome.stdout,
        /the snapshot container on host 127\.0\.\d+\.\d+ did not finish within 5 s \(services\.etcd\.backup_config\.timeout\); it was stopped and removed/,
      );
      assert.equal((await snapshotFiles(frozenNode)).some((f) => f.includes('it-timeout')), false, 'nothing under a final or temp name');
    } finally {
      await nodeDocker(frozenNode, 'unpause', 'etcd');
      await waitForHealthyCluster();
    }
    await assertNoSnapshotContainers();
  });

  test('SIGINT during a snapshot removes the containers and exits 130', async () => {
    const frozenNode = await followerNode(lab.addresses);
    await nodeDocker(frozenNode, 'pause', 'etcd');
    try {
      const { child, outcome } = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-sigint']);
      await waitForRunningContainer(frozenNode, 'etcd-snapshot-once');
      child.kill('SIGINT');
      const result = await outcome;
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /SIGINT received/);
      assert.equal((await snapshotFiles(frozenNode)).some((f) => f.includes('it-sigint')), false);
    } finally {
      await nodeDocker(frozenNode, 'unpause', 'etcd');
      await waitForHealthyCluster();
    }
    await assertNoSnapshotContainers();
  });

  test('an unsupported Docker version fails each node with RKE\'s message; --ignore-docker-version passes', async () => {
    const file = clusterFile('old-k8s', (config) => {
      config.kubernetes_version = 'v1.8.11-rancher1-1'; // the only minor whose list lacks Docker 20.10
    });
    const refused = await save(['--config', file, '--name', 'it-docker-version']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /Docker version|docker version/i);
    assert.match(refused.stdout, /--ignore-docker-version/);

    const ignored = await save(['--config', file, '--name', 'it-docker-version', '--ignore-docker-version']);
    assert.equal(ignored.code, 0, ignored.stderr);
    await assertNoSnapshotContainers();
  });
});

describe('SSH authentication the way RKE users have it', () => {
  test('an inline ssh_key in cluster.yml, and hostname_override in the report', async () => {
    const key = readFileSync(lab.sshKey, 'utf8');
    const file = clusterFile('inline-key', (config) => {
      config.ssh_key_path = '/nonexistent/id_rsa';
      for (const node of config.nodes) {
        delete node.ssh_key_path;
        node.ssh_key = key;
      }
      config.nodes[0].hostname_override = 'etcd-a';
    });
    const outcome = await save(['--config', file, '--name', 'it-inline-key']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(tableRow(outcome.stdout, lab.addresses[0]!), new RegExp(`^${escapeRegExp(lab.addresses[0]!)} \\(etcd-a\\)\\s+ok\\s`));
    assert.ok(!(outcome.stdout + outcome.stderr).includes(privateKeyMaterial(key)), 'the key never shows');
  });

  test('--ssh-agent-auth and ssh_agent_auth: true use a real ssh-agent; a dead agent is a clear error', async () => {
    const socket = path.join(tempDir('rke-agent-'), 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 10_000;
      while (!existsSync(socket)) {
        assert.ok(Date.now() < deadline, 'ssh-agent did not start');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      execFileSync('ssh-add', ['-q', lab.sshKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const noKeyFiles = (config: Record<string, any>) => {
        config.ssh_key_path = '/nonexistent/id_rsa';
        for (const node of config.nodes) node.ssh_key_path = '/nonexistent/id_rsa';
      };
      const env = { SSH_AUTH_SOCK: socket };
      const byFlag = await runCli(['etcd', 'snapshot-save', '--config', clusterFile('agent-flag', noKeyFiles), '--name', 'it-agent-flag', '--ssh-agent-auth'], { env });
      assert.equal(byFlag.code, 0, byFlag.stderr);
      const byFile = await runCli(['etcd', 'snapshot-save', '--config', clusterFile('agent-file', (c) => { noKeyFiles(c); c.ssh_agent_auth = true; }), '--name', 'it-agent-file'], { env });
      assert.equal(byFile.code, 0, byFile.stderr);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('exit', resolve));
    }
    const dead = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-agent-dead', '--ssh-agent-auth'], { env: { SSH_AUTH_SOCK: socket } });
    assert.equal(dead.code, 1);
    assert.match(dead.stdout, /SSH_AUTH_SOCK=.*agent\.sock does not exist; is ssh-agent running\?/);
    const unset = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-agent-unset', '--ssh-agent-auth'], { env: { SSH_AUTH_SOCK: '' } });
    assert.equal(unset.code, 1);
    assert.match(unset.stdout, /SSH_AUTH_SOCK is not set/);
  });
});

describe('SSH host keys (RKE ignores them)', () => {
  test('accept-new records each node once; a changed key is then refused naming both fingerprints', async () => {
    const knownHosts = path.join(tempDir('rke-kh-'), 'known_hosts');
    const env = { RKE_SSH_KNOWN_HOSTS: knownHosts };
    const first = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-hostkeys-1'], { env });
    assert.equal(first.code, 0, first.stderr);
    const recorded = readFileSync(knownHosts, 'utf8').trim().split('\n');
    assert.deepEqual(recorded.map((line) => line.split(' ')[0]).sort(), [...lab.addresses].sort());
    assert.equal((statSync(knownHosts).mode & 0o777).toString(8), '600');

    // Node 2 "reinstalled": another key stands for it in known_hosts.
    const impostor = path.join(tempDir('rke-kh-key-'), 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', impostor]);
    const impostorKey = readFileSync(`${impostor}.pub`, 'utf8').split(' ')[1]!;
    const changedAddress = lab.addresses[1]!;
    writeFileSync(knownHosts, recorded.map((line) => (line.startsWith(changedAddress + ' ') ? `${changedAddress} ssh-ed25519 ${impostorKey}` : line)).join('\n') + '\n');
    const second = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-hostkeys-2'], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(tableRow(second.stdout, changedAddress), /FAILED/);
    const expected = execFileSync('ssh-keygen', ['-lf', `${impostor}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    assert.match(second.stdout, new RegExp(`the host key of ${escapeRegExp(changedAddress)} has changed: .* has ssh-ed25519 ${escapeRegExp(expected)}, the host offered ssh-ed25519 SHA256:`));
    assert.match(tableRow(second.stdout, lab.addresses[0]!), /\sok\s/);

    const ignored = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-hostkeys-3', '--ssh-host-key-policy', 'off'], { env });
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.match(ignored.stderr, /host keys are not checked/);
    assert.match(tableRow(ignored.stdout, changedAddress), /\sok\s/);
  });

  test('strict refuses hosts that are not in known_hosts, and records nothing', async () => {
    const knownHosts = path.join(tempDir('rke-kh-'), 'known_hosts');
    const outcome = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-hostkeys-strict', '--ssh-host-key-policy', 'strict', '--known-hosts', knownHosts]);
    assert.equal(outcome.code, 1);
    for (const address of lab.addresses) {
      assert.match(outcome.stdout, new RegExp(`${escapeRegExp(address)} is not in ${escapeRegExp(knownHosts)} \\(--ssh-host-key-policy strict\\)`));
    }
    assert.throws(() => statSync(knownHosts), /ENOENT/);
  });
});

describe('bad input is refused before any node is touched', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['a missing cluster file', () => ['--config', '/nonexistent/cluster.yml', '--name', 'x'], /cannot read cluster file \/nonexistent\/cluster\.yml/],
    ['a cluster file that is not YAML', () => ['--config', writeTemp('bad.yml', 'nodes: [\n  - {address: 1'), '--name', 'x'], /bad\.yml: is not valid YAML/],
    ['a cluster with no etcd node', () => ['--config', clusterFile('no-etcd', (c) => c.nodes.forEach((n: any) => (n.role = ['worker']))), '--name', 'x'], /no node has the etcd role/],
    ['--name ../x', () => ['--config', lab.clusterYml, '--name', '../x'], /--name "\.\.\/x": .*must not contain "\/"/],
    ['--name ..', () => ['--config', lab.clusterYml, '--name', '..'], /--name "\.\.":/],
    ['--name with a newline', () => ['--config', lab.clusterYml, '--name', 'a\nb'], /--name "a\\nb":/],
    ['--name that is empty', () => ['--config', lab.clusterYml, '--name', ''], /--name "":/],
    ['--s3 without a bucket', () => ['--config', lab.clusterYml, '--name', 'x', '--s3'], /--s3 needs a bucket/],
    ['--compression that is not a mode', () => ['--config', lab.clusterYml, '--name', 'x', '--compression', 'max'], /--compression <mode>' argument 'max' is invalid. Allowed choices are auto, fast, standard, none/],
  ];
  for (const [title, args, expected] of cases) {
    test(title, async () => {
      const filesBefore = await snapshotFiles(1);
      const outcome = await save(args());
      assert.equal(outcome.code, 1, outcome.stderr);
      assert.match(outcome.stderr, expected);
      const errorLines = outcome.stderr.split('\n').filter((line) => line.startsWith('ERROR'));
      assert.equal(errorLines.length, 1, `exactly one error line:\n${outcome.stderr}`);
      assert.ok(!/\n\s+at /.test(outcome.stderr), 'no stack trace');
      assert.deepEqual(await snapshotFiles(1), filesBefore, 'no node was touched');
    });
  }
});

describe('the default name', () => {
  test('is rke_etcd_snapshot_<RFC3339 time>, announced with RKE\'s warning', async () => {
    const outcome = await save(['--config', lab.clusterYml]);
    assert.equal(outcome.code, 0, outcome.stderr);
    const name = /rke_etcd_snapshot_\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})/.exec(outcome.stderr)?.[0];
    assert.ok(name, outcome.stderr);
    assert.match(outcome.stderr, /WARN .*not specified/i);
    assert.ok((await snapshotFiles(1)).includes(`${name}.zip`));
  });
});

describe('--dry-run and --output json', () => {
  test('--dry-run prints the plan and touches nothing: no container, no file, no host key recorded', async () => {
    const knownHosts = path.join(tempDir('rke-dry-'), 'known_hosts');
    const env = { RKE_SSH_KNOWN_HOSTS: knownHosts };
    const text = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-dry-run', '--dry-run', '--pki-bundle'], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Dry run: nothing was contacted and nothing was written\./);
    for (const address of lab.addresses) assert.match(text.stdout, new RegExp(`etcd https://${escapeRegExp(address)}:2379`));
    assert.match(text.stdout, /writes \/opt\/rke\/etcd-snapshots\/it-dry-run\.zip and \/opt\/rke\/etcd-snapshots\/pki\.bundle\.tar\.gz/);

    const json = await runCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-dry-run', '--dry-run', '--output', 'json', '--s3', '--bucket-name', 'b', '--folder', 'f'], { env });
    assert.equal(json.code, 0, json.stderr);
    const plan = JSON.parse(json.stdout);
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.nodes.map((node: { address: string }) => node.address), lab.addresses);
    assert.equal(plan.s3.key, 'f/it-dry-run.zip');

    for (let node = 1; node <= lab.addresses.length; node++) assert.equal((await snapshotFiles(node)).some((f) => f.includes('it-dry-run')), false);
    assert.equal(existsSync(knownHosts), false, 'no host was contacted, so no host key was recorded');
    await assertNoSnapshotContainers();
  });

  test('--output json: one document with every node, its file and sha256, and the exit status', async () => {
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-json', '--output', 'json']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const document = JSON.parse(outcome.stdout);
    assert.equal(document.schemaVersion, 1);
    assert.equal(document.exitCode, 0);
    assert.equal(document.nodes.length, lab.addresses.length);
    for (const [index, node] of document.nodes.entries()) {
      assert.equal(node.ok, true);
      const onNode = (await nodeExec(index + 1, 'sha256sum', node.file)).split(' ')[0];
      assert.equal(node.sha256, onNode);
      // Where the time went: every phase measured, and they add up to no more than the whole.
      const phases = ['sshConnectMs', 'dockerChecksMs', 'imageMs', 'containerStartMs', 'agentMs', 'containerRemoveMs'];
      assert.deepEqual(Object.keys(node.timings).sort(), [...phases].sort());
      const sum = phases.reduce((total, phase) => total + node.timings[phase], 0);
      assert.ok(sum <= node.durationMs, `phases ${sum} ms > total ${node.durationMs} ms`);
      assert.ok(node.agentPeakRssBytes > 0);
    }
  });

  test('--compression standard and none write zips that unzip and etcd accept; none is the largest', async () => {
    const sizes: Record<string, number> = {};
    for (const mode of ['standard', 'none', 'fast']) {
      const name = `it-compress-${mode}`;
      const outcome = await save(['--config', lab.clusterYml, '--name', name, '--compression', mode, '--output', 'json']);
      assert.equal(outcome.code, 0, outcome.stderr);
      const node = JSON.parse(outcome.stdout).nodes[0];
      sizes[mode] = node.size;
      const local = path.join(work, `${name}.zip`);
      await copyFromNode(1, node.file, local);
      assert.match(await unzipTest(local), /No errors detected/);
      const snapshot = path.join(work, `${name}.db`);
      await extractEntry(local, `/backup/${name}`, snapshot);
      assert.ok((await etcdctlSnapshotStatus(snapshot)).revision > 0);
      assert.equal(statSync(snapshot).size, node.snapshotSize + 32, 'the entry is the snapshot and its SHA-256 trailer');
    }
    assert.ok(sizes.none! > sizes.fast! && sizes.fast! >= sizes.standard!, JSON.stringify(sizes));
    await removeNodeSnapshots(lab, 'it-compress-*');
    await assertNoSnapshotContainers();
  });
});

after(async () => {
  if (lab) await assertNoSnapshotContainers();
});

function writeTemp(name: string, text: string): string {
  const file = path.join(tempDir('rke-cfg-'), name);
  writeFileSync(file, text);
  return file;
}
