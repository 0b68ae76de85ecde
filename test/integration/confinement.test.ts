/**
 * Least privilege on the lab (docs/security.md): every agent container, inspected while it
 * runs, has no capability, no privilege gain, a read-only image, the certificates bound
 * read-only and only its own writable bind, and the resource bounds; a container with those
 * very settings cannot write anywhere else; a container its memory limit kills is reported
 * as such and leaves no temporary file. And --runtime ssh keeps the node's etcd key in memory:
 * nothing under this machine's temp dir or home holds it after a run, interrupted or not.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, removeNodeSnapshots, save, snapshotFiles } from '../support/cli-run.js';
import {
  containersNamed,
  followerNode,
  labFacts,
  nodeDocker,
  nodeExec,
  privateKeyMaterial,
  REPO_ROOT,
  startCli,
  tempDir,
  waitForHealthyCluster,
  type LabFacts,
} from '../support/lab.js';
import { rgw, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';

const DIR = '/opt/rke/etcd-snapshots';
let lab: LabFacts;
let s3: S3LabFacts;
let secretFile: string;

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  await removeNodeSnapshots(lab, 'it-conf-*');
  await removeNodeSnapshots(lab, '.it-conf-*');
  secretFile = writeSecretKeyFile(s3, tempDir('rke-conf-it-'));
});

after(async () => {
  if (lab) {
    await removeNodeSnapshots(lab, 'it-conf-*');
    await assertNoAgentContainers(lab);
  }
});

interface Inspected {
  State: { Pid: number; Running: boolean };
  Config: { Image: string };
  HostConfig: Record<string, any>;
  /** /proc/PID/status of its process, read while it ran. */
  processStatus: string;
}

