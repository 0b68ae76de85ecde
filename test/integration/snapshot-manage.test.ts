/**
 * `rke etcd snapshot-ls`, `snapshot-rm`, `snapshot-prune` on the lab: real nodes, real
 * agent containers (etcd-snapshot-ls, etcd-snapshot-rm). Other test files leave their own
 * snapshots on the nodes: these tests only assert about names starting with `it-ls-`
 * (and prune only what is older than everything else, see the prune test).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, escapeRegExp, removeNodeSnapshots, save, snapshotFiles } from '../support/cli-run.js';
import { snapshotStatus } from '../support/etcd.js';
import {
  copyFromNode,
  labEtcdctl,
  labFault,
  labFacts,
  nodeExec,
  runCli,
  tempDir,
  waitForHealthyCluster,
  type CliOutcome,
  type LabFacts,
} from '../support/lab.js';
import { extractWithPython, zipWithPython } from '../support/zip-tools.js';

let lab: LabFacts;
const DIR = '/opt/rke/etcd-snapshots';

before(async () => {
  lab = await labFacts();
  await cleanUp();
});

after(async () => {
  await cleanUp();
});

async function cleanUp(): Promise<void> {
  await removeNodeSnapshots(lab, 'it-ls-*');
  for (let node = 1; node <= lab.addresses.length; node++) await nodeExec(node, 'rm', '-rf', '/tmp/it-ls-outside');
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
  assert.equal(doc.schemaVersion, 1);
  assert.equal(doc.command, command);
  return { outcome, doc };
}

/** A file on node N with the given content and modification time (root, 0600, as the agent writes). */
async function plant(node: number, file: string, time: string, content = `content of ${file}`): Promise<void> {
  await nodeExec(node, 'sh', '-c', 'mkdir -p "$1" && printf %s "$2" > "$1/$3" && chmod 600 "$1/$3" && touch -d "$4" "$1/$3"', 'sh', DIR, content, file, time);
}

/** Zip snapshots on node N (regular files, not hidden) other than this prune test's own. */
async function otherZips(node: number): Promise<number> {
  const out = await nodeExec(node, 'find', DIR, '-maxdepth', '1', '-type', 'f', '-name', '*.zip', '!', '-name', '.*', '!', '-name', 'it-ls-p*');
  return out.split('\n').filter(Boolean).length;
}

const mine = (files: string[]) => files.filter((file) => file.startsWith('it-ls-')).sort();

