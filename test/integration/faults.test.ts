/**
 * The fault matrix on the lab (docs/reliability.md): each case breaks one thing and checks
 * the exit status, the operator's message, that no agent container is left on any node,
 * that every file under a final snapshot name is a complete, valid snapshot, and that the
 * other nodes' results are intact.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { assertNoAgentContainers, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import {
  copyFromNode,
  followerNode,
  labFacts,
  labFault,
  waitForNoContainer,
  waitForRunningContainer,
  nodeDocker,
  nodeExec,
  startCli,
  waitForHealthyCluster,
  tempDir,
  type CliOutcome,
  type LabFacts,
} from '../support/lab.js';
import { etcdctlSnapshotStatus, extractEntry, unzipTest } from '../support/snapshot-check.js';

let lab: LabFacts;
let work: string;

before(async () => {
  lab = await labFacts();
  work = tempDir('rke-faults-');
  await removeNodeSnapshots(lab, 'it-flt-*');
});

after(async () => {
  await removeNodeSnapshots(lab, 'it-flt-*');
});

/** Every `it-flt-*.zip` on every node is a whole zip whose snapshot passes etcd's own check. */
async function assertFinalSnapshotsValid(): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) {
    for (const file of await snapshotFiles(node)) {
      if (!/^it-flt-.*\.zip$/.test(file)) continue;
      const local = path.join(work, `node${node}-${file}`);
      await copyFromNode(node, `/opt/rke/etcd-snapshots/${file}`, local);
      await unzipTest(local);
      const name = file.replace(/\.zip$/, '');
      const raw = path.join(work, `node${node}-${name}.db`);
      await extractEntry(local, `/backup/${name}`, raw);
      await etcdctlSnapshotStatus(raw);
    }
  }
}

async function assertCaseInvariants(): Promise<void> {
  await assertNoAgentContainers(lab);
  await assertFinalSnapshotsValid();
}

/**
 * Runs snapshot-save while etcd is paused on a follower node, so that node's snapshot
 * container hangs; `during` acts once it is running. etcd is unpaused whatever happens.
 */
async function whileSnapshotHangs(
  name: string,
  during: (run: ReturnType<typeof startCli>, node: number) => Promise<void>,
): Promise<{ outcome: CliOutcome; node: number }> {
  const node = await followerNode(lab.addresses);
  await nodeDocker(node, 'pause', 'etcd');
  try {
    const run = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', name]);
    await waitForRunningContainer(node, 'etcd-snapshot-once');
    await during(run, node);
    return { outcome: await run.outcome, node };
  } finally {
    await nodeDocker(node, 'unpause', 'etcd');
    await waitForHealthyCluster();
  }
}

/** What the operator saw, printed under the test (the "observed" column of docs/reliability.md). */
function observed(t: TestContext, outcome: CliOutcome): void {
  const lines = (outcome.stdout + outcome.stderr).split('\n').filter((line) => /^\s+\S+: |^(ERROR|WARN) /.test(line));
  t.diagnostic(`exit ${outcome.code ?? outcome.signal}; ${lines.map((line) => line.trim()).join(' | ')}`);
}

const row = (outcome: CliOutcome, node: number) => tableRow(outcome.stdout, lab.addresses[node - 1]!);
const others = (node: number) => [1, 2, 3].filter((n) => n !== node);

