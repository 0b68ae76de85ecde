/**
 * `npm run bench` (through bench/run.sh, which brings the bench's own lab and S3 server
 * up and down): the six measurements of docs/performance.md, each beside its reference
 * where there is one, printed as a table and written into docs/performance.md.
 *
 * Parts (BENCH_PARTS, default "classic,datasets"; each writes its own block of docs/performance.md):
 * - classic: the measurements above. Sizes: BENCH_SIZES_MIB (default "256,1024"); the
 *   end-to-end runs use the last size.
 * - datasets (bench/datasets.ts): each kind of data of BENCH_DATASETS (default all four) at
 *   BENCH_DATASET_MIB (default 320), against etcdctl and RKE's per-node work.
 * - big (bench/datasets.ts; run on its own, with BENCH_NODES=1): `auto` at BENCH_BIG_MIB
 *   (default "1024,8192") of BENCH_BIG_DATASET (default base64).
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { clusterFile } from '../test/support/cli-run.js';
import { REPO_ROOT, labFacts, tempDir, type LabFacts } from '../test/support/lab.js';
import { aws, s3LabFacts, type S3LabFacts } from '../test/support/s3-lab.js';
import { bestOf, etcdctlSnapshot, fillTo as fillLab, log, removeSnapshots, save, type SaveRun } from './lab-ops.js';
import { bigPart, datasetsPart, type BenchLab } from './datasets.js';
import { DATASETS, isDataset, type Dataset } from '../test/support/cluster-data.js';
import { startLatencyProbe, type LatencySamples } from './etcd-latency.js';
import { AGENT_LIMIT_DEFAULTS } from '../src/snapshot/docker-runtime/options.js';
import { markdownTable, mib, percentile, rate, ratio, replaceGenerated, seconds, type BenchRow } from './table.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const sizesFrom = (variable: string, fallback: string) => (process.env[variable] ?? fallback).split(',').map((value) => Number(value.trim()));
const SIZES_MIB = sizesFrom('BENCH_SIZES_MIB', '256,1024');
const PARTS = (process.env.BENCH_PARTS ?? 'classic,datasets').split(',').map((part) => part.trim());
const DATASET_MIB = sizesFrom('BENCH_DATASET_MIB', '320');
const BIG_MIB = sizesFrom('BENCH_BIG_MIB', '1024,8192');
const PERFORMANCE_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');
const S3_FOLDER = 'bench';
const LATENCY_IDLE_MS = 20_000;

const rows: BenchRow[] = [];
const notes: string[] = [];
let lab: LabFacts;
let s3: S3LabFacts;
let singleNodeYml: string;
let nextObject = 0;

async function main(): Promise<void> {
  for (const size of [...SIZES_MIB, ...DATASET_MIB, ...BIG_MIB]) if (!Number.isInteger(size) || size < 1) throw new Error(`BENCH_*_MIB: ${size} is not a size in MiB`);
  for (const part of PARTS) if (!['classic', 'datasets', 'big'].includes(part)) throw new Error(`BENCH_PARTS: ${part} is not classic, datasets or big`);
  const datasets = (process.env.BENCH_DATASETS ?? DATASETS.join(',')).split(',').map((value) => value.trim());
  const bigDataset = process.env.BENCH_BIG_DATASET ?? 'base64';
  for (const dataset of [...datasets, bigDataset]) if (!isDataset(dataset)) throw new Error(`BENCH_DATASETS: ${dataset} is not one of ${DATASETS.join(', ')}`);
  const rkeZip = process.env.BENCH_RKE_ZIP;
  if (PARTS.includes('datasets') && !rkeZip) throw new Error('BENCH_RKE_ZIP: the datasets part needs bench/rke-zip built (bench/run.sh does it)');
  lab = await labFacts();
  singleNodeYml = clusterFile(lab, 'bench-one', (config) => (config.nodes = config.nodes.slice(0, 1)));
  const bench: BenchLab = { lab, singleNodeYml, rkeZip: rkeZip ?? '' };
  log(`benchmark on ${lab.addresses.length} lab nodes, parts ${PARTS.join(', ')}`);
  if (PARTS.includes('classic')) await timedPart('bench', classicPart);
  if (PARTS.includes('datasets')) await timedPart('datasets', () => datasetsPart(bench, datasets as Dataset[], DATASET_MIB[0]!));
  if (PARTS.includes('big')) await timedPart('big', () => bigPart(bench, bigDataset as Dataset, BIG_MIB));
}

/** Runs one part and writes what it prints into its own block of docs/performance.md, with when and where it ran. */
async function timedPart(block: string, part: () => Promise<string>): Promise<void> {
  const started = Date.now();
  const body = await part();
  const machine = await describeMachine();
  const took = `${((Date.now() - started) / 60_000).toFixed(1)} min`;
  const generated = [`Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${took}.`, '', ...machine, '', body].join('\n');
  process.stdout.write(`\n${body}\n`);
  writeFileSync(PERFORMANCE_DOC, replaceGenerated(readFileSync(PERFORMANCE_DOC, 'utf8'), generated, block));
  log(`wrote the ${block} table into ${PERFORMANCE_DOC} (${took})`);
}