/** `docker inspect` of container NAME on node N once it runs (its process started). */
async function inspectRunning(node: number, name: string, timeoutMs = 60_000): Promise<Inspected> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await containersNamed(node, name)).length > 0) {
      const [details] = JSON.parse(await nodeDocker(node, 'inspect', name).catch(() => '[]')) as Array<Omit<Inspected, 'processStatus'>>;
      if (details?.State.Running && details.State.Pid > 0) return { ...details, processStatus: readFileSync(`/proc/${details.State.Pid}/status`, 'utf8') };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} never ran on node ${node} within ${timeoutMs} ms`);
}

/** The settings every agent container must have, whatever its job. */
function assertConfined(details: Inspected, what: string): void {
  const host = details.HostConfig;
  assert.deepEqual(host.CapDrop, ['ALL'], `${what}: CapDrop`);
  assert.ok(host.CapAdd === null || host.CapAdd.length === 0, `${what}: CapAdd ${JSON.stringify(host.CapAdd)}`);
  assert.deepEqual(host.SecurityOpt, ['no-new-privileges'], `${what}: SecurityOpt`);
  assert.equal(host.ReadonlyRootfs, true, `${what}: ReadonlyRootfs`);
  assert.equal(host.Privileged, false, `${what}: Privileged`);
  assert.deepEqual(Object.keys(host.Tmpfs ?? {}), ['/tmp'], `${what}: Tmpfs`);
  assert.equal(host.Memory, 256 * 1024 * 1024, `${what}: Memory`);
  assert.equal(host.PidsLimit, 64, `${what}: PidsLimit`);
  assert.equal(host.CpuShares, 512, `${what}: CpuShares`);
  // What the kernel applies to the running process.
  const status = details.processStatus;
  assert.match(status, /^CapEff:\s+0+$/m, `${what}: effective capabilities`);
  assert.match(status, /^CapBnd:\s+0+$/m, `${what}: bounding set`);
  assert.match(status, /^NoNewPrivs:\s+1$/m, `${what}: no_new_privs`);
}

describe('agent containers run confined', () => {
  test('save and upload containers, inspected while they run: no capability, read-only image and certificates, one writable bind, bounded', async (t) => {
    const paused = await followerNode(lab.addresses);
    const uploader = 1; // the first node in cluster.yml order whose snapshot succeeded (the paused one too, once etcd is back)
    const folder = `it-conf/${Date.now()}`;
    await nodeDocker(paused, 'pause', 'etcd');
    let run: ReturnType<typeof startCli> | undefined;
    let saveContainer: Inspected;
    let uploadContainer: Inspected;
    try {
      run = startCli([
        'etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-conf-run',
        '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, '--folder', folder,
        '--access-key', s3.accessKey, '--secret-key-file', secretFile,
      ]);
      // etcd paused there: the agent waits on its health check, its container stays up.
      saveContainer = await inspectRunning(paused, 'etcd-snapshot-once');
      await rgw('rgw-pause'); // S3 silent: the upload container stays up
      await nodeDocker(paused, 'unpause', 'etcd');
      uploadContainer = await inspectRunning(uploader, 'etcd-snapshot-upload');
    } finally {
      await nodeDocker(paused, 'unpause', 'etcd').catch(() => undefined);
      await rgw('rgw-resume');
    }
    const outcome = await run!.outcome;
    assert.equal(outcome.code, 0, outcome.stderr);

    for (const [name, details] of [['etcd-snapshot-once', saveContainer], ['etcd-snapshot-upload', uploadContainer]] as const) {
      const host = details.HostConfig;
      const shown = { CapDrop: host.CapDrop, CapAdd: host.CapAdd, SecurityOpt: host.SecurityOpt, ReadonlyRootfs: host.ReadonlyRootfs, Tmpfs: host.Tmpfs, Binds: host.Binds, Memory: host.Memory, PidsLimit: host.PidsLimit, CpuShares: host.CpuShares };
      const kernel = details.processStatus.split('\n').filter((line) => /^(CapEff|CapBnd|NoNewPrivs):/.test(line)).join(', ');
      t.diagnostic(`docker inspect ${name}: ${JSON.stringify(shown)}; /proc: ${kernel.replace(/\s+/g, ' ')}`);
    }
    assertConfined(saveContainer, 'etcd-snapshot-once');
    assert.deepEqual(saveContainer.HostConfig.Binds, [`${DIR}:/backup`, '/etc/kubernetes/ssl:/etc/kubernetes/ssl:ro']);
    assertConfined(uploadContainer, 'etcd-snapshot-upload');
    assert.deepEqual(uploadContainer.HostConfig.Binds, [`${DIR}:/backup:ro`], 'the upload sees the snapshots read-only and nothing of /etc/kubernetes');

    // The same settings, with a probe instead of the agent: it can write only where the job may.
    const probe = await runProbe(paused, saveContainer);
    assert.deepEqual(probe, {
      'write /backup': 'ok',
      'write /tmp': 'ok',
      'read the etcd client key': 'ok',
      'write /etc/kubernetes/ssl': 'EROFS',
      'write /etc (the image)': 'EROFS',
      'write /usr/local/bin (the image)': 'EROFS',
      'chown a file it owns (CAP_CHOWN)': 'EPERM',
      'setuid (CAP_SETUID)': 'EPERM',
    });
    await assertNoAgentContainers(lab);
    await waitForHealthyCluster();
  });

  test('a container killed by its memory limit is reported as OOMKilled on its node, and its temporary file is swept', async () => {
    // A temporary file as a killed save leaves it (the agent writes .NAME.zip.tmp-<12 hex>). With
    // Docker's smallest limit the agent is killed before it could sweep it itself at its start:
    // the CLI's sweep container (at the default limit) removes it.
    const leftover = '.it-conf-oom.zip.tmp-0123456789ab';
    for (let node = 1; node <= lab.addresses.length; node++) {
      await nodeExec(node, 'sh', '-c', `printf partial > ${DIR}/${leftover} && chmod 600 ${DIR}/${leftover}`);
    }
    try {
      const outcome = await save(['--config', lab.clusterYml, '--name', 'it-conf-oom', '--agent-memory', '6']);
      assert.equal(outcome.code, 1, outcome.stderr);
      assert.match(outcome.stderr, /WARN --agent-memory 6: the agent peaks near 110 MiB/);
      // The engine records most of these kills as OOM (the message then says so); one killed as
      // it starts has no oom event (exit-events.ts), and the message must then not guess.
      let reportedAsOom = 0;
      for (const address of lab.addresses) {
        const oom = `${address}: the snapshot container on host ${address} was killed by its memory limit (OOMKilled, exit status 137); if the node needs more, raise --agent-memory`;
        const unrecorded = `${address}: the snapshot container on host ${address} was killed (exit status 137: SIGKILL) before it reported a result: by "docker kill", an operator or the kernel; the engine recorded no OOM kill (it misses one as the container starts: if --agent-memory is low, raise it)`;
        if (outcome.stdout.includes(oom)) reportedAsOom++;
        else assert.ok(outcome.stdout.includes(unrecorded), outcome.stdout);
        assert.match(outcome.stderr, new RegExp(`WARN \\[${address.replace(/\./g, '\\.')}\\] removed the killed snapshot's temporary file\\(s\\): ${DIR}/\\.it-conf-oom\\.zip\\.tmp-0123456789ab`));
      }
      assert.ok(reportedAsOom >= 1, `no node's kill was recorded as OOM: ${outcome.stdout}`);
      for (let node = 1; node <= lab.addresses.length; node++) {
        assert.deepEqual((await snapshotFiles(node)).filter((file) => file.includes('it-conf-oom')), [], `left on node ${node}`);
      }
    } finally {
      // Whatever failed above, the next tests must not find this file.
      for (let node = 1; node <= lab.addresses.length; node++) await nodeExec(node, 'rm', '-f', `${DIR}/${leftover}`).catch(() => undefined);
    }
    await assertNoAgentContainers(lab);
  });
});

