/**
 * The census on the lab: live keys per Kubernetes resource read from each copy's bbolt
 * database (no restore), by snapshot-save (its JSON) and snapshot-verify (node copies
 * through the agent and over SFTP, the S3 copy), checked against what etcd itself lists
 * after writes, deletes, a re-creation, updates and a compaction; and copies whose census
 * differs: at another revision (said), at the same revision (differs, fails).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { countKey, sortedResources, type Census } from '../../src/model/census.js';
import { assertNoAgentContainers, escapeRegExp, removeNodeSnapshots, save } from '../support/cli-run.js';
import { copyFromNode, labFacts, nodeExec, runCli, tempDir, type CliOutcome, type LabFacts } from '../support/lab.js';
import { s3LabFacts, writeSecretKeyFile, type S3LabFacts } from '../support/s3-lab.js';
import { extractWithPython, zipWithPython } from '../support/zip-tools.js';

const run = promisify(execFile);
const DIR = '/opt/rke/etcd-snapshots';
const NS = 'it-census';
let lab: LabFacts;
let s3: S3LabFacts;
let work: string;
let secretFile: string;

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  work = tempDir('rke-census-it-');
  secretFile = writeSecretKeyFile(s3, work);
  await removeNodeSnapshots(lab, 'it-census-*');
  await etcdctl('del', '--prefix', `/registry/pods/${NS}/`);
});

after(async () => {
  if (!lab) return;
  await removeNodeSnapshots(lab, 'it-census-*');
  for (const prefix of [`/registry/pods/${NS}/`, `/registry/secrets/${NS}/`, `/registry/configmaps/${NS}/`, `/registry/example.com/widgets/${NS}/`, `${NS}/`]) {
    await etcdctl('del', '--prefix', prefix).catch(() => undefined);
  }
});

/** etcdctl on this machine against node 1's member (the lab's CA and node certificate). */
const etcdctlArgs = (...args: string[]) => ['--endpoints', `https://${lab.addresses[0]}:2379`, '--cacert', lab.ca, '--cert', lab.nodeCert, '--key', lab.nodeKey, '--command-timeout', '30s', ...args];
const ETCDCTL_ENV = { ...process.env, ETCDCTL_API: '3' };

