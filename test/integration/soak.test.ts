/**
 * Soak: 50 consecutive snapshot-save runs on the 3-node lab. Nothing may accumulate:
 * containers, files other than the snapshots, the nodes' dockerd and sshd file
 * descriptors, the CLI's memory. The figures are printed under the test; the assertions
 * use generous bounds (a leak grows with every run, noise does not).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { removeNodeSnapshots, snapshotFiles } from '../support/cli-run.js';
import { REPO_ROOT, TEST_KNOWN_HOSTS, labFacts, nodeDocker, type LabFacts } from '../support/lab.js';

const run = promisify(execFile);
const RUNS = 50;
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

let lab: LabFacts;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-soak-*');
});

after(async () => {
  await removeNodeSnapshots(lab, 'it-soak-*');
});

interface Sample {
  containers: number;
  strayFiles: string[];
  dockerdFds: number;
  sshdProcesses: number;
}

async function sample(): Promise<Sample> {
  let containers = 0;
  const strayFiles: string[] = [];
  let dockerdFds = 0;
  let sshdProcesses = 0;
  for (let node = 1; node <= lab.addresses.length; node++) {
    containers += (await nodeDocker(node, 'ps', '-aq')).split('\n').filter(Boolean).length;
    for (const file of await snapshotFiles(node)) if (!/^it-soak-\d+\.zip$/.test(file)) strayFiles.push(`node${node}:${file}`);
    const nodeDir = path.join(lab.dir, 'nodes', `node${node}`);
    const dockerdPid = readFileSync(path.join(nodeDir, 'dockerd.pid'), 'utf8').trim();
    dockerdFds += readdirSync(`/proc/${dockerdPid}/fd`).length;
    const listener = readFileSync(path.join(nodeDir, 'node.pid'), 'utf8').trim();
    sshdProcesses += (await run('pgrep', ['-P', listener]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).length;
  }
  return { containers, strayFiles, dockerdFds, sshdProcesses };
}

/** One CLI run; its peak RSS (KiB) from the kernel's accounting of the finished child. */
async function saveMeasured(name: string): Promise<{ code: number; maxRssKiB: number; ms: number }> {
  const started = Date.now();
  const measure =
    'import resource, subprocess, sys\n' +
    'code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n' +
    'print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  const { stdout } = await run('python3', ['-c', measure, process.execPath, CLI, 'etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', name], {
    env: { ...process.env, RKE_SSH_KNOWN_HOSTS: TEST_KNOWN_HOSTS },
  });
  const [code, rss] = stdout.trim().split(/\s+/).map(Number);
  return { code: code!, maxRssKiB: rss!, ms: Date.now() - started };
}

test(`${RUNS} consecutive runs leave nothing behind and do not grow`, async (t) => {
  const start = await sample();
  const rss: number[] = [];
  const wall: number[] = [];
  let last = start;
  for (let i = 1; i <= RUNS; i++) {
    const outcome = await saveMeasured(`it-soak-${i}`);
    assert.equal(outcome.code, 0, `run ${i} failed`);
    rss.push(outcome.maxRssKiB);
    wall.push(outcome.ms);
    last = await sample();
    assert.equal(last.containers, start.containers, `run ${i}: containers on the nodes went from ${start.containers} to ${last.containers}`);
    assert.deepEqual(last.strayFiles, start.strayFiles, `run ${i}: files other than snapshots`);
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const firstRss = mean(rss.slice(0, 10));
  const lastRss = mean(rss.slice(-10));
  t.diagnostic(`containers on the 3 nodes: ${start.containers} before, ${last.containers} after ${RUNS} runs`);
  t.diagnostic(`files other than the snapshots: ${start.strayFiles.length} before, ${last.strayFiles.length} after`);
  t.diagnostic(`dockerd open fds (3 nodes): ${start.dockerdFds} before, ${last.dockerdFds} after`);
  t.diagnostic(`sshd sessions (3 nodes): ${start.sshdProcesses} before, ${last.sshdProcesses} after`);
  t.diagnostic(`CLI peak RSS: first 10 runs ${(firstRss / 1024).toFixed(1)} MiB, last 10 ${(lastRss / 1024).toFixed(1)} MiB, max ${(Math.max(...rss) / 1024).toFixed(1)} MiB`);
  t.diagnostic(`wall time per run: first 10 ${(mean(wall.slice(0, 10)) / 1000).toFixed(2)} s, last 10 ${(mean(wall.slice(-10)) / 1000).toFixed(2)} s`);
  // Each run opens 3 SSH connections with several channels: a leak of one fd per run would be 50+.
  assert.ok(last.dockerdFds <= start.dockerdFds + 30, `dockerd fds ${start.dockerdFds} → ${last.dockerdFds}`);
  assert.ok(last.sshdProcesses <= start.sshdProcesses, `sshd sessions ${start.sshdProcesses} → ${last.sshdProcesses}`);
  assert.ok(lastRss <= firstRss * 1.5, `CLI peak RSS grew: ${firstRss} → ${lastRss} KiB`);
});
