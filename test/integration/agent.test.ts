/**
 * The agent's save flow against a real etcd (Debian's /usr/bin/etcd) over TLS with
 * client-certificate auth, on 127.0.9.1, writing into temporary directories.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { AGENT_USAGE } from '../../src/agent/args.js';
import { parseSaveResultLine, type AgentSaveRequest } from '../../src/agent/protocol/save.js';
import { saveSnapshot } from '../../src/agent/save.js';
import {
  TEST_ETCD_IP,
  etcdctl,
  freePort,
  makeForeignClient,
  makePki,
  restoreSnapshot,
  snapshotStatus,
  startEtcd,
  type Pki,
  type RunningEtcd,
} from '../support/etcd.js';
import { checkWithUnzip, extractWithPython, inspectWithPython } from '../support/zip-tools.js';

const runFile = promisify(execFile);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let root: string;
let pki: Pki;
let etcd: RunningEtcd;
const started: RunningEtcd[] = [];
let caseNumber = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-integration-'));
  pki = await makePki(join(root, 'pki'));
  etcd = await startEtcd({ dir: root, name: 'source', pki });
  started.push(etcd);
  await etcdctl(etcd.clientUrl, pki, ['put', '/registry/test/key', 'value-from-the-snapshot']);
});

after(async () => {
  await Promise.all(started.map((member) => member.stop()));
  await rm(root, { recursive: true, force: true });
});

/** Fresh backup (not yet existing) and certificate directories for one case. */
async function caseDirectories(): Promise<{ backupDir: string; sslDir: string }> {
  const base = join(root, `case-${++caseNumber}`);
  const sslDir = join(base, 'ssl');
  await mkdir(sslDir, { recursive: true });
  return { backupDir: join(base, 'backup'), sslDir };
}

function request(overrides: Partial<AgentSaveRequest> = {}): AgentSaveRequest {
  return {
    name: 'rke_etcd_snapshot_2024-05-01T14:03:07Z',
    endpoint: etcd.clientUrl,
    cacert: pki.ca,
    cert: pki.clientCert,
    key: pki.clientKey,
    overwrite: false,
    healthTimeoutSeconds: 5,
    ...overrides,
  };
}