async function etcdctl(...args: string[]): Promise<string> {
  const { stdout } = await run('etcdctl', etcdctlArgs(...args), { env: ETCDCTL_ENV, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Puts many keys in few requests (transactions of 100 puts). */
async function putAll(entries: Array<[key: string, value: string]>): Promise<void> {
  for (let at = 0; at < entries.length; at += 100) {
    const puts = entries.slice(at, at + 100).map(([key, value]) => `put ${key} ${value}`);
    const child = execFile('etcdctl', etcdctlArgs('txn'), { env: ETCDCTL_ENV });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    child.stdin?.end(`\n${puts.join('\n')}\n\n\n`);
    const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
    assert.equal(code, 0, `etcdctl txn: ${stderr}`);
  }
}

/** The census etcd itself gives: every live key (etcdctl get --prefix --keys-only), counted by resource. */
async function etcdCensus(): Promise<Census> {
  const keys = (await etcdctl('get', '', '--prefix', '--keys-only')).split('\n').filter(Boolean);
  const resources: Record<string, number> = {};
  for (const key of keys) countKey(resources, key);
  return { revision: await memberRevision(), keys: keys.length, resources: sortedResources(resources) };
}

async function memberRevision(): Promise<number> {
  const status = JSON.parse(await etcdctl('endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>;
  return status[0]!.Status.header.revision;
}

function s3Args(folder: string): string[] {
  return ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--access-key', s3.accessKey, '--secret-key-file', secretFile, '--folder', folder];
}

async function json(command: string, ...args: string[]): Promise<{ outcome: CliOutcome; doc: any }> {
  const outcome = await runCli(['etcd', command, '--config', lab.clusterYml, '--output', 'json', ...args]);
  try {
    return { outcome, doc: JSON.parse(outcome.stdout) };
  } catch {
    return assert.fail(`stdout of ${command} is not JSON (exit ${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`);
  }
}

/** NAME.zip in the rke-tools layout around `db` (an etcd snapshot with its trailer), installed on node N as NAME.zip. */
async function installCopy(node: number, name: string, db: Buffer): Promise<void> {
  const dbFile = path.join(work, `${name}-${node}.db`);
  writeFileSync(dbFile, db);
  const zip = path.join(work, `${name}-${node}.zip`);
  await zipWithPython(zip, [[`/backup/${name}`, dbFile]]);
  await nodeExec(node, 'install', '-m', '600', zip, `${DIR}/${name}.zip`);
}

async function snapshotOf(node: number, name: string): Promise<Buffer> {
  const zip = path.join(work, `${name}-from-${node}.zip`);
  await copyFromNode(node, `${DIR}/${name}.zip`, zip);
  await extractWithPython(zip, `/backup/${name}`, `${zip}.db`);
  return readFileSync(`${zip}.db`);
}

describe('census', () => {
  test('equals what etcd lists, by resource, after deletes, a re-creation, updates and a compaction; on every node, in save, verify (agent, SFTP, S3)', async () => {
    const pods = Array.from({ length: 90 }, (_, i) => `/registry/pods/${NS}/pod-${i}`);
    const secrets = Array.from({ length: 40 }, (_, i) => `/registry/secrets/${NS}/secret-${i}`);
    const configmaps = Array.from({ length: 12 }, (_, i) => `/registry/configmaps/${NS}/cm-${i}`);
    await putAll([
      ...pods.map((key): [string, string] => [key, 'p'.repeat(600)]),
      ...secrets.map((key): [string, string] => [key, 's'.repeat(1500)]),
      ...configmaps.map((key): [string, string] => [key, 'c']),
      [`/registry/example.com/widgets/${NS}/w-1`, 'w'],
      ...Array.from({ length: 5 }, (_, i): [string, string] => [`${NS}/other-${i}`, 'o']),
    ]);
    for (const key of pods.slice(0, 30)) await etcdctl('del', key);
    for (const key of secrets.slice(0, 8)) await etcdctl('del', key);
    for (let update = 0; update < 4; update += 1) await etcdctl('put', pods[40]!, `updated-${update}`);
    await etcdctl('put', pods[3]!, 'recreated');
    await etcdctl('compaction', String(await memberRevision()));
    await etcdctl('del', configmaps[0]!);
    await putAll([[pods[50]!, 'after-compaction'], [secrets[2]!, 'recreated-after-compaction']]);

    const ownPods = (await etcdctl('get', '--prefix', `/registry/pods/${NS}/`, '--keys-only')).split('\n').filter(Boolean);
    assert.equal(ownPods.length, 90 - 30 + 1, "etcd holds the test's pods: 30 deleted, one of them re-created");
    const expected = await etcdCensus();
    const folder = `it-census/${Date.now()}`;
    const saved = await json('snapshot-save', '--name', 'it-census-a', ...s3Args(folder));
    assert.equal(saved.outcome.code, 0, saved.outcome.stderr);
    for (const node of saved.doc.nodes) assert.deepEqual(node.census, expected, `snapshot-save's census, node ${node.address}`);

    const verified = await json('snapshot-verify', '--name', 'it-census-a', ...s3Args(folder));
    assert.equal(verified.outcome.code, 0, verified.outcome.stderr);
    assert.deepEqual(verified.doc.locations.map((l: any) => l.location), ['node', 'node', 'node', 's3']);
    for (const location of verified.doc.locations) assert.deepEqual(location.census, expected, `snapshot-verify's census, ${location.node ?? 's3'}`);
    const overSftp = await json('snapshot-verify', '--name', 'it-census-a', '--runtime', 'ssh');
    assert.equal(overSftp.outcome.code, 0, overSftp.outcome.stderr);
    for (const location of overSftp.doc.locations) assert.deepEqual(location.census, expected, `--runtime ssh, ${location.node}`);

    const table = await runCli(['etcd', 'snapshot-verify', '--config', lab.clusterYml, '--name', 'it-census-a']);
    assert.match(table.stdout, /^LOCATION\s+STATUS\s+SIZE\s+MODIFIED\s+REVISION\s+CENSUS\s+SNAPSHOT SHA256\s+STATE FILE$/m);
    assert.match(table.stdout, new RegExp(`^${escapeRegExp(lab.addresses[0]!)}\\s+ok\\s+.*\\s${expected.revision}\\s+${expected.keys} keys \\(`, 'm'));
    await assertNoAgentContainers(lab);
  });

  test('a copy from another revision (one more secret) is said, naming the resource; one at the same revision with other keys differs and fails', async () => {
    await etcdctl('put', `/registry/secrets/${NS}/one-more`, 'x');
    const later = await save(['--config', lab.clusterYml, '--name', 'it-census-b']);
    assert.equal(later.code, 0, later.stderr);
    // Node 2's it-census-a becomes the later snapshot (one more secret), under the right entry name.
    const original = await snapshotOf(2, 'it-census-a');
    await installCopy(2, 'it-census-a', await snapshotOf(2, 'it-census-b'));
    const mixed = await json('snapshot-verify', '--name', 'it-census-a');
    assert.equal(mixed.outcome.code, 0, mixed.outcome.stderr);
    const [one, two] = mixed.doc.locations;
    assert.equal(two.status, 'ok');
    assert.equal(two.census.revision, one.census.revision + 1);
    assert.match(two.censusNote, new RegExp(`^taken at another revision than the copy on ${escapeRegExp(lab.addresses[0]!)}, ${escapeRegExp(lab.addresses[2]!)}: revision ${one.census.revision + 1} vs ${one.census.revision}; keys ${one.census.keys + 1} vs ${one.census.keys}; secrets ${one.census.resources.secrets + 1} vs ${one.census.resources.secrets}$`));

    // Node 2 has its own copy back; node 3's copy: the same database with one secret's name changed in every record of it (as if the
    // member's database had been damaged before etcd hashed it: the trailer and zip are right).
    const db = await snapshotOf(3, 'it-census-a');
    const body = Buffer.from(db.subarray(0, db.length - 32));
    const from = Buffer.from(`/registry/secrets/${NS}/secret-20`);
    const to = Buffer.from(`/registry/secretz/${NS}/secret-20`);
    let replaced = 0;
    for (let at = body.indexOf(from); at >= 0; at = body.indexOf(from, at + 1)) {
      to.copy(body, at);
      replaced += 1;
    }
    assert.ok(replaced > 0);
    await installCopy(2, 'it-census-a', original);
    await installCopy(3, 'it-census-a', Buffer.concat([body, createHash('sha256').update(body).digest()]));
    const differing = await json('snapshot-verify', '--name', 'it-census-a');
    assert.equal(differing.outcome.code, 1);
    const three = differing.doc.locations[2];
    assert.equal(three.status, 'differs');
    assert.match(
      three.problem,
      new RegExp(`^its census differs from the copy on ${escapeRegExp(lab.addresses[0]!)}, ${escapeRegExp(lab.addresses[1]!)} at the same revision ${one.census.revision}: secrets ${one.census.resources.secrets - 1} vs ${one.census.resources.secrets}; secretz 1 vs 0;`),
    );
    const table = await runCli(['etcd', 'snapshot-verify', '--config', lab.clusterYml, '--name', 'it-census-a']);
    assert.equal(table.code, 1);
    assert.match(table.stdout, new RegExp(`^${escapeRegExp(lab.addresses[2]!)}\\s+DIFFERS\\s`, 'm'));
    assert.match(table.stderr, new RegExp(`ERROR snapshot it-census-a: differing copy on ${escapeRegExp(lab.addresses[2]!)}`));
    const overSftp = await json('snapshot-verify', '--name', 'it-census-a', '--runtime', 'ssh');
    assert.equal(overSftp.doc.locations[2].status, 'differs', '--runtime ssh compares the same way');
    await assertNoAgentContainers(lab);
  });
});
