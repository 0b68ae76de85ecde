/**
 * A dependency dies or goes silent while a run is under way (docs/reliability.md, "mid-run"):
 * the node's Docker engine, the network to a node or to the bastion, etcd, the S3 server, the
 * agent container, the CLI itself. Each case asserts how soon the node fails, the operator's
 * message, the exit status, that the other nodes' snapshots are whole, that no container or
 * stray file is left once the dependency is back, and that the next run succeeds unaided.
 *
 * The agents run with `--agent-cpus 0.1 --compression standard` on a database of about
 * 20 MiB, so that a snapshot lasts tens of seconds and a fault lands in the middle of it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { bastionDown, bastionFault, bastionHostEntry, bastionUp, behindBastion, type BastionLab } from '../support/bastion-lab.js';
import { assertNoAgentContainers, clusterFile, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import {
  REPO_ROOT,
  copyFromNode,
  followerNode,
  labEtcdctl,
  labFacts,
  labFault,
  nodeDocker,
  nodeExec,
  outputShows,
  runCli,
  startCli,
  waitForHealthyCluster,
  waitForNoContainer,
  tempDir,
  type CliOutcome,
  type LabFacts,
} from '../support/lab.js';
import { aws, listKeys, pendingUploadIdsOf, rgw, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { etcdctlSnapshotStatus, extractEntry, unzipTest } from '../support/snapshot-check.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SLOW = ['--agent-cpus', '0.1', '--compression', 'standard'];
const FILL_KEYS = 20;

let lab: LabFacts;
let work: string;

before(async () => {
  lab = await labFacts();
  work = tempDir('rke-midrun-');
  await removeNodeSnapshots(lab, '*it-mid-*');
  // ~20 MiB of values that deflate poorly (base64 of random bytes), one MiB per key.
  const value = path.join(work, 'value');
  await run('bash', ['-c', `head -c 750000 /dev/urandom | base64 -w0 > ${value}`]);
  for (let i = 0; i < FILL_KEYS; i++) await run('bash', ['-c', `bash ${REPO_ROOT}/lab/lab.sh etcdctl put midrun/${i} < ${value}`]);
});

after(async () => {
  if (!lab) return;
  await labEtcdctl('del', '--prefix', 'midrun/');
  const revision = /"revision":(\d+)/.exec(await labEtcdctl('endpoint', 'status', '-w', 'json'))?.[1];
  if (revision) await labEtcdctl('compact', revision);
  await labEtcdctl('defrag', '--cluster');
  await removeNodeSnapshots(lab, '*it-mid-*');
});

const row = (outcome: CliOutcome, node: number) => tableRow(outcome.stdout, lab.addresses[node - 1]!);
const others = (node: number) => [1, 2, 3].filter((n) => n !== node);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the operator saw and how long it took, printed under the test (docs/reliability.md's "observed"). */
function observed(t: TestContext, outcome: CliOutcome, detectedMs?: number): void {
  const lines = (outcome.stdout + outcome.stderr).split('\n').filter((line) => /^\s+\S+: |^(ERROR|WARN) /.test(line));
  const detected = detectedMs === undefined ? '' : `detected after ${(detectedMs / 1000).toFixed(1)} s; `;
  t.diagnostic(`${detected}exit ${outcome.code ?? outcome.signal}; ${lines.map((line) => line.trim()).join(' | ')}`);
}