describe('agent save against a real etcd', () => {
  test('writes NAME.zip in the rke-tools layout, 0600, that etcdctl restores', async () => {
    const directories = await caseDirectories();
    const state = Buffer.from('{"desiredState":{"rkeConfig":{}},"currentState":{}}\n');
    const name = 'rke_etcd_snapshot_2024-05-01T14:03:07Z';
    const logs: string[] = [];
    const result = await saveSnapshot(request({ name }), { stateFileBase64: state.toString('base64') }, {
      directories,
      log: (line) => logs.push(line),
    });

    const zipPath = join(directories.backupDir, `${name}.zip`);
    const zipBytes = await readFile(zipPath);
    assert.equal(result.file, `/opt/rke/etcd-snapshots/${name}.zip`);
    assert.equal(result.size, zipBytes.length);
    assert.equal(result.sha256, sha256(zipBytes));
    assert.equal(result.stateFileIncluded, true);
    assert.equal((await stat(zipPath)).mode & 0o777, 0o600);
    assert.equal((await stat(directories.backupDir)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(directories.backupDir), [`${name}.zip`], 'no temporary or raw file left');
    assert.deepEqual(await readdir(join(root, `case-${caseNumber}`)), ['backup', 'ssl'], 'nothing written outside the snapshots directory');
    assert.deepEqual(await readdir(directories.sslDir), [], 'the state file is never placed on the node');
    assert.ok(logs.some((line) => line.includes('is healthy')), logs.join('\n'));

    const unzip = await checkWithUnzip(zipPath);
    assert.deepEqual(unzip.names, [`/backup/${name}`, `/etc/kubernetes/${name}.rkestate`]);
    const python = await inspectWithPython(zipPath);
    assert.equal(python.bad, null);
    assert.equal(python.entries[1]?.sha256, sha256(state));

    const snapshotFile = join(root, `case-${caseNumber}`, 'snapshot.db');
    await extractWithPython(zipPath, `/backup/${name}`, snapshotFile);
    const snapshot = await readFile(snapshotFile);
    assert.equal(result.snapshotSize, snapshot.length - 32, 'the trailer is kept in the archive');
    assert.equal(result.snapshotSha256, sha256(snapshot.subarray(0, -32)));
    assert.equal(result.snapshotSha256, snapshot.subarray(-32).toString('hex'));

    const status = await snapshotStatus(snapshotFile);
    assert.ok(status.totalKey >= 1, JSON.stringify(status));

    const restoredDir = join(root, `case-${caseNumber}`, 'restored.etcd');
    const peerPort = await restoreSnapshot(snapshotFile, restoredDir, 'restored');
    const restored = await startEtcd({ dir: join(root, `case-${caseNumber}`), name: 'restored', dataDir: restoredDir, peerPort });
    started.push(restored);
    try {
      const value = await etcdctl(restored.clientUrl, undefined, ['get', '/registry/test/key', '--print-value-only']);
      assert.equal(value.trim(), 'value-from-the-snapshot');
    } finally {
      await restored.stop();
    }
  });

  test('without a state file the archive has the snapshot entry only', async () => {
    const directories = await caseDirectories();
    const result = await saveSnapshot(request({ name: 'plain' }), {}, { directories });
    assert.equal(result.stateFileIncluded, false);
    const unzip = await checkWithUnzip(join(directories.backupDir, 'plain.zip'));
    assert.deepEqual(unzip.names, ['/backup/plain']);
  });

  test('an existing NAME.zip is refused without --overwrite and replaced with it', async () => {
    const directories = await caseDirectories();
    await mkdir(directories.backupDir, { mode: 0o700 });
    const zipPath = join(directories.backupDir, 'taken.zip');
    await writeFile(zipPath, 'an older snapshot');
    await assert.rejects(saveSnapshot(request({ name: 'taken' }), {}, { directories }), {
      message: '/opt/rke/etcd-snapshots/taken.zip already exists on this node; pass --overwrite to replace it',
    });
    assert.equal(await readFile(zipPath, 'utf8'), 'an older snapshot');
    assert.deepEqual(await readdir(directories.backupDir), ['taken.zip']);

    const result = await saveSnapshot(request({ name: 'taken', overwrite: true }), {}, { directories });
    assert.equal((await readFile(zipPath)).length, result.size);
    assert.deepEqual(await readdir(directories.backupDir), ['taken.zip']);
  });

  test('etcd unreachable: a clear error at once, and no file', async () => {
    const directories = await caseDirectories();
    const endpoint = `https://${TEST_ETCD_IP}:${await freePort()}`;
    const startedAt = Date.now();
    await assert.rejects(saveSnapshot(request({ endpoint, healthTimeoutSeconds: 3 }), {}, { directories }), {
      message: `etcd at ${endpoint} is not healthy: No connection established. Last error: connect ECONNREFUSED ${endpoint.slice('https://'.length)} (UNAVAILABLE)`,
    });
    assert.ok(Date.now() - startedAt < 3500, 'within the health timeout');
    assert.deepEqual(await readdir(directories.backupDir), []);
    assert.deepEqual(await readdir(directories.sslDir), []);
  });

  test('etcd that never answers: not healthy within the health timeout, and no file', async () => {
    const directories = await caseDirectories();
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts, never speaks TLS
    silent.listen(0, TEST_ETCD_IP);
    await once(silent, 'listening');
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const endpoint = `https://${TEST_ETCD_IP}:${address.port}`;
    const startedAt = Date.now();
    try {
      await assert.rejects(
        saveSnapshot(request({ endpoint, healthTimeoutSeconds: 1 }), { stateFileBase64: 'e30=' }, { directories }),
        { message: `etcd at ${endpoint} is not healthy: no answer within 1 s (DEADLINE_EXCEEDED)` },
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
    // Bounded by the 1 s health timeout (the default is 30 s); generous for a loaded machine.
    assert.ok(Date.now() - startedAt < 10_000, `took ${Date.now() - startedAt} ms`);
    assert.deepEqual(await readdir(directories.backupDir), []);
    assert.deepEqual(await readdir(directories.sslDir), []);
  });

  test('a client certificate etcd does not trust: not healthy, and no file', async () => {
    const directories = await caseDirectories();
    const stranger = await makeForeignClient(join(root, 'stranger'));
    await assert.rejects(
      saveSnapshot(request({ cert: stranger.cert, key: stranger.key }), {}, { directories }),
      { message: `etcd at ${etcd.clientUrl} is not healthy: No connection established. Last error: sslv3 alert bad certificate (UNAVAILABLE)` },
    );
    assert.deepEqual(await readdir(directories.backupDir), []);
  });

  test('a missing certificate file is named', async () => {
    const directories = await caseDirectories();
    await assert.rejects(saveSnapshot(request({ cacert: '/nonexistent/kube-ca.pem' }), {}, { directories }), {
      message: 'cannot read the etcd CA certificate /nonexistent/kube-ca.pem: ENOENT',
    });
  });
});

describe('agent entry point', () => {
  const main = join(process.cwd(), 'dist/src/agent/main.js');

  test('version', async () => {
    const { stdout } = await runFile(process.execPath, [main, 'version']);
    assert.match(stdout, /^rke-snapshot-agent \S+\n$/);
  });

  test('bad arguments: one failure result line on stdout, exit status 1', async () => {
    const failure = await runFile(process.execPath, [main, 'save', '--name', 'x', '--bogus']).then(
      () => assert.fail('expected exit status 1'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(failure.code, 1);
    assert.deepEqual(parseSaveResultLine(failure.stdout), {
      ok: false,
      error: `agent save: unknown argument "--bogus"; ${AGENT_USAGE}`,
    });
    assert.match(failure.stderr, /ERROR agent save: unknown argument/);
  });
});