describe('--runtime ssh keeps the etcd key in memory', () => {
  test('no file under this machine\'s temp dir or home holds the node\'s etcd key or certificate, after a run and after an interrupted one', async () => {
    const home = tempDir('rke-conf-home-');
    const tmp = tempDir('rke-conf-tmp-');
    const env = { HOME: home, TMPDIR: tmp };
    const secrets = [privateKeyMaterial(readFileSync(lab.nodeKey, 'utf8')), privateKeyMaterial(readFileSync(lab.nodeCert, 'utf8'))];

    const finished = await startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--runtime', 'ssh', '--name', 'it-conf-ssh'], { env }).outcome;
    assert.equal(finished.code, 0, finished.stderr);
    assertNowhereUnder([home, tmp], secrets);

    const { child, outcome } = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--runtime', 'ssh', '--name', 'it-conf-ssh-int'], { env });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (readdirSync(tmp).length > 0) break; // the tunnel's socket directory: the key is loaded, the stream is starting
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGINT');
    const interrupted = await outcome;
    assert.ok(interrupted.code === 130 || interrupted.code === 0, `exit ${interrupted.code}: ${interrupted.stderr}`);
    assertNowhereUnder([home, tmp], secrets);
    assert.deepEqual(readdirSync(tmp), [], 'the tunnel\'s socket directory is removed');
  });
});

/** Every file below `dirs`, read whole: none may contain any of `needles`. */
function assertNowhereUnder(dirs: string[], needles: string[]): void {
  const files = dirs.flatMap(filesBelow);
  for (const file of files) {
    const text = readFileSync(file).toString('latin1');
    for (const needle of needles) assert.ok(!text.includes(needle), `${file} holds key or certificate material`);
  }
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    const info = statSync(full, { throwIfNoEntry: false });
    if (info === undefined) return [];
    return info.isDirectory() ? filesBelow(full) : info.isFile() ? [full] : [];
  });
}

/** Runs a probe with the inspected container's settings and image on node N; returns what each attempt came to. */
async function runProbe(node: number, like: Inspected): Promise<Record<string, string>> {
  const host = like.HostConfig;
  const flags = [
    '--rm', '--network', host.NetworkMode,
    ...host.CapDrop.flatMap((cap: string) => ['--cap-drop', cap]),
    ...host.SecurityOpt.flatMap((opt: string) => ['--security-opt', opt]),
    ...(host.ReadonlyRootfs ? ['--read-only'] : []),
    ...Object.entries(host.Tmpfs as Record<string, string>).flatMap(([mount, options]) => ['--tmpfs', `${mount}:${options}`]),
    ...host.Binds.flatMap((bind: string) => ['-v', bind]),
    '--memory', String(host.Memory), '--pids-limit', String(host.PidsLimit), '--cpu-shares', String(host.CpuShares),
    '--entrypoint', '/usr/local/bin/node',
  ];
  const script = readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'confinement-probe.cjs'), 'utf8');
  const out = await nodeDocker(node, 'run', ...flags, like.Config.Image, '-e', script);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, string>;
}