/** Until the node's directory holds a temporary file of NAME.zip with at least `minBytes` (the agent is writing). */
async function waitForTemporaryFile(node: number, name: string, minBytes = 1, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await nodeExec(node, 'find', '/opt/rke/etcd-snapshots', '-maxdepth', '1', '-name', `.${name}.zip.tmp-*`, '-size', `+${minBytes - 1}c`);
    const found = out.split('\n').find(Boolean);
    if (found) return path.basename(found);
    if (Date.now() > deadline) throw new Error(`no temporary file of ${name}.zip with ${minBytes}+ bytes on node ${node} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Milliseconds from `since` until the CLI's plain progress (on stderr) shows `pattern` (rejects when the CLI ends first). */
function whenOutputShows(child: ReturnType<typeof startCli>['child'], pattern: RegExp, since: () => number): Promise<number> {
  return outputShows(child, pattern).then(() => Date.now() - since());
}

/** Every NAME.zip on the given nodes is a whole zip whose snapshot passes etcd's own check; no temporary file of NAME. */
async function assertCopiesValid(name: string, nodes: number[]): Promise<void> {
  for (const node of nodes) {
    const files = await snapshotFiles(node);
    assert.ok(files.includes(`${name}.zip`), `node ${node} has no ${name}.zip: ${files.join(', ')}`);
    assert.deepEqual(files.filter((file) => file.startsWith(`.${name}.zip.tmp-`)), [], `node ${node} kept a temporary file`);
    const local = path.join(work, `node${node}-${name}.zip`);
    await copyFromNode(node, `/opt/rke/etcd-snapshots/${name}.zip`, local);
    await unzipTest(local);
    const raw = path.join(work, `node${node}-${name}.db`);
    await extractEntry(local, `/backup/${name}`, raw);
    await etcdctlSnapshotStatus(raw);
  }
}

async function assertNothingOf(name: string, node: number): Promise<void> {
  const files = (await snapshotFiles(node)).filter((file) => file.includes(name));
  assert.deepEqual(files, [], `node ${node} holds ${files.join(', ')}`);
}

/** Recovery: with the dependency back, a plain run on the same cluster succeeds on every node. */
async function assertNextRunSucceeds(name: string, args: string[] = ['--config', lab.clusterYml], addresses = lab.addresses): Promise<void> {
  const outcome = await save([...args, '--name', name]);
  assert.equal(outcome.code, 0, outcome.stdout + outcome.stderr);
  for (const address of addresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
}

/** After a node failed: nothing of NAME on it, the others' copies whole, no container left, and the next run succeeds. */
async function assertFailedAloneAndRecovers(name: string, node: number): Promise<void> {
  await assertNothingOf(name, node);
  await assertCopiesValid(name, others(node));
  await assertNoAgentContainers(lab);
  await assertNextRunSucceeds(`${name}-next`);
}

/** snapshot-save of the lab cluster with slow agents (see the top of this file). */
const startSlowSave = (name: string, config = lab.clusterYml) => startCli(['etcd', 'snapshot-save', '--config', config, '--name', name, ...SLOW]);

/** The CLI's plain progress line saying that `address` failed. */
const failedLine = (address: string) => new RegExp(`\\[${escapeRegExp(address)}\\] progress: failed`);

describe('the Docker engine lost mid-snapshot', () => {
  test('dockerd killed, the agent finishes under containerd: noticed within seconds, the copy verified over SSH, the row ok', async (t) => {
    const node = 2;
    const name = 'it-mid-engine-kill';
    const cli = startSlowSave(name);
    let killedAt = 0;
    const detected = whenOutputShows(cli.child, new RegExp(`\\[${escapeRegExp(lab.addresses[node - 1]!)}\\] progress: verify`), () => killedAt);
    detected.catch(() => undefined);
    let outcome: CliOutcome;
    try {
      await waitForTemporaryFile(node, name);
      await labFault('dockerd-kill', node);
      killedAt = Date.now();
      outcome = await cli.outcome;
    } finally {
      await labFault('dockerd-start', node);
      await waitForHealthyCluster(120_000);
    }
    const detectedMs = await detected;
    observed(t, outcome, detectedMs);
    assert.ok(detectedMs <= 20_000, `the lost engine was noticed only after ${detectedMs} ms`);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, node), /\sok\s/);
    assert.match(
      outcome.stderr + outcome.stdout,
      new RegExp(`lost the Docker engine on host ${escapeRegExp(lab.addresses[node - 1]!)} during the snapshot \\(.*\\); the agent finished on its own, and /opt/rke/etcd-snapshots/${name}\\.zip was verified over SSH`),
    );
    assert.doesNotMatch(outcome.stdout + outcome.stderr, /did not finish within|could not remove/);
    await assertCopiesValid(name, [1, 2, 3]);
    await assertNoAgentContainers(lab);
    await assertNextRunSucceeds('it-mid-engine-kill-next');
  });

  test('dockerd killed and restarted, the agent killed with it: FAILED within seconds, its temporary file removed', async (t) => {
    const node = 3;
    const name = 'it-mid-engine-restart';
    const cli = startSlowSave(name);
    let killedAt = 0;
    const failed = whenOutputShows(cli.child, failedLine(lab.addresses[node - 1]!), () => killedAt);
    failed.catch(() => undefined);
    let outcome: CliOutcome;
    try {
      await waitForTemporaryFile(node, name, 1024);
      await labFault('dockerd-kill', node);
      killedAt = Date.now();
      await labFault('dockerd-start', node); // kills what the old engine's containerd still ran: the agent too
      outcome = await cli.outcome;
    } finally {
      await waitForHealthyCluster(120_000);
    }
    const tookMs = await failed;
    observed(t, outcome, tookMs);
    assert.ok(tookMs <= 30_000, `the node failed only ${tookMs} ms after its engine was killed`);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, node), /FAILED/);
    assert.match(
      outcome.stdout,
      new RegExp(`lost the Docker engine on host ${escapeRegExp(lab.addresses[node - 1]!)} during the snapshot \\(.*\\); the agent is gone too .* its temporary file \\.${name}\\.zip\\.tmp-[0-9a-f]{12} was removed`),
    );
    for (const other of others(node)) assert.match(row(outcome, other), /\sok\s/);
    await assertFailedAloneAndRecovers(name, node);
  });
});

describe('the network goes silent (packets dropped, no RST)', () => {
  let bastion: BastionLab;
  let config: string;

  before(async () => {
    bastion = await bastionUp(lab);
    config = clusterFile(lab, 'midrun-bastion', (cluster) => {
      behindBastion(bastion, cluster);
      cluster.bastion_host = bastionHostEntry(bastion);
    });
  });

  after(async () => {
    if (bastion) await bastionFault(lab, 'restore').catch(() => undefined);
    await bastionDown(lab);
  });

  /** Silences node N behind the bastion once `ready` settles; the CLI's outcome and how long after the silence the node failed. */
  async function silenceNode(cli: ReturnType<typeof startCli>, node: number, ready: () => Promise<unknown>): Promise<{ outcome: CliOutcome; tookMs: number }> {
    let silencedAt = 0;
    const failed = whenOutputShows(cli.child, failedLine(bastion.nodeAddresses[node - 1]!), () => silencedAt);
    failed.catch(() => undefined);
    let outcome: CliOutcome;
    try {
      await ready();
      await bastionFault(lab, 'silence', node);
      silencedAt = Date.now();
      outcome = await cli.outcome;
    } finally {
      await bastionFault(lab, 'restore');
    }
    return { outcome, tookMs: await failed };
  }

  test('one node silent mid-snapshot: it fails within 30 s through SSH keepalives, the others finish', async (t) => {
    const node = 1;
    const name = 'it-mid-silent-node';
    const address = bastion.nodeAddresses[node - 1]!;
    const cli = startSlowSave(name, config);
    const { outcome, tookMs } = await silenceNode(cli, node, () => waitForTemporaryFile(node, name));
    observed(t, outcome, tookMs);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(tableRow(outcome.stdout, address), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`the SSH connection to host ${escapeRegExp(address)} was lost: it stopped answering \\(no reply to SSH keepalives for 20 s`));
    for (const other of others(node)) assert.match(tableRow(outcome.stdout, bastion.nodeAddresses[other - 1]!), /\sok\s/);
    assert.ok(tookMs <= 30_000, `the silent node failed only ${tookMs} ms after the silence`);
    // Its agent went on alone and the engine removed its container.
    await waitForNoContainer(node, 'etcd-snapshot-once');
    await assertCopiesValid(name, [1, 2, 3]);
    await assertNoAgentContainers(lab);
    await assertNextRunSucceeds('it-mid-silent-node-next', ['--config', config], bastion.nodeAddresses);
  });

  test('one node silent while its agent image loads: it fails within 30 s, and the next run loads the image again', async (t) => {
    const node = 3;
    const address = bastion.nodeAddresses[node - 1]!;
    const images = (await nodeDocker(node, 'images', '--filter', 'reference=rke-snapshot-agent*', '-q')).split('\n').filter(Boolean);
    if (images.length > 0) await nodeDocker(node, 'rmi', '-f', ...new Set(images));
    const cli = startCli(['etcd', 'snapshot-save', '--config', config, '--name', 'it-mid-silent-image']);
    const loading = whenOutputShows(cli.child, new RegExp(`\\[${escapeRegExp(address)}\\] progress: image`), () => 0);
    const { outcome, tookMs } = await silenceNode(cli, node, () => loading);
    observed(t, outcome, tookMs);
    assert.ok(tookMs <= 30_000, `the silent node failed only ${tookMs} ms after the silence`);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(tableRow(outcome.stdout, address), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`the SSH connection to host ${escapeRegExp(address)} was lost: it stopped answering`));
    for (const other of others(node)) assert.match(tableRow(outcome.stdout, bastion.nodeAddresses[other - 1]!), /\sok\s/);
    await assertNothingOf('it-mid-silent-image', node);
    await assertNoAgentContainers(lab);
    await assertNextRunSucceeds('it-mid-silent-image-next', ['--config', config], bastion.nodeAddresses);
  });

  test('one node silent before the run: it fails at connect within 30 s, the others finish', async (t) => {
    const node = 2;
    await bastionFault(lab, 'silence', node);
    let outcome: CliOutcome;
    try {
      outcome = await save(['--config', config, '--name', 'it-mid-silent-connect']);
    } finally {
      await bastionFault(lab, 'restore');
    }
    observed(t, outcome);
    const address = bastion.nodeAddresses[node - 1]!;
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.ok(outcome.ms <= 30_000, `took ${outcome.ms} ms`);
    assert.match(outcome.stdout, new RegExp(`${escapeRegExp(address)}: .*${escapeRegExp(address)}.* within 15 s`));
    for (const other of others(node)) assert.match(tableRow(outcome.stdout, bastion.nodeAddresses[other - 1]!), /\sok\s/);
    await assertNothingOf('it-mid-silent-connect', node);
  });

  test('the bastion silent mid-snapshot: every node behind it fails within 30 s, naming the bastion; the next run succeeds', async (t) => {
    const name = 'it-mid-silent-bastion';
    const cli = startSlowSave(name, config);
    let outcome: CliOutcome;
    let silencedAt = 0;
    try {
      for (const node of [1, 2, 3]) await waitForTemporaryFile(node, name);
      await bastionFault(lab, 'silence', 'bastion');
      silencedAt = Date.now();
      outcome = await cli.outcome;
    } finally {
      await bastionFault(lab, 'restore');
    }
    const tookMs = Date.now() - silencedAt;
    observed(t, outcome, tookMs);
    assert.ok(tookMs <= 30_000, `the nodes failed only ${tookMs} ms after the bastion went silent`);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const address of bastion.nodeAddresses) {
      assert.match(
        outcome.stdout,
        new RegExp(`host ${escapeRegExp(address)}: the SSH connection to bastion host ${escapeRegExp(bastion.address)} was lost: it stopped answering \\(no reply to SSH keepalives`),
      );
    }
    // The agents finished on their own.
    for (const node of [1, 2, 3]) await waitForNoContainer(node, 'etcd-snapshot-once');
    await assertCopiesValid(name, [1, 2, 3]);
    await assertNoAgentContainers(lab);
    await assertNextRunSucceeds('it-mid-silent-bastion-next', ['--config', config], bastion.nodeAddresses);
  });
});

describe('etcd, the agent and the CLI dying mid-run', () => {
  test('etcd killed mid-stream: "etcd … stopped answering during the snapshot (… after N MiB received)", no file under any name', async (t) => {
    const node = await followerNode(lab.addresses);
    const name = 'it-mid-etcd-dies';
    const cli = startSlowSave(name);
    let outcome: CliOutcome;
    try {
      await waitForTemporaryFile(node, name, 1024);
      await nodeDocker(node, 'kill', 'etcd');
      outcome = await cli.outcome;
    } finally {
      await nodeDocker(node, 'start', 'etcd');
      await waitForHealthyCluster(120_000);
    }
    observed(t, outcome);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, node), /FAILED/);
    assert.match(
      outcome.stdout,
      new RegExp(`host ${escapeRegExp(lab.addresses[node - 1]!)}: etcd at https://${escapeRegExp(lab.addresses[node - 1]!)}:2379 stopped answering during the snapshot \\(connection (reset|closed) after [\\d.]+ MiB received\\)`),
    );
    await assertFailedAloneAndRecovers(name, node);
  });

  test('the agent container killed (docker kill): the node fails naming exit status 137, its temporary file is removed', async (t) => {
    const node = 1;
    const name = 'it-mid-agent-killed';
    const cli = startSlowSave(name);
    await waitForTemporaryFile(node, name, 1024);
    await nodeDocker(node, 'kill', 'etcd-snapshot-once');
    const outcome = await cli.outcome;
    observed(t, outcome);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(row(outcome, node), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`the snapshot container on host ${escapeRegExp(lab.addresses[node - 1]!)} was killed \\(exit status 137`));
    assert.match(outcome.stderr, new RegExp(`removed the killed snapshot's temporary file\\(s\\): /opt/rke/etcd-snapshots/\\.${name}\\.zip\\.tmp-`));
    await assertFailedAloneAndRecovers(name, node);
  });

  test('the CLI killed with SIGKILL: the agents finish on their own, ls and verify show the copies, a dead agent\'s stale temporary file is swept by the next run', async (t) => {
    const name = 'it-mid-cli-killed';
    const cli = startSlowSave(name);
    for (const node of [1, 2, 3]) await waitForTemporaryFile(node, name);
    cli.child.kill('SIGKILL');
    const killed = await cli.outcome;
    assert.equal(killed.signal, 'SIGKILL');
    // Node 3's agent dies too (as on a node that reboots): its temporary file stays.
    await nodeDocker(3, 'kill', 'etcd-snapshot-once');
    for (const node of [1, 2, 3]) await waitForNoContainer(node, 'etcd-snapshot-once');
    const leftover = (await snapshotFiles(3)).find((file) => file.startsWith(`.${name}.zip.tmp-`));
    assert.ok(leftover, 'the killed agent left no temporary file to sweep');

    const listing = await runCli(['etcd', 'snapshot-ls', '--config', lab.clusterYml, '--output', 'json']);
    assert.equal(listing.code, 0, listing.stderr);
    const snapshot = (JSON.parse(listing.stdout).snapshots as Array<{ name: string; copies: Array<{ node?: string }> }>).find((entry) => entry.name === name);
    const nodesWithCopy = (snapshot?.copies ?? []).map((copy) => copy.node);
    assert.deepEqual(nodesWithCopy.sort(), [lab.addresses[0]!, lab.addresses[1]!].sort());
    const verified = await runCli(['etcd', 'snapshot-verify', '--config', lab.clusterYml, '--name', name]);
    t.diagnostic(verified.stdout.trim().split('\n').join(' | '));
    assert.match(tableRow(verified.stdout, lab.addresses[0]!), /\sok\s/);
    assert.match(tableRow(verified.stdout, lab.addresses[1]!), /\sok\s/);

    // The next run (another name, as from cron) sweeps the dead agent's file once it is stale;
    // a fresh temporary name of another snapshot (a live writer) and anything not ours stay.
    await nodeExec(3, 'touch', '-d', '-20 minutes', `/opt/rke/etcd-snapshots/${leftover}`);
    await nodeExec(3, 'sh', '-c', 'echo x > /opt/rke/etcd-snapshots/.it-mid-live.zip.tmp-0123456789ab; echo x > /opt/rke/etcd-snapshots/.it-mid-notes.tmp-0123456789ab');
    await nodeExec(3, 'touch', '-d', '-20 minutes', '/opt/rke/etcd-snapshots/.it-mid-notes.tmp-0123456789ab');
    await assertNextRunSucceeds('it-mid-cli-killed-next');
    const after = await snapshotFiles(3);
    assert.equal(after.includes(leftover), false, `${leftover} was not swept`);
    assert.ok(after.includes('.it-mid-live.zip.tmp-0123456789ab'), 'a fresh temporary file of another snapshot was removed');
    assert.ok(after.includes('.it-mid-notes.tmp-0123456789ab'), 'a file that is not ours was removed');
    await assertNoAgentContainers(lab);
  });
});

