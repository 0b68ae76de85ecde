/** What the bench's parts do on the lab: fill and empty etcd, time the reference tools, run the CLI. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { REPO_ROOT, runCli, type LabFacts } from '../test/support/lab.js';
import { putObjects, type Dataset } from '../test/support/cluster-data.js';
import { mib, seconds } from './table.js';

const run = promisify(execFile);
const LAB_SCRIPT = path.join(REPO_ROOT, 'lab', 'lab.sh');
export const MiB = 1024 * 1024;
const NODE_SNAPSHOT_DIR = '/opt/rke/etcd-snapshots';

export interface SaveRun {
  document: any;
  wallMs: number;
  cliPeakRssBytes: number;
  /** The CLI's stderr (with --debug, the agents' log lines too). */
  stderr: string;
}

export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

export function labEnv(lab: LabFacts): NodeJS.ProcessEnv {
  return { ...process.env, LAB_DIR: lab.dir };
}

export async function save(clusterYml: string, name: string, extra: string[]): Promise<SaveRun> {
  const outcome = await runCli(['etcd', 'snapshot-save', '--config', clusterYml, '--name', name, '--output', 'json', '--debug', ...extra], {
    timeoutMs: 1_800_000,
  });
  if (outcome.code !== 0) throw new Error(`snapshot-save ${name} exited ${outcome.code}:\n${outcome.stderr.split('\n').filter((l) => !l.startsWith('DEBUG')).join('\n')}`);
  const peak = /peak RSS of this CLI: ([\d.]+) MiB/.exec(outcome.stderr)?.[1];
  return { document: JSON.parse(outcome.stdout), wallMs: outcome.ms, cliPeakRssBytes: Number(peak) * MiB, stderr: outcome.stderr };
}

export async function removeSnapshots(lab: LabFacts, node: number, pattern: string): Promise<void> {
  await run('bash', [LAB_SCRIPT, 'exec', String(node), '--', 'find', NODE_SNAPSHOT_DIR, '-maxdepth', '1', '-name', pattern, '-delete'], { env: labEnv(lab) });
}

/**
 * CPU seconds (user + system) node N's etcd member has used so far, read from /proc on this
 * machine (the lab's members are processes of it): around a snapshot, what etcd spent serving it.
 */