describe('snapshot-ls', () => {
  test('lists every copy by name with node, size, time and sha256; raw files, symlinks skipped; table and JSON agree', async () => {
    const saved = await save(['--config', lab.clusterYml, '--name', 'it-ls-real']);
    assert.equal(saved.code, 0, saved.stderr);
    await plant(2, 'it-ls-raw', '2001-02-03T04:05:06Z');
    await nodeExec(1, 'sh', '-c', `mkdir -p /tmp/it-ls-outside && echo secret > /tmp/it-ls-outside/f && ln -sfn /tmp/it-ls-outside/f ${DIR}/it-ls-link.zip`);

    const { outcome, doc } = await json('snapshot-ls');
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(doc.locations.map((l: any) => [l.location, l.node, l.ok]), lab.addresses.map((a) => ['node', a, true]));
    const real = doc.snapshots.find((s: any) => s.name === 'it-ls-real');
    assert.ok(real, outcome.stdout);
    assert.deepEqual(real.copies.map((c: any) => c.node), lab.addresses);
    assert.deepEqual(real.missingOn, []);
    for (const [index, copy] of real.copies.entries()) {
      assert.equal(copy.file, `${DIR}/it-ls-real.zip`);
      assert.equal(copy.kind, 'zip');
      const [sha, size] = (await nodeExec(index + 1, 'sh', '-c', `sha256sum ${DIR}/it-ls-real.zip | cut -d' ' -f1; stat -c %s ${DIR}/it-ls-real.zip`)).trim().split('\n');
      assert.equal(copy.sha256, sha);
      assert.equal(copy.size, Number(size));
      assert.ok(Date.now() - Date.parse(copy.modified) < 10 * 60_000, copy.modified);
    }
    const raw = doc.snapshots.find((s: any) => s.name === 'it-ls-raw');
    assert.deepEqual(raw.copies.map((c: any) => [c.node, c.kind, c.modified]), [[lab.addresses[1], 'raw', '2001-02-03T04:05:06.000Z']]);
    assert.deepEqual(raw.missingOn, [lab.addresses[0], lab.addresses[2]]);
    assert.ok(!doc.snapshots.some((s: any) => s.name === 'it-ls-link'), 'a symlink is not a snapshot');
    assert.deepEqual(doc.locations[0].skipped.filter((s: any) => s.file === 'it-ls-link.zip').map((s: any) => s.reason), ['a symlink (never followed)']);

    const table = await cli('snapshot-ls');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^it-ls-real\\s+zip\\s+\\S+Z\\s+.*${lab.addresses.join(', ').replace(/\./g, '\\.')}\\s+-$`, 'm'));
    assert.match(table.stdout, new RegExp(`^it-ls-raw\\s+raw\\s+2001-02-03T04:05:06Z\\s+\\S+ B\\s+${lab.addresses[1]!.replace(/\./g, '\\.')}\\s+`, 'm'));
    assert.match(table.stderr, /WARN \[[\d.]+\] \/opt\/rke\/etcd-snapshots\/it-ls-link\.zip not listed: a symlink/);
    await assertNoAgentContainers(lab);
  });
});

describe('snapshot-rm', () => {
  test('refuses names that are not plain snapshot names, before touching any node', async () => {
    for (const [name, message] of [
      ['../etc/passwd', /must not contain "\/"/],
      ['it-ls-real.zip', /without "\.zip"/],
      ['pki.bundle.tar.gz', /PKI bundle/],
      ['.it-ls-real.zip.tmp-1', /must not start with "\."/],
    ] as const) {
      const outcome = await cli('snapshot-rm', '--name', name);
      assert.equal(outcome.code, 1, name);
      assert.match(outcome.stderr, message);
      assert.equal(outcome.stderr.trim().split('\n').length, 1, outcome.stderr);
      assert.doesNotMatch(outcome.stderr, /\n\s+at /);
    }
    const missing = await cli('snapshot-rm');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--name/);
  });

  test('removes NAME.zip and raw NAME from every node; missing copies are reported, not fatal', async () => {
    await plant(1, 'it-ls-del.zip', '2001-01-01T00:00:00Z');
    await plant(1, 'it-ls-del', '2001-01-01T00:00:00Z');
    await plant(3, 'it-ls-del.zip', '2001-01-01T00:00:00Z');
    await plant(2, 'it-ls-del-other.zip', '2001-01-01T00:00:00Z');
    const { outcome, doc } = await json('snapshot-rm', '--name', 'it-ls-del');
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(doc.name, 'it-ls-del');
    assert.deepEqual(
      doc.locations.map((l: any) => [l.node, l.ok, l.status, l.removed.map((r: any) => r.file).sort()]),
      [
        [lab.addresses[0], true, 'removed', ['it-ls-del', 'it-ls-del.zip']],
        [lab.addresses[1], true, 'missing', []],
        [lab.addresses[2], true, 'removed', ['it-ls-del.zip']],
      ],
    );
    assert.deepEqual(mine(await snapshotFiles(1)).filter((f) => f.startsWith('it-ls-del')), []);
    assert.deepEqual(mine(await snapshotFiles(2)).filter((f) => f.startsWith('it-ls-del')), ['it-ls-del-other.zip']);

    const again = await cli('snapshot-rm', '--name', 'it-ls-del');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^LOCATION\s+STATUS\s+FILES$/m);
    assert.match(again.stderr, /WARN snapshot it-ls-del was not found on any etcd node/);
    await assertNoAgentContainers(lab);
  });

  test('a symlink of that name is refused and not followed: exit 1, its target stays', async () => {
    await nodeExec(1, 'sh', '-c', `mkdir -p /tmp/it-ls-outside && echo keep > /tmp/it-ls-outside/victim.zip && ln -sfn /tmp/it-ls-outside/victim.zip ${DIR}/it-ls-sym.zip`);
    const { outcome, doc } = await json('snapshot-rm', '--name', 'it-ls-sym');
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /ERROR snapshot it-ls-sym could not be removed everywhere/);
    assert.equal(doc.locations[0].status, 'refused');
    assert.match(doc.locations[0].refused[0].reason, /symlink/);
    assert.equal((await nodeExec(1, 'cat', '/tmp/it-ls-outside/victim.zip')).trim(), 'keep');
    assert.equal((await nodeExec(1, 'stat', '-c', '%F', `${DIR}/it-ls-sym.zip`)).trim(), 'symbolic link');
  });
});

describe('snapshot-prune', () => {
  test('--dry-run lists, then a real run removes, only the oldest beyond --keep on each node', async () => {
    // Ours are older than anything else on the nodes, and --keep spares every other zip,
    // so exactly our oldest go and no other test's snapshot is touched.
    const times = ['1991-01-01T00:00:00Z', '1992-01-01T00:00:00Z', '1993-01-01T00:00:00Z', '1994-01-01T00:00:00Z'];
    for (let node = 1; node <= lab.addresses.length; node++) {
      for (const [index, time] of times.entries()) await plant(node, `it-ls-p${index + 1}.zip`, time);
    }
    await plant(2, 'it-ls-p0-raw', '1990-01-01T00:00:00Z');
    const others = await Promise.all(lab.addresses.map((_, index) => otherZips(index + 1)));
    const keep = Math.max(...others) + 2;
    const expectedRemoved = others.map((count) => ['it-ls-p1', 'it-ls-p2', 'it-ls-p3', 'it-ls-p4'].slice(0, Math.max(0, 4 - (keep - count))));

    const dry = await json('snapshot-prune', '--keep', String(keep), '--dry-run');
    assert.equal(dry.outcome.code, 0, dry.outcome.stderr);
    assert.equal(dry.doc.dryRun, true);
    assert.equal(dry.doc.keep, keep);
    for (const [index, location] of dry.doc.locations.entries()) {
      assert.deepEqual(location.remove.map((r: any) => r.name).sort(), expectedRemoved[index]);
      assert.ok(location.remove.every((r: any) => r.status === 'would-remove'));
      assert.equal(mine(await snapshotFiles(index + 1)).filter((f) => f.startsWith('it-ls-p')).length, index === 1 ? 5 : 4, 'a dry run removes nothing');
    }
    const dryTable = await cli('snapshot-prune', '--keep', String(keep), '--dry-run');
    assert.match(dryTable.stdout, /^Dry run: keeping the \d+ newest snapshot\(s\) per location$/m);
    assert.match(dryTable.stdout, /\sit-ls-p1\s+would-remove$/m);

    const real = await json('snapshot-prune', '--keep', String(keep));
    assert.equal(real.outcome.code, 0, real.outcome.stderr);
    for (const [index, location] of real.doc.locations.entries()) {
      assert.deepEqual(location.remove.map((r: any) => [r.name, r.status]).sort(), expectedRemoved[index]!.map((n) => [n, 'removed']));
      const left = mine(await snapshotFiles(index + 1));
      const expectedLeft = ['it-ls-p1', 'it-ls-p2', 'it-ls-p3', 'it-ls-p4'].filter((n) => !expectedRemoved[index]!.includes(n)).map((n) => `${n}.zip`);
      assert.deepEqual(left.filter((f) => f.startsWith('it-ls-p') && f.endsWith('.zip')), expectedLeft);
      assert.equal(await otherZips(index + 1), others[index], 'no other snapshot was removed');
    }
    assert.ok((await snapshotFiles(2)).includes('it-ls-p0-raw'), 'raw files are never pruned');
    await assertNoAgentContainers(lab);
  });

  test('refuses a --keep that is not a whole number of at least 1', async () => {
    for (const keep of ['0', '-1', 'two', '1.5']) {
      const outcome = await cli('snapshot-prune', '--keep', keep);
      assert.equal(outcome.code, 1, keep);
      assert.match(outcome.stderr, /--keep.*must be a whole number of at least 1/);
    }
  });
});

describe('snapshot-verify', () => {
  test('intact copies pass; a truncated or altered copy is bad and fails the run; missing copies are flagged', async () => {
    const saved = await save(['--config', lab.clusterYml, '--name', 'it-ls-ver']);
    assert.equal(saved.code, 0, saved.stderr);
    const good = await json('snapshot-verify', '--name', 'it-ls-ver');
    assert.equal(good.outcome.code, 0, good.outcome.stderr);
    assert.equal(good.doc.ok, true);
    for (const [index, location] of good.doc.locations.entries()) {
      assert.equal(location.status, 'ok', JSON.stringify(location));
      assert.equal(location.stateFileIncluded, true);
      assert.match(location.snapshotSha256, /^[0-9a-f]{64}$/);
      const sha = (await nodeExec(index + 1, 'sha256sum', `${DIR}/it-ls-ver.zip`)).split(' ')[0];
      assert.equal(location.sha256, sha);
    }
    const table = await cli('snapshot-verify', '--name', 'it-ls-ver');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^${lab.addresses[0]!.replace(/\./g, '\\.')}\\s+ok\\s+\\S+ KiB\\s+\\S+Z\\s+\\d+\\s+\\d+ keys.*\\s[0-9a-f]{64}\\s+yes$`, 'm'));

    await nodeExec(2, 'truncate', '-s', '4000', `${DIR}/it-ls-ver.zip`);
    // One byte inside the deflated snapshot, far from the headers.
    await nodeExec(3, 'sh', '-c', `printf '\\377' | dd of=${DIR}/it-ls-ver.zip bs=1 seek=100 conv=notrunc status=none`);
    const bad = await json('snapshot-verify', '--name', 'it-ls-ver');
    assert.equal(bad.outcome.code, 1);
    assert.equal(bad.doc.ok, false);
    assert.deepEqual(bad.doc.locations.map((l: any) => l.status), ['ok', 'bad', 'bad']);
    assert.match(bad.doc.locations[1].problem, /damaged or truncated/);
    assert.match(bad.doc.locations[2].problem, /\/backup\/it-ls-ver/);
    assert.match(bad.outcome.stderr, new RegExp(`ERROR snapshot it-ls-ver: bad copy on ${lab.addresses[1]!.replace(/\./g, '\\.')}, ${lab.addresses[2]!.replace(/\./g, '\\.')}$`, 'm'));

    await nodeExec(2, 'rm', `${DIR}/it-ls-ver.zip`);
    await nodeExec(3, 'rm', `${DIR}/it-ls-ver.zip`);
    const missing = await json('snapshot-verify', '--name', 'it-ls-ver');
    assert.equal(missing.outcome.code, 0, missing.outcome.stderr);
    assert.deepEqual(missing.doc.locations.map((l: any) => l.status), ['ok', 'missing', 'missing']);
    assert.match(missing.outcome.stderr, /WARN snapshot it-ls-ver is missing on /);

    await nodeExec(1, 'rm', `${DIR}/it-ls-ver.zip`);
    const none = await cli('snapshot-verify', '--name', 'it-ls-ver');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /ERROR snapshot it-ls-ver: no copy found on any etcd node/);
    await assertNoAgentContainers(lab);
  });

  test('reports the revision etcdctl snapshot status reads from each copy, which is the members\' revision at the save (as snapshot-save reported)', async () => {
    // A value over a quarter page: the key bucket gets pages of its own (not inline in the root bucket).
    await labEtcdctl('put', 'it-ls-rev', 'x'.repeat(2000));
    const status = JSON.parse(await labEtcdctl('endpoint', 'status', '-w', 'json')) as Array<{ Status: { header: { revision: number } } }>;
    const memberRevision = status[0]!.Status.header.revision;
    const saved = await save(['--config', lab.clusterYml, '--name', 'it-ls-rev', '--output', 'json']);
    assert.equal(saved.code, 0, saved.stderr);
    // snapshot-save reads it too, in the same pass as etcd's trailer check.
    assert.deepEqual((JSON.parse(saved.stdout) as { nodes: Array<{ revision: number }> }).nodes.map((n) => n.revision), lab.addresses.map(() => memberRevision));
    const { outcome, doc } = await json('snapshot-verify', '--name', 'it-ls-rev');
    assert.equal(outcome.code, 0, outcome.stderr);
    const work = tempDir('it-ls-rev-');
    for (const [index, location] of doc.locations.entries()) {
      const zip = path.join(work, `node${index + 1}.zip`);
      await copyFromNode(index + 1, `${DIR}/it-ls-rev.zip`, zip);
      await extractWithPython(zip, '/backup/it-ls-rev', `${zip}.db`);
      const etcdctl = await snapshotStatus(`${zip}.db`);
      assert.equal(location.revision, etcdctl.revision, `node ${index + 1}`);
      assert.equal(location.revision, memberRevision, `node ${index + 1}: no write happened between the status and the save`);
    }
    const table = await cli('snapshot-verify', '--name', 'it-ls-rev');
    assert.match(table.stdout, /^LOCATION\s+STATUS\s+SIZE\s+MODIFIED\s+REVISION\s+CENSUS\s+SNAPSHOT SHA256\s+STATE FILE$/m);
    assert.match(table.stdout, new RegExp(`^${escapeRegExp(lab.addresses[1]!)}\\s+ok\\s+\\S+ KiB\\s+\\S+Z\\s+${memberRevision}\\s+\\d+ keys.*\\s[0-9a-f]{64}\\s+yes$`, 'm'));

    // A damaged page in a database whose etcd trailer and zip CRCs are right (as if etcd had sent it so):
    // the revision cannot be read, the copy is bad, the message names the page; no crash.
    const db = readFileSync(path.join(work, 'node1.zip.db'));
    const damaged = Buffer.from(db.subarray(0, db.length - 32));
    const pageSize = damaged.readUInt32LE(24);
    const rootLeaf = Number(damaged.readBigUInt64LE(32)) * pageSize;
    const keyEntry = damaged.indexOf('key', rootLeaf);
    const keyRoot = Number(damaged.readBigUInt64LE(keyEntry + 3));
    assert.ok(keyRoot > 1, `the key bucket has a page of its own (${keyRoot})`);
    damaged.writeUInt16LE(0x55, keyRoot * pageSize + 8);
    const badDb = path.join(work, 'bad.db');
    writeFileSync(badDb, Buffer.concat([damaged, createHash('sha256').update(damaged).digest()]));
    const badZip = path.join(work, 'it-ls-revbad.zip');
    await zipWithPython(badZip, [['/backup/it-ls-revbad', badDb]]);
    await nodeExec(1, 'install', '-m', '600', badZip, `${DIR}/it-ls-revbad.zip`);
    const bad = await json('snapshot-verify', '--name', 'it-ls-revbad');
    assert.equal(bad.outcome.code, 1);
    assert.deepEqual(bad.doc.locations.map((l: any) => l.status), ['bad', 'missing', 'missing']);
    assert.equal(
      bad.doc.locations[0].problem,
      `/backup/it-ls-revbad: cannot read the snapshot's etcd revision: the database is corrupt: page ${keyRoot} (the "key" bucket) is not a branch or leaf page (its header is damaged)`,
    );
    assert.equal(bad.doc.locations[0].revision, undefined);
    assert.doesNotMatch(bad.outcome.stderr, /at .*\.js:\d+/, 'no stack trace');
    await assertNoAgentContainers(lab);
  });

  test('refuses a name that is not a plain snapshot name', async () => {
    const outcome = await cli('snapshot-verify', '--name', '../../etc/shadow');
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^ERROR --name "..\/..\/etc\/shadow": a snapshot name must not contain "\/"$/m);
  });
});