/** Until /opt/rke/etcd-snapshots/FILE exists on node N. */
async function waitForSnapshotFile(node: number, file: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await snapshotFiles(node)).includes(file)) {
    if (Date.now() > deadline) throw new Error(`${file} never appeared on node ${node} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

describe('fault matrix', () => {
  test('NAME.zip pre-existing as a symlink: refused, and --overwrite replaces the link, never writes through it', async (t) => {
    const target = '/opt/rke/it-flt-link-target';
    const link = '/opt/rke/etcd-snapshots/it-flt-link.zip';
    await nodeExec(1, 'sh', '-c', `printf original > ${target} && ln -sfn ${target} ${link}`);
    try {
      const refused = await save(['--config', lab.clusterYml, '--name', 'it-flt-link']);
      observed(t, refused);
      assert.equal(refused.code, 0, refused.stderr);
      assert.match(row(refused, 1), /FAILED/);
      assert.match(refused.stdout, /\/opt\/rke\/etcd-snapshots\/it-flt-link\.zip already exists/);
      for (const node of others(1)) assert.match(row(refused, node), /\sok\s/);
      assert.equal(await nodeExec(1, 'cat', target), 'original');

      const replaced = await save(['--config', lab.clusterYml, '--name', 'it-flt-link', '--overwrite']);
      assert.equal(replaced.code, 0, replaced.stderr);
      assert.match(row(replaced, 1), /\sok\s/);
      assert.equal(await nodeExec(1, 'cat', target), 'original', 'the symlink target is untouched');
      assert.equal((await nodeExec(1, 'stat', '-c', '%F %a', link)).trim(), 'regular file 600');
    } finally {
      await nodeExec(1, 'rm', '-f', target, link);
    }
    await assertCaseInvariants();
  });

  test('/opt/rke/etcd-snapshots full on a node: "no space" for that node, nothing partial, the others fine', async (t) => {
    const full = 2;
    await nodeExec(full, 'mount', '-t', 'tmpfs', '-o', 'size=4k,mode=0700', 'rke-it-full', '/opt/rke/etcd-snapshots');
    let outcome: CliOutcome;
    try {
      outcome = await save(['--config', lab.clusterYml, '--name', 'it-flt-full']);
      assert.deepEqual(await snapshotFiles(full), [], 'no partial or temporary file left on the full node');
    } finally {
      await nodeExec(full, 'umount', '/opt/rke/etcd-snapshots');
    }
    observed(t, outcome);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, full), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`${escapeRegExp(lab.addresses[full - 1]!)}: .*no space left`, 'i'));
    for (const node of others(full)) assert.match(row(outcome, node), /\sok\s/);
    await assertCaseInvariants();
  });

  test('two runs at once: the second is told the snapshot is already running on that host, the first is unharmed', async (t) => {
    const busy = await followerNode(lab.addresses);
    await nodeDocker(busy, 'pause', 'etcd');
    let first: Promise<CliOutcome>;
    try {
      first = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-flt-first']).outcome;
      await waitForRunningContainer(busy, 'etcd-snapshot-once');
      // The first run is then busy on that node only once its other nodes are done: their zip is
      // written and their container gone (a node it has not reached yet has no container either).
      for (const node of others(busy)) {
        await waitForSnapshotFile(node, 'it-flt-first.zip');
        await waitForNoContainer(node, 'etcd-snapshot-once');
      }
      const second = await save(['--config', lab.clusterYml, '--name', 'it-flt-second']);
      observed(t, second);
      assert.equal(second.code, 0, second.stderr);
      assert.match(row(second, busy), /FAILED/);
      assert.match(second.stdout, new RegExp(`already running on host ${escapeRegExp(lab.addresses[busy - 1]!)}`));
      for (const node of others(busy)) assert.match(row(second, node), /\sok\s/);
    } finally {
      await nodeDocker(busy, 'unpause', 'etcd');
    }
    const firstOutcome = await first;
    assert.equal(firstOutcome.code, 0, firstOutcome.stderr);
    for (const node of [1, 2, 3]) assert.match(row(firstOutcome, node), /\sok\s/);
    await waitForHealthyCluster();
    await assertCaseInvariants();
  });

  test('quorum lost (2 of 3 members stopped): the survivor fails its health check, the run fails', async (t) => {
    const survivor = 1;
    for (const node of others(survivor)) await nodeDocker(node, 'stop', 'etcd');
    let outcome: CliOutcome;
    try {
      outcome = await save(['--config', lab.clusterYml, '--name', 'it-flt-quorum']);
    } finally {
      for (const node of others(survivor)) await nodeDocker(node, 'start', 'etcd');
      await waitForHealthyCluster(120_000);
    }
    observed(t, outcome);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stdout, new RegExp(`${escapeRegExp(lab.addresses[survivor - 1]!)}: .*etcd at https://\\S+ is not healthy`));
    for (const node of others(survivor)) {
      assert.match(outcome.stdout, new RegExp(`etcd is not running on host \\[${escapeRegExp(lab.addresses[node - 1]!)}\\]`));
    }
    assert.match(outcome.stderr, /ERROR no etcd node produced a snapshot/);
    for (const node of [1, 2, 3]) assert.equal((await snapshotFiles(node)).some((f) => f.includes('it-flt-quorum')), false);
    await assertCaseInvariants();
  });

  test('Docker engine stopped on a node: that node says Docker is unreachable, the others are fine', async (t) => {
    const stopped = 3;
    await labFault('dockerd-stop', stopped);
    let outcome: CliOutcome;
    try {
      outcome = await save(['--config', lab.clusterYml, '--name', 'it-flt-nodocker']);
    } finally {
      await labFault('dockerd-start', stopped);
      await waitForHealthyCluster(120_000);
    }
    observed(t, outcome);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, stopped), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`${escapeRegExp(lab.addresses[stopped - 1]!)}: cannot reach Docker at /var/run/docker\\.sock`));
    for (const node of others(stopped)) assert.match(row(outcome, node), /\sok\s/);
    await assertCaseInvariants();
  });

  test('SSH sessions cut mid-snapshot: the node is reported, and its container still removes itself', async (t) => {
    const { outcome, node: cut } = await whileSnapshotHangs('it-flt-sshcut', (_run, node) => labFault('ssh-drop', node));
    observed(t, outcome);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, cut), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`the SSH connection to host ${escapeRegExp(lab.addresses[cut - 1]!)} was lost; .*AutoRemove`));
    assert.ok(outcome.ms < 100_000, `noticed the lost connection only after ${outcome.ms} ms (the run timeout is 120 s)`);
    for (const node of others(cut)) assert.match(row(outcome, node), /\sok\s/);
    // The engine's AutoRemove takes the container away once the agent is done.
    await waitForNoContainer(cut, 'etcd-snapshot-once');
    await assertCaseInvariants();
  });

  test('SIGTERM during a snapshot removes the containers and exits 143', async (t) => {
    const { outcome, node: frozen } = await whileSnapshotHangs('it-flt-sigterm', async (run) => {
      run.child.kill('SIGTERM');
    });
    observed(t, outcome);
    assert.equal(outcome.code, 143, outcome.stderr);
    assert.match(outcome.stderr, /SIGTERM received/);
    assert.equal((await snapshotFiles(frozen)).some((f) => f.includes('it-flt-sigterm')), false);
    await assertCaseInvariants();
  });
});
