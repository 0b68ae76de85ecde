/**
 * `snapshot-ls/-rm/-prune/-verify --runtime ssh` on the lab: the nodes' snapshots directory
 * over SFTP and S3 asked from this machine, no Docker involved (a cluster.yml whose
 * docker_socket points nowhere shows it). The answers must be those of the docker runtime's
 * agent containers. Snapshots are named `it-mssh-*`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, removeNodeSnapshots, save, snapshotFiles } from '../support/cli-run.js';
import { labFacts, nodeExec, runCli, tempDir, type CliOutcome, type LabFacts } from '../support/lab.js';
import { listKeys, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';

const DIR = '/opt/rke/etcd-snapshots';
let lab: LabFacts;
let s3: S3LabFacts;
let noDocker: string;
let secretFile: string;

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  await cleanUp();
  // No engine answers there: a run that needed Docker would fail on every node.
  noDocker = clusterFile(lab, 'no-docker', (config) => {
    for (const node of config.nodes) node.docker_socket = '/var/run/no-such-docker.sock';
  });
  secretFile = writeSecretKeyFile(s3, tempDir('rke-mssh-it-'));
});

after(async () => {
  if (lab) {
    await cleanUp();
    await assertNoAgentContainers(lab);
  }
});

async function cleanUp(): Promise<void> {
  await removeNodeSnapshots(lab, 'it-mssh-*');
  for (let node = 1; node <= lab.addresses.length; node++) await nodeExec(node, 'rm', '-rf', '/tmp/it-mssh-outside');
}

async function json(config: string, command: string, ...args: string[]): Promise<{ outcome: CliOutcome; doc: any }> {
  const outcome = await runCli(['etcd', command, '--config', config, '--output', 'json', ...args]);
  try {
    return { outcome, doc: JSON.parse(outcome.stdout) };
  } catch {
    return assert.fail(`stdout of ${command} is not JSON (exit ${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`);
  }
}

/**
 * The copies of it-mssh-* snapshots in an ls document, as both runtimes must report them,
 * by name. SFTP (version 3) carries modification times in whole seconds: compared at that.
 */
function mineOf(doc: any): unknown {
  return doc.snapshots
    .filter((snapshot: any) => snapshot.name.startsWith('it-mssh-'))
    .map((snapshot: any) => ({
      name: snapshot.name,
      missingOn: snapshot.missingOn,
      copies: snapshot.copies.map((copy: any) => ({ ...copy, modified: copy.modified.replace(/\.\d+Z$/, 'Z') })),
    }))
    .sort((a: any, b: any) => a.name.localeCompare(b.name));
}

/** Zip snapshots on node N (regular files, not hidden) other than this test's planted ones. */
async function otherZips(node: number): Promise<number> {
  const out = await nodeExec(node, 'find', DIR, '-maxdepth', '1', '-type', 'f', '-name', '*.zip', '!', '-name', '.*', '!', '-name', 'it-mssh-p*');
  return out.split('\n').filter(Boolean).length;
}