export async function etcdCpuSeconds(lab: LabFacts, node: number): Promise<number> {
  const { stdout: pid } = await run('bash', [LAB_SCRIPT, 'docker', String(node), 'inspect', '-f', '{{.State.Pid}}', 'etcd'], { env: labEnv(lab) });
  const stat = await readFile(`/proc/${pid.trim()}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th of the line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / (await clockTicks());
}

let ticks: number | undefined;
async function clockTicks(): Promise<number> {
  ticks ??= Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
  return ticks;
}

/** The agent's own CPU seconds, from its debug line ("... CPU time 3.21 s"), on a one-node run. */
export function agentCpuSeconds(run: SaveRun): number | undefined {
  const cpu = /peak RSS of the snapshot agent: [\d.]+ MiB, CPU time ([\d.]+) s/.exec(run.stderr)?.[1];
  return cpu === undefined ? undefined : Number(cpu);
}

/** The fastest of `times` runs (the least disturbed by whatever else the machine did). */
export async function bestOf<T extends { ms: number }>(times: number, measure: () => Promise<T>): Promise<T> {
  let best: T | undefined;
  for (let i = 0; i < times; i++) {
    const result = await measure();
    if (best === undefined || result.ms < best.ms) best = result;
  }
  return best!;
}

export async function dbSize(lab: LabFacts): Promise<number> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'etcdctl', 'endpoint', 'status', '-w', 'json'], { env: labEnv(lab) });
  const statuses = JSON.parse(stdout) as Array<{ Status: { dbSize: number } }>;
  return Math.min(...statuses.map((status) => status.Status.dbSize));
}

/** Puts objects of `dataset` until every member's database is at least `targetBytes`; returns the size and the next object's index. */
export async function fillTo(lab: LabFacts, dataset: Dataset, targetBytes: number, firstObject: number): Promise<{ dbBytes: number; nextObject: number }> {
  let dbBytes = await dbSize(lab);
  let nextObject = firstObject;
  const started = Date.now();
  while (dbBytes < targetBytes) {
    const tls = { endpoint: `${lab.addresses[0]}:2379`, ca: lab.ca, cert: lab.nodeCert, key: lab.nodeKey };
    nextObject += await putObjects(tls, dataset, nextObject, Math.max(targetBytes - dbBytes, 4 * MiB));
    dbBytes = await dbSize(lab);
  }
  log(`etcd database at ${mib(dbBytes)} of ${dataset} (${nextObject - firstObject} objects put; filled in ${seconds(Date.now() - started)})`);
  return { dbBytes, nextObject };
}

/**
 * Deletes every key, compacts and defragments every member, so the next dataset starts from an
 * empty database. The compaction is at the delete's own revision (its response header): a
 * member's status may not have applied the delete yet, and compacting one revision short of it
 * kept every deleted revision (the next dataset then "filled" nothing on top of them).
 */
export async function emptyEtcd(lab: LabFacts): Promise<void> {
  const etcdctl = (...args: string[]) => run('bash', [LAB_SCRIPT, 'etcdctl', '--command-timeout=300s', ...args], { env: labEnv(lab), maxBuffer: 16 * MiB });
  const { stdout } = await etcdctl('del', '--prefix', '/', '-w', 'json');
  const revision = (JSON.parse(stdout) as { header: { revision: number } }).header.revision;
  await etcdctl('compaction', '--physical', String(revision));
  await etcdctl('defrag');
  const left = await dbSize(lab);
  if (left > EMPTY_DB_BYTES) throw new Error(`etcd did not empty: a database of ${mib(left)} after deleting every key, compacting at ${revision} and defragmenting`);
  log(`etcd emptied: database at ${mib(left)}`);
}

const EMPTY_DB_BYTES = 16 * MiB;

const TLS_FLAGS = (address: string) =>
  `--endpoints=https://${address}:2379 --cacert=/etc/kubernetes/ssl/kube-ca.pem --cert=/etc/kubernetes/ssl/kube-node.pem --key=/etc/kubernetes/ssl/kube-node-key.pem`;

/** etcdctl snapshot save on node N against its own member, timed inside the node (no lab.sh start-up in the figure). */
export async function etcdctlSnapshot(lab: LabFacts, node: number): Promise<{ ms: number; bytes: number }> {
  const address = lab.addresses[node - 1]!;
  const file = `${NODE_SNAPSHOT_DIR}/bench-etcdctl.db`;
  const script =
    `start=$(date +%s%N); ETCDCTL_API=3 etcdctl ${TLS_FLAGS(address)} snapshot save ${file} >/dev/null; ` +
    `end=$(date +%s%N); echo $(( (end - start) / 1000000 )) $(stat -c %s ${file}); rm -f ${file}`;
  return timedOnNode(lab, node, script, (ms, bytes) => ({ ms, bytes }));
}

/**
 * RKE's per-node work (rke-tools' one-time backup): `etcdctl snapshot save`, then the zip written
 * by bench/rke-zip (Go's archive/zip, as rke-tools writes it; it removes the raw file), timed
 * inside node N. `rkeZip` is the binary bench/run.sh built.
 */
export async function rkeReference(lab: LabFacts, node: number, rkeZip: string): Promise<{ ms: number; zipBytes: number }> {
  const address = lab.addresses[node - 1]!;
  const raw = `${NODE_SNAPSHOT_DIR}/bench-rke`;
  const script =
    `start=$(date +%s%N); ETCDCTL_API=3 etcdctl ${TLS_FLAGS(address)} snapshot save ${raw} >/dev/null && ${rkeZip} ${raw}.zip ${raw}; ` +
    `end=$(date +%s%N); echo $(( (end - start) / 1000000 )) $(stat -c %s ${raw}.zip); rm -f ${raw} ${raw}.zip`;
  return timedOnNode(lab, node, script, (ms, zipBytes) => ({ ms, zipBytes }));
}

async function timedOnNode<T>(lab: LabFacts, node: number, script: string, result: (ms: number, bytes: number) => T): Promise<T> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'exec', String(node), '--', 'sh', '-c', script], { env: labEnv(lab), maxBuffer: 16 * MiB });
  const [ms, bytes] = stdout.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(ms) || !Number.isFinite(bytes)) throw new Error(`node ${node}: no timing in ${JSON.stringify(stdout)}`);
  return result(ms!, bytes!);
}
