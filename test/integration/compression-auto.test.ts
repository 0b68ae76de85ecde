/**
 * `--compression auto` (the default) on the lab, on each kind of cluster data of issue #18
 * (test/support/cluster-data.ts): the zip passes `unzip -t`, Python's zipfile reads its
 * entry, etcd restores that entry and serves a key written before the snapshot, and the zip
 * is no more than 5% larger than `--compression fast`'s of the same database. The agent's
 * own account of its blocks shows each kind of data took the method meant for it.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, removeNodeSnapshots, save } from '../support/cli-run.js';
import { DATASETS, putObjects, type Dataset } from '../support/cluster-data.js';
import { copyFromNode, labEtcdctl, labFacts, tempDir, type LabFacts } from '../support/lab.js';
import { etcdctlSnapshotStatus, extractEntry, restoreAndRead, unzipTest } from '../support/snapshot-check.js';

const ROOT = '/it-auto';
/**
 * Each kind of data adds at least 8 blocks of 1 MiB to the (growing) database: auto samples the first
 * block of each group of 4 (SAMPLED_EVERY), so 8 blocks hold at least one whole group of that kind.
 */
const BYTES_PER_DATASET = 8 * 1024 * 1024;

let lab: LabFacts;
let work: string;
let oneNode: string;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-auto-*');
  work = tempDir('rke-it-auto-');
  oneNode = clusterFile(lab, 'auto-one', (config) => (config.nodes = config.nodes.slice(0, 1)));
});

after(async () => {
  if (!lab) return;
  await labEtcdctl('del', '--prefix', `${ROOT}/`);
  await removeNodeSnapshots(lab, 'it-auto-*');
  await assertNoAgentContainers(lab);
});

/** Which methods the agent says its blocks took ("compression auto: N blocks ...: a deflated, b RLE, c zero runs, d stored"). */
function blockCounts(stderr: string): { deflate: number; rle: number; zeros: number; stored: number } {
  const match = /compression auto: \d+ blocks [^:]*: (\d+) deflated, (\d+) RLE, (\d+) zero runs, (\d+) stored/.exec(stderr);
  assert.ok(match, `no block counts in the agent's log:\n${stderr}`);
  return { deflate: Number(match[1]), rle: Number(match[2]), zeros: Number(match[3]), stored: Number(match[4]) };
}

/** The method each kind of data is meant to take: at least a whole group of blocks of it. */
const EXPECTED: Record<Dataset, (counts: ReturnType<typeof blockCounts>) => boolean> = {
  json: (counts) => counts.deflate >= 4,
  protobuf: (counts) => counts.deflate >= 4,
  base64: (counts) => counts.rle >= 4,
  random: (counts) => counts.zeros >= 4,
};

describe('--compression auto on each kind of cluster data', () => {
  for (const [index, dataset] of DATASETS.entries()) {
    test(`${dataset}: the zip reads with unzip and Python, etcd restores it, and it is within 5% of fast's`, async () => {
      const tls = { endpoint: `${lab.addresses[0]}:2379`, ca: lab.ca, cert: lab.nodeCert, key: lab.nodeKey };
      await putObjects(tls, dataset, index * 1_000_000, BYTES_PER_DATASET, `${ROOT}/${dataset}`);
      const marker = `${dataset}-${Date.now()}`;
      await labEtcdctl('put', `${ROOT}/marker`, marker);

      const auto = await save(['--config', oneNode, '--name', `it-auto-${dataset}`, '--output', 'json', '--debug']);
      assert.equal(auto.code, 0, auto.stderr);
      const counts = blockCounts(auto.stderr);
      assert.ok(EXPECTED[dataset](counts), `${dataset}: ${JSON.stringify(counts)}`);
      const node = JSON.parse(auto.stdout).nodes[0];

      const zip = path.join(work, `${dataset}.zip`);
      await copyFromNode(1, node.file, zip);
      assert.match(await unzipTest(zip), /No errors detected/);
      const snapshot = path.join(work, `${dataset}.db`);
      await extractEntry(zip, `/backup/it-auto-${dataset}`, snapshot); // Python's zipfile, CRC checked as it reads
      assert.equal(statSync(snapshot).size, node.snapshotSize + 32, 'the entry is the snapshot and its SHA-256 trailer');
      const status = await etcdctlSnapshotStatus(snapshot);
      assert.equal(status.revision, node.revision);
      assert.equal(await restoreAndRead(snapshot, tempDir(`rke-it-auto-restore-${dataset}-`), '127.0.9.12', `${ROOT}/marker`), marker);

      const fast = await save(['--config', oneNode, '--name', `it-auto-${dataset}-fast`, '--compression', 'fast', '--output', 'json']);
      assert.equal(fast.code, 0, fast.stderr);
      const fastSize: number = JSON.parse(fast.stdout).nodes[0].size;
      assert.ok(node.size <= fastSize * 1.05, `${dataset}: auto ${node.size} bytes, fast ${fastSize}`);
      await removeNodeSnapshots(lab, `it-auto-${dataset}*`);
    });
  }
});