describe('one node down (its dockerd stopped)', () => {
  test('ls, verify, rm and prune report the others in full, name the node, and exit 1', async () => {
    for (let node = 1; node <= lab.addresses.length; node++) await plant(node, 'it-ls-down.zip', '1990-06-01T00:00:00Z');
    const down = 2;
    const address = lab.addresses[down - 1]!;
    let ls, rm, prune, verify;
    await labFault('dockerd-stop', down);
    try {
      ls = await json('snapshot-ls');
      prune = await json('snapshot-prune', '--keep', '1', '--dry-run');
      verify = await json('snapshot-verify', '--name', 'it-ls-down');
      rm = await json('snapshot-rm', '--name', 'it-ls-down');
    } finally {
      await labFault('dockerd-start', down);
      await waitForHealthyCluster(120_000);
    }
    assert.equal(ls.outcome.code, 1);
    assert.match(ls.outcome.stderr, new RegExp(`ERROR 1 of 3 etcd node\\(s\\) could not be listed: ${address.replace(/\./g, '\\.')}$`, 'm'));
    const failed = ls.doc.locations.find((l: any) => l.node === address);
    assert.equal(failed.ok, false);
    assert.match(failed.error, /cannot reach Docker/);
    const copies = ls.doc.snapshots.find((s: any) => s.name === 'it-ls-down').copies.map((c: any) => c.node);
    assert.deepEqual(copies, lab.addresses.filter((a) => a !== address));

    assert.equal(prune.outcome.code, 1);
    assert.equal(prune.doc.locations.filter((l: any) => l.ok).length, 2);

    assert.equal(verify.outcome.code, 1);
    assert.deepEqual(verify.doc.locations.map((l: any) => l.status ?? 'FAILED'), lab.addresses.map((a) => (a === address ? 'FAILED' : 'bad')));
    assert.match(verify.outcome.stderr, new RegExp(`not checked on ${address.replace(/\./g, '\\.')}`));

    assert.equal(rm.outcome.code, 1);
    assert.deepEqual(rm.doc.locations.map((l: any) => l.status ?? 'FAILED'), lab.addresses.map((a) => (a === address ? 'FAILED' : 'removed')));
    assert.ok((await snapshotFiles(down)).includes('it-ls-down.zip'), 'the node that was down still has its copy');
    assert.ok(!(await snapshotFiles(1)).includes('it-ls-down.zip'));
    await assertNoAgentContainers(lab);
  });
});