async function classicPart(): Promise<string> {
  s3 = await s3LabFacts();
  log(`classic: DB sizes ${SIZES_MIB.join(', ')} MiB`);
  await fixedOverhead();
  for (const [index, sizeMiB] of SIZES_MIB.entries()) {
    const dbBytes = await fillTo(sizeMiB * MiB);
    await perNodeAndZip(dbBytes);
    if (index === 0) await etcdLatency(dbBytes);
    await memoryAndUpload(dbBytes);
    if (index === SIZES_MIB.length - 1) await endToEnd(dbBytes);
  }
  return [markdownTable(rows.sort((a, b) => a.item - b.item)), '', ...notes.map((note) => `- ${note}`)].join('\n');
}

// ---------------------------------------------------------------------------------------
// 5. Fixed overhead

async function fixedOverhead(): Promise<void> {
  log('5. fixed overhead: snapshots of a nearly empty etcd (the first one loads the image into the 3 nodes)');
  const first = await save(lab.clusterYml, 'bench-empty-first', []);
  for (let node = 1; node <= lab.addresses.length; node++) await removeSnapshots(lab, node, 'bench-empty-first.zip');
  const steady: SaveRun[] = [];
  for (let i = 0; i < 5; i++) steady.push(await save(singleNodeYml, `bench-empty-${i}`, []));
  const median = (pick: (run: SaveRun) => number) => {
    const values = steady.map(pick).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  const phase = (key: string) => median((r) => r.document.nodes[0].timings[key] ?? 0);
  const wall = median((r) => r.wallMs);
  const phases = ['sshConnectMs', 'dockerChecksMs', 'imageMs', 'containerStartMs', 'agentMs', 'containerRemoveMs'];
  const accounted = phases.reduce((total, key) => total + phase(key), 0);
  rows.push({ item: 5, what: 'wall time on one node, image already there (median of 5)', size: 'empty', ours: seconds(wall), reference: '', ratio: '', target: '< 3 s' });
  rows.push({
    item: 5,
    what: `first run: the bundled image loaded into 3 nodes (CLI peak RSS ${mib(first.cliPeakRssBytes)})`,
    size: 'empty',
    ours: seconds(first.wallMs),
    reference: '',
    ratio: '',
    target: '',
  });
  const split = phases.map((key) => `${key.replace(/Ms$/, '')} ${phase(key)} ms`).join(', ');
  notes.push(
    `Fixed overhead (item 5), median phases of a run with the image present: ${split}; ` +
      `the CLI's own start-up, configuration, state file and exit take the rest (${wall - accounted} ms of ${wall} ms).`,
  );
  await removeSnapshots(lab, 1, 'bench-empty-*');
}

// ---------------------------------------------------------------------------------------
// 1 and 6. Per-node throughput against etcdctl; what the zip costs

async function perNodeAndZip(dbBytes: number): Promise<void> {
  const size = mib(dbBytes);
  log(`1/6. per-node throughput at ${size}: etcdctl snapshot save, then the agent with each compression mode`);
  const reference = await bestOf(2, () => etcdctlSnapshot(lab, 1));
  const raw = reference.bytes;
  const modes = [
    { mode: 'auto', runs: 2 },
    { mode: 'none', runs: 2 },
    // Deflate-bound, and steady from run to run: one run each keeps the bench under 20 minutes.
    { mode: 'fast', runs: 1 },
    { mode: 'standard', runs: 1 },
  ];
  const results = new Map<string, { agentMs: number; zipBytes: number; snapshotBytes: number }>();
  for (const { mode, runs } of modes) {
    const best = await bestOf(runs, async () => {
      const result = await save(singleNodeYml, `bench-${mode}`, ['--compression', mode, '--overwrite']);
      const node = result.document.nodes[0];
      return { ms: node.timings.agentMs as number, zipBytes: node.size as number, snapshotBytes: node.snapshotSize as number };
    });
    results.set(mode, { agentMs: best.ms, zipBytes: best.zipBytes, snapshotBytes: best.snapshotBytes });
    await removeSnapshots(lab, 1, `bench-${mode}.zip`);
  }
  const etcdctlRate = raw / reference.ms;
  for (const [mode, result] of results) {
    const ours = result.snapshotBytes / result.agentMs;
    rows.push({
      item: 1,
      what: `snapshot throughput per node, --compression ${mode}`,
      size,
      ours: rate(result.snapshotBytes, result.agentMs),
      reference: `etcdctl ${rate(raw, reference.ms)}`,
      ratio: ratio(ours, etcdctlRate),
      target: '≥ 0.95',
    });
    rows.push({
      item: 6,
      what: `zip size and time, --compression ${mode}`,
      size,
      ours: `${mib(result.zipBytes)} in ${seconds(result.agentMs)}`,
      reference: `raw ${mib(raw)} in ${seconds(reference.ms)}`,
      ratio: ratio(result.zipBytes, raw),
      target: mode === 'auto' ? 'default' : '',
    });
  }
}

// ---------------------------------------------------------------------------------------
// 7. etcd's request latency while a snapshot runs on its node

async function etcdLatency(dbBytes: number): Promise<void> {
  const size = mib(dbBytes);
  log(`7. etcd latency on node 1 at ${size}: ${LATENCY_IDLE_MS / 1000} s idle, then during a snapshot of each compression mode, with and without the CPU weight`);
  const tls = { endpoint: `${lab.addresses[0]}:2379`, ca: lab.ca, cert: lab.nodeCert, key: lab.nodeKey };
  const probe = startLatencyProbe(tls);
  await new Promise((resolve) => setTimeout(resolve, LATENCY_IDLE_MS));
  const idle = await probe.stop();
  const idleP99 = percentile(idle.puts, 99);
  rows.push({ item: 7, what: 'etcd latency idle (put / serializable get)', size, ours: latency(idle), reference: '', ratio: '', target: '' });
  for (const mode of ['auto', 'fast', 'standard', 'none']) {
    for (const shares of [AGENT_LIMIT_DEFAULTS.cpuShares, 1024]) {
      const during = startLatencyProbe(tls);
      const result = await save(singleNodeYml, `bench-latency-${mode}`, ['--compression', mode, '--overwrite', '--agent-cpu-shares', String(shares)]);
      const samples = await during.stop();
      await removeSnapshots(lab, 1, `bench-latency-${mode}.zip`);
      const weight = shares === AGENT_LIMIT_DEFAULTS.cpuShares ? `CPU weight ${shares} (default)` : `CPU weight ${shares} (= etcd's)`;
      rows.push({
        item: 7,
        what: `etcd latency during a snapshot, --compression ${mode}, ${weight} (${seconds(result.document.nodes[0].timings.agentMs)})`,
        size,
        ours: latency(samples),
        reference: `idle put p99 ${idleP99.toFixed(1)} ms`,
        ratio: (percentile(samples.puts, 99) / idleP99).toFixed(2),
        target: shares === AGENT_LIMIT_DEFAULTS.cpuShares ? 'put p99 ≤ 2× idle' : '',
      });
    }
  }
  notes.push(
    `etcd latency (item 7): a client on this machine puts 100 bytes (through raft) then reads it back serializable (the member alone), every ${20} ms, ` +
      'against node 1\'s member while node 1 takes a snapshot; the ratio is put p99 during / idle. The lab\'s 3 members, their engines and the agent share 2 cores.',
  );
}

function latency(samples: LatencySamples): string {
  const ms = (values: number[], p: number) => percentile(values, p).toFixed(1);
  return `put p50 ${ms(samples.puts, 50)} / p99 ${ms(samples.puts, 99)} ms; get p50 ${ms(samples.gets, 50)} / p99 ${ms(samples.gets, 99)} ms` + (samples.errors ? `; ${samples.errors} errors` : '');
}

// ---------------------------------------------------------------------------------------
// 2 and 3. Memory of the agents and the CLI; upload throughput against aws s3 cp

async function memoryAndUpload(dbBytes: number): Promise<void> {
  const size = mib(dbBytes);
  log(`2/3. memory and upload at ${size}: snapshot-save --s3 on one node, then aws s3 cp of the same zip`);
  const name = `bench-s3-${Math.round(dbBytes / MiB)}`;
  const result = await save(singleNodeYml, name, ['--overwrite', ...s3Flags()]);
  const node = result.document.nodes[0];
  const upload = result.document.s3;
  if (!upload) throw new Error(`no upload in: ${JSON.stringify(result.document)}`);
  rows.push({ item: 2, what: 'peak RSS, snapshot agent', size, ours: mib(node.agentPeakRssBytes), reference: '', ratio: '', target: '≤ 128 MiB, flat' });
  rows.push({ item: 2, what: 'peak RSS, upload agent', size, ours: mib(upload.peakRssBytes), reference: '', ratio: '', target: '≤ 128 MiB, flat' });
  rows.push({ item: 2, what: 'peak RSS, CLI', size, ours: mib(result.cliPeakRssBytes), reference: '', ratio: '', target: '≤ 128 MiB, flat' });

  const zipOnHost = path.join(lab.dir, 'nodes', 'node1', 'opt-rke', 'etcd-snapshots', `${name}.zip`);
  const zipBytes = statSync(zipOnHost).size;
  const awsStarted = Date.now();
  await aws('s3', 'cp', '--only-show-errors', zipOnHost, `s3://${s3.bucket}/${S3_FOLDER}/aws-${name}.zip`);
  const awsMs = Date.now() - awsStarted;
  rows.push({
    item: 3,
    what: 'upload throughput to S3 (the zip)',
    size: `${size} (zip ${mib(zipBytes)})`,
    ours: rate(zipBytes, upload.durationMs),
    reference: `aws s3 cp ${rate(zipBytes, awsMs)}`,
    ratio: ratio(zipBytes / upload.durationMs, zipBytes / awsMs),
    target: '≥ 1.0',
  });
  await aws('s3', 'rm', '--only-show-errors', '--recursive', `s3://${s3.bucket}/${S3_FOLDER}/`);
  await removeSnapshots(lab, 1, `${name}.zip`);
}

// ---------------------------------------------------------------------------------------
// 4. Three nodes at once against one after another

async function endToEnd(dbBytes: number): Promise<void> {
  const size = mib(dbBytes);
  log(`4. end to end at ${size}: 3 nodes in parallel and with --concurrency 1, without and with --s3`);
  const single = await save(singleNodeYml, 'bench-e2e-single', ['--overwrite']);
  await removeSnapshots(lab, 1, 'bench-e2e-single.zip');
  for (const withS3 of [false, true]) {
    const extra = withS3 ? s3Flags() : [];
    const parallel = await save(lab.clusterYml, 'bench-e2e', ['--overwrite', ...extra]);
    await cleanAfterEndToEnd(withS3);
    const sequential = await save(lab.clusterYml, 'bench-e2e', ['--overwrite', '--concurrency', '1', ...extra]);
    await cleanAfterEndToEnd(withS3);
    const label = withS3 ? 'with --s3' : 'without --s3';
    rows.push({
      item: 4,
      what: `3 nodes in parallel vs one after another (RKE), ${label}`,
      size,
      ours: seconds(parallel.wallMs),
      reference: `--concurrency 1: ${seconds(sequential.wallMs)}`,
      ratio: ratio(sequential.wallMs, parallel.wallMs),
      target: '',
    });
    rows.push({
      item: 4,
      what: `3 nodes in parallel vs a single node, ${label}`,
      size,
      ours: seconds(parallel.wallMs),
      reference: `1 node: ${seconds(single.wallMs)}`,
      ratio: ratio(single.wallMs, parallel.wallMs),
      target: 'close to 1',
    });
  }
}

async function cleanAfterEndToEnd(withS3: boolean): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) await removeSnapshots(lab, node, 'bench-e2e.zip');
  if (withS3) await aws('s3', 'rm', '--only-show-errors', '--recursive', `s3://${s3.bucket}/${S3_FOLDER}/`);
}