describe('the S3 server goes silent mid-upload', () => {
  let s3: S3LabFacts;
  let secretFile: string;

  before(async () => {
    s3 = await s3LabFacts();
    secretFile = writeSecretKeyFile(s3, work);
  });

  const s3Args = (folder: string) => [
    '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket,
    '--access-key', s3.accessKey, '--secret-key-file', secretFile, '--folder', folder,
  ];

  test('radosgw stopped (SIGSTOP): the upload fails within the stall bound, its upload id reported, local copies kept; then the id aborts it', async (t) => {
    const name = 'it-mid-s3-silent';
    const folder = `it/mid-silent-${Date.now()}`;
    const key = `${folder}/${name}.zip`;
    const cli = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', name, ...SLOW, ...s3Args(folder)]);
    let pausedAt = 0;
    const uploading = whenOutputShows(cli.child, /progress: upload \S/, () => 0);
    let outcome: CliOutcome;
    try {
      await uploading;
      await rgw('rgw-pause');
      pausedAt = Date.now();
      outcome = await cli.outcome;
    } finally {
      await rgw('rgw-resume');
    }
    const tookMs = Date.now() - pausedAt;
    observed(t, outcome, tookMs);
    assert.ok(tookMs <= 90_000, `the upload failed only ${tookMs} ms after the server went silent`);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stderr, /ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/);
    const all = outcome.stdout + outcome.stderr;
    assert.match(all, new RegExp(`S3 endpoint ${escapeRegExp(s3.endpoint)} stopped answering during the upload of s3://${escapeRegExp(s3.bucket)}/${escapeRegExp(key)}: nothing was accepted for 30 s`));
    assert.match(all, /not trying the other nodes' copies/);
    await assertCopiesValid(name, [1, 2, 3]);
    await assertNoAgentContainers(lab);
    // Once the server answers again: no object, and the upload left behind is the one reported, which its id aborts.
    assert.deepEqual(await listKeys(s3.bucket, folder), []);
    const pending = await pendingUploadIdsOf(s3.bucket, key);
    const reported = /upload id (\S+)\) could not be aborted/.exec(all)?.[1];
    if (reported !== undefined) {
      assert.deepEqual(pending, [reported]);
      await aws('s3api', 'abort-multipart-upload', '--bucket', s3.bucket, '--key', key, '--upload-id', reported);
    } else {
      // A single PUT (no multipart upload) leaves nothing to abort.
      assert.deepEqual(pending, []);
    }
    assert.deepEqual(await pendingUploadIdsOf(s3.bucket, key), []);
    // Recovery: the next run uploads.
    const next = await save(['--config', lab.clusterYml, '--name', `${name}-next`, ...s3Args(folder)]);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/${name}-next.zip`]);
  });
});