describe('snapshot-ls/-verify/-rm/-prune --runtime ssh', () => {
  test('ls and verify over SFTP report what the agent containers report, with no Docker on the nodes', async () => {
    const saved = await save(['--config', lab.clusterYml, '--name', 'it-mssh-a']);
    assert.equal(saved.code, 0, saved.stderr);
    await nodeExec(2, 'sh', '-c', `printf raw > ${DIR}/it-mssh-raw && chmod 600 ${DIR}/it-mssh-raw`);
    await nodeExec(1, 'sh', '-c', `mkdir -p /tmp/it-mssh-outside && echo secret > /tmp/it-mssh-outside/f && ln -sfn /tmp/it-mssh-outside/f ${DIR}/it-mssh-link.zip`);

    const viaAgent = await json(lab.clusterYml, 'snapshot-ls');
    assert.equal(viaAgent.outcome.code, 0, viaAgent.outcome.stderr);
    const viaSftp = await json(noDocker, 'snapshot-ls', '--runtime', 'ssh');
    assert.equal(viaSftp.outcome.code, 0, viaSftp.outcome.stderr);
    assert.deepEqual(mineOf(viaSftp.doc), mineOf(viaAgent.doc));
    assert.deepEqual(
      viaSftp.doc.locations[0].skipped.filter((s: any) => s.file === 'it-mssh-link.zip'),
      [{ file: 'it-mssh-link.zip', reason: 'a symlink (never followed)' }],
    );
    const dockerless = await json(noDocker, 'snapshot-ls');
    assert.equal(dockerless.outcome.code, 1, 'the docker runtime needs the engine the cluster file names');

    const checkedByAgent = await json(lab.clusterYml, 'snapshot-verify', '--name', 'it-mssh-a');
    assert.equal(checkedByAgent.outcome.code, 0, checkedByAgent.outcome.stderr);
    const checkedOverSftp = await json(noDocker, 'snapshot-verify', '--name', 'it-mssh-a', '--runtime', 'ssh');
    assert.equal(checkedOverSftp.outcome.code, 0, checkedOverSftp.outcome.stderr);
    const copies = (doc: any) => doc.locations.map((l: any) => ({ node: l.node, status: l.status, sha256: l.sha256, revision: l.revision, snapshotSha256: l.snapshotSha256 }));
    assert.deepEqual(copies(checkedOverSftp.doc), copies(checkedByAgent.doc));
    for (const copy of checkedOverSftp.doc.locations) assert.equal(copy.status, 'ok', JSON.stringify(copy));

    // A damaged copy and a symlink are bad copies, named as the agent names them.
    await nodeExec(3, 'truncate', '-s', '-100', `${DIR}/it-mssh-a.zip`);
    const damaged = await json(noDocker, 'snapshot-verify', '--name', 'it-mssh-a', '--runtime', 'ssh');
    assert.equal(damaged.outcome.code, 1, damaged.outcome.stderr);
    const third = damaged.doc.locations.find((l: any) => l.node === lab.addresses[2]);
    assert.equal(third.status, 'bad', JSON.stringify(third));
    assert.match(damaged.outcome.stderr, new RegExp(`^ERROR snapshot it-mssh-a: bad copy on ${lab.addresses[2]!.replace(/\./g, '\\.')}`, 'm'));
    const link = await json(noDocker, 'snapshot-verify', '--name', 'it-mssh-link', '--runtime', 'ssh');
    const first = link.doc.locations.find((l: any) => l.node === lab.addresses[0]);
    assert.equal(first.status, 'bad');
    assert.equal(first.problem, 'it is a symlink (not followed)');
  });

  test('rm removes over SFTP, never through a symlink; prune keeps the newest', async () => {
    // Older than anything else on the nodes, so that a --keep that spares every other zip removes only ours.
    const planted = ['it-mssh-p1', 'it-mssh-p2', 'it-mssh-p3', 'it-mssh-p4'];
    for (const [index, name] of planted.entries()) {
      for (let node = 1; node <= lab.addresses.length; node++) {
        await nodeExec(node, 'sh', '-c', 'printf x > "$1/$2.zip" && chmod 600 "$1/$2.zip" && touch -d "$3" "$1/$2.zip"', 'sh', DIR, name, `199${index}-01-01T00:00:00Z`);
      }
    }
    const removed = await json(noDocker, 'snapshot-rm', '--name', 'it-mssh-a', '--runtime', 'ssh');
    assert.equal(removed.outcome.code, 0, removed.outcome.stderr);
    for (let node = 1; node <= lab.addresses.length; node++) assert.ok(!(await snapshotFiles(node)).includes('it-mssh-a.zip'), `node ${node}`);

    const refused = await json(noDocker, 'snapshot-rm', '--name', 'it-mssh-link', '--runtime', 'ssh');
    assert.equal(refused.outcome.code, 1, refused.outcome.stderr);
    const first = refused.doc.locations.find((l: any) => l.node === lab.addresses[0]);
    assert.deepEqual(first.refused, [{ file: 'it-mssh-link.zip', reason: 'a symlink, not removed' }]);
    assert.equal((await nodeExec(1, 'cat', '/tmp/it-mssh-outside/f')).trim(), 'secret');

    const others = await Promise.all(lab.addresses.map((_, index) => otherZips(index + 1)));
    const keep = Math.max(...others) + 2;
    const pruned = await json(noDocker, 'snapshot-prune', '--keep', String(keep), '--runtime', 'ssh');
    assert.equal(pruned.outcome.code, 0, pruned.outcome.stderr);
    for (const [index, location] of pruned.doc.locations.entries()) {
      const expectedRemoved = planted.slice(0, Math.max(0, planted.length - (keep - others[index]!)));
      assert.deepEqual(location.remove.map((r: any) => [r.name, r.status]).sort(), expectedRemoved.map((name) => [name, 'removed']));
      const left = (await snapshotFiles(index + 1)).filter((file) => file.startsWith('it-mssh-p')).sort();
      assert.deepEqual(left, planted.filter((name) => !expectedRemoved.includes(name)).map((name) => `${name}.zip`));
      assert.equal(await otherZips(index + 1), others[index], 'no other snapshot was removed');
    }
  });

  test('--s3 lists the bucket from this machine; without credentials here, one line says where they are looked for', async () => {
    const folder = `it-mssh/${Date.now()}`;
    const s3Args = ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder];
    const saved = await save(['--config', lab.clusterYml, '--name', 'it-mssh-s3', ...s3Args, '--access-key', s3.accessKey, '--secret-key-file', secretFile]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.deepEqual(await listKeys(s3.bucket, `${folder}/`), [`${folder}/it-mssh-s3.zip`]);

    const listed = await json(noDocker, 'snapshot-ls', '--runtime', 'ssh', ...s3Args, '--access-key', s3.accessKey, '--secret-key-file', secretFile);
    assert.equal(listed.outcome.code, 0, listed.outcome.stderr);
    const inS3 = listed.doc.locations.find((l: any) => l.location === 's3');
    assert.equal(inS3.ok, true, JSON.stringify(inS3));
    assert.equal(inS3.via, undefined, 'asked from this machine, not from a node');
    const copy = listed.doc.snapshots.find((s: any) => s.name === 'it-mssh-s3').copies.find((c: any) => c.location === 's3');
    assert.equal(copy.key, `${folder}/it-mssh-s3.zip`);

    const verified = await json(noDocker, 'snapshot-verify', '--name', 'it-mssh-s3', '--runtime', 'ssh', ...s3Args, '--access-key', s3.accessKey, '--secret-key-file', secretFile);
    assert.equal(verified.outcome.code, 0, verified.outcome.stderr);

    const removed = await json(noDocker, 'snapshot-rm', '--name', 'it-mssh-s3', '--runtime', 'ssh', ...s3Args, '--access-key', s3.accessKey, '--secret-key-file', secretFile);
    assert.equal(removed.outcome.code, 0, removed.outcome.stderr);
    assert.deepEqual(await listKeys(s3.bucket, `${folder}/`), []);

    // No keys anywhere, and the SDK must not look for an instance role (no traffic outside the lab).
    const home = tempDir('rke-mssh-nohome-');
    const keyless = await runCli(['etcd', 'snapshot-ls', '--config', noDocker, '--runtime', 'ssh', ...s3Args], {
      env: { HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: path.join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none') },
    });
    assert.equal(keyless.code, 1, keyless.stderr);
    assert.match(keyless.stderr, /no S3 credentials on this machine \(--runtime ssh uploads from here, not from the nodes\)/);
  });
});