// ---------------------------------------------------------------------------------------
// The lab: filling etcd, the reference tools, the CLI

async function fillTo(targetBytes: number): Promise<number> {
  const filled = await fillLab(lab, 'base64', targetBytes, nextObject);
  nextObject = filled.nextObject;
  return filled.dbBytes;
}

function s3Flags(): string[] {
  return ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', S3_FOLDER, '--access-key', s3.accessKey, '--secret-key-file', secretKeyFile()];
}

let secretFile: string | undefined;
function secretKeyFile(): string {
  if (secretFile === undefined) {
    secretFile = path.join(tempDir('rke-bench-'), 'secret');
    writeFileSync(secretFile, s3.secretKey, { mode: 0o600 });
  }
  return secretFile;
}

async function describeMachine(): Promise<string[]> {
  const cpus = os.cpus();
  const etcd = (await run('etcd', ['--version']).catch(() => ({ stdout: 'etcd: unknown' }))).stdout.split('\n')[0];
  const load = os.loadavg().map((value) => value.toFixed(2)).join(' ');
  return [
    `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${os.release()}; load average at the end ${load}`,
    `- Node ${process.version}; ${etcd} in each lab node's \`etcd\` container; Ceph RGW (lab/s3.sh) over HTTPS on loopback`,
    lab.addresses.length === 1
      ? '- The lab: 1 node on this machine (its own sshd, dockerd and etcd member)'
      : `- The lab: ${lab.addresses.length} nodes on this one machine (each with its own sshd, dockerd and etcd member), so the nodes share its cores`,
  ];
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
