/**
 * `snapshot-save --s3` end to end: the 3-node lab and a real S3 server (Ceph RGW over
 * HTTPS with its own CA, SigV4 enforced) plus an instance-metadata stand-in.
 * scripts/test.sh brings both up.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import { REPO_ROOT, copyFromNode, privateKeyMaterial, labEtcdctl, labFacts, nodeDocker, outputShows, startCli, tempDir, type CliOutcome, type LabFacts } from '../support/lab.js';
import { aws, download, imdsRequests, listKeys, pendingMultipartUploads, rgw, s3LabFacts, versionsOf, type S3LabFacts, type S3User, writeSecretKeyFile } from '../support/s3-lab.js';
import { sha256File } from '../support/snapshot-check.js';

const run = promisify(execFile);

let lab: LabFacts;
let s3: S3LabFacts;
let work: string;
let secretFile: string;

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  await removeNodeSnapshots(lab, 'it-s3-*');
  work = tempDir('rke-s3-it-');
  secretFile = writeSecretKeyFile(s3, work);
});

after(async () => {
  if (lab) await assertNoAgentContainers(lab);
});

/** A fresh folder per test, so that listings only see that test's objects. */
function uniqueFolder(label: string): string {
  return `it/${label}-${Date.now()}`;
}

function endpointArgs(bucket = s3.bucket): string[] {
  return ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', bucket];
}

function adminKeyArgs(): string[] {
  return ['--access-key', s3.accessKey, '--secret-key-file', secretFile];
}

/** The node the report says uploaded, and the key. */
function uploadedFrom(stdout: string): { address: string; key: string; versionId?: string } {
  const match = /^S3: s3:\/\/[^/]+\/(\S+) uploaded from (\S+): .*?(?:, version (\S+))?$/m.exec(stdout);
  assert.ok(match, `no S3 line in:\n${stdout}`);
  return { key: match[1]!, address: match[2]!, ...(match[3] ? { versionId: match[3] } : {}) };
}

/** The S3 object is byte-identical to the zip on the node the report names. */
async function assertObjectIsNodeFile(
  bucket: string,
  key: string,
  address: string,
  name: string,
  options: { versionId?: string; user?: S3User } = {},
): Promise<void> {
  const node = lab.addresses.indexOf(address) + 1;
  assert.ok(node > 0, `unknown node ${address}`);
  const local = path.join(work, `${name}-node${node}.zip`);
  const remote = path.join(work, `${name}-s3.zip`);
  await copyFromNode(node, `/opt/rke/etcd-snapshots/${name}.zip`, local);
  await download(bucket, key, remote, options);
  assert.equal(sha256File(remote), sha256File(local), `s3://${bucket}/${key} differs from ${address}'s file`);
}

async function assertLocalSnapshotsKept(name: string): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) {
    assert.ok((await snapshotFiles(node)).includes(`${name}.zip`), `node ${node} lost its local snapshot`);
  }
}

describe('snapshot-save --s3 uploads exactly one verified copy', () => {
  test('keys on the command line: one object, byte-identical to the named node\'s file, no secret in any output', async () => {
    const folder = uniqueFolder('flags');
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-s3-flags', ...endpointArgs(), '--access-key', s3.accessKey, '--secret-key', s3.secretKey, '--folder', `/${folder}/`, '--debug']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3-flags.zip`]);
    const uploaded = uploadedFrom(outcome.stdout);
    assert.equal(uploaded.key, `${folder}/it-s3-flags.zip`);
    assert.match(tableRow(outcome.stdout, uploaded.address), /uploaded$/);
    await assertObjectIsNodeFile(s3.bucket, uploaded.key, uploaded.address, 'it-s3-flags');
    const head = await aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', uploaded.key);
    assert.equal(head.ContentType, 'application/zip');
    assert.ok(!(outcome.stdout + outcome.stderr).includes(s3.secretKey), 'the secret key was printed');
    await assertNoAgentContainers(lab);
  });

  test('keys, bucket, endpoint, CA and folder only in cluster.yml (s3backupconfig)', async () => {
    const folder = uniqueFolder('file');
    const file = clusterFile(lab, 's3-file', (config) => {
      config.services.etcd.backup_config.s3backupconfig = {
        access_key: s3.accessKey,
        secret_key: s3.secretKey,
        bucket_name: s3.bucket,
        endpoint: s3.endpoint,
        custom_ca: readFileSync(s3.ca, 'utf8'),
        folder,
      };
    });
    const outcome = await save(['--config', file, '--name', 'it-s3-file', '--s3']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3-file.zip`]);
    const uploaded = uploadedFrom(outcome.stdout);
    await assertObjectIsNodeFile(s3.bucket, uploaded.key, uploaded.address, 'it-s3-file');
  });

  test('--secret-key-file', async () => {
    const folder = uniqueFolder('secret-file');
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-s3-secret-file', ...endpointArgs(), ...adminKeyArgs(), '--folder', folder]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3-secret-file.zip`]);
  });

  test('when the chosen node cannot upload, the next node\'s copy goes up and the report says which', async () => {
    const folder = uniqueFolder('fallback');
    const blocked = lab.addresses[0]!;
    const { tag } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'dist/agent-image/image.json'), 'utf8')) as { tag: string };
    // A running upload container of "another run" on the first node: it must be refused there, not killed.
    await nodeDocker(1, 'run', '-d', '--name', 'etcd-snapshot-upload', '--network', 'host', '--entrypoint', '/usr/local/bin/node', tag, '-e', 'setInterval(() => {}, 1000)');
    try {
      const outcome = await save(['--config', lab.clusterYml, '--name', 'it-s3-fallback', ...endpointArgs(), ...adminKeyArgs(), '--folder', folder]);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(outcome.stdout, new RegExp(`${escapeRegExp(blocked)}: upload: .*already running on host ${escapeRegExp(blocked)}`));
      const uploaded = uploadedFrom(outcome.stdout);
      assert.notEqual(uploaded.address, blocked);
      await assertObjectIsNodeFile(s3.bucket, uploaded.key, uploaded.address, 'it-s3-fallback');
      assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3-fallback.zip`]);
      assert.equal((await nodeDocker(1, 'inspect', '-f', '{{.State.Running}}', 'etcd-snapshot-upload')).trim(), 'true', 'the other run was not harmed');

      const strict = await save(['--config', lab.clusterYml, '--name', 'it-s3-fallback-strict', ...endpointArgs(), ...adminKeyArgs(), '--folder', folder, '--strict']);
      assert.equal(strict.code, 1);
      assert.match(strict.stderr, /--strict: the upload failed on/);
    } finally {
      await nodeDocker(1, 'rm', '-f', 'etcd-snapshot-upload');
    }
  });

  test('no keys anywhere: credentials come from the node\'s IAM role (instance metadata)', async () => {
    const folder = uniqueFolder('iam');
    const before = imdsRequests(s3).length;
    const file = clusterFile(lab, 'iam', (config) => {
      config.services.etcd.extra_env = [`AWS_EC2_METADATA_SERVICE_ENDPOINT=${s3.imdsEndpoint}`];
    });
    const outcome = await save(['--config', file, '--name', 'it-s3-iam', ...endpointArgs(), '--folder', folder]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3-iam.zip`]);
    assert.match(imdsRequests(s3).slice(before), /security-credentials/, 'the metadata service was not asked');
    const uploaded = uploadedFrom(outcome.stdout);
    await assertObjectIsNodeFile(s3.bucket, uploaded.key, uploaded.address, 'it-s3-iam', { user: 'role' });
  });

  test('no keys and no metadata service: a clear error, local snapshots kept', async () => {
    const file = clusterFile(lab, 'no-creds', (config) => {
      config.services.etcd.extra_env = ['AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.3.9'];
    });
    const outcome = await save(['--config', file, '--name', 'it-s3-no-creds', ...endpointArgs(), '--folder', uniqueFolder('no-creds')]);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stdout, /no S3 credentials/);
    assert.match(outcome.stderr, /ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/);
    await assertLocalSnapshotsKept('it-s3-no-creds');
  });

  test('a user with exactly the seed\'s sample IAM policy uploads', async () => {
    const folder = uniqueFolder('policy');
    const restrictedSecret = path.join(work, 'restricted-secret');
    writeFileSync(restrictedSecret, s3.restrictedSecretKey, { mode: 0o600 });
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-s3-policy', ...endpointArgs(), '--access-key', s3.restrictedAccessKey, '--secret-key-file', restrictedSecret, '--folder', folder]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(await listKeys(s3.bucket, folder), [`${folder}/it-s3-policy.zip`]);
    const uploaded = uploadedFrom(outcome.stdout);
    await assertObjectIsNodeFile(s3.bucket, uploaded.key, uploaded.address, 'it-s3-policy', { user: 'restricted' });
  });
});

describe('S3 failures are clear, exit 1, and keep the local snapshots', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['a wrong secret key (signature refused)', () => [...endpointArgs(), '--access-key', s3.accessKey, '--secret-key', 'not-the-secret'], /secret key does not match/i],
    ['an unknown access key', () => [...endpointArgs(), '--access-key', 'UNKNOWNACCESSKEY0000', '--secret-key', 'whatever'], /access key is not known/i],
    ['a missing bucket', () => [...endpointArgs('no-such-bucket'), ...adminKeyArgs()], /bucket no-such-bucket is not found/],
    ['a CA that did not sign the server\'s certificate', () => ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.otherCa, '--bucket-name', s3.bucket, ...adminKeyArgs()], /certificate|TLS/i],
    ['the endpoint is down', () => ['--s3', '--s3-endpoint', s3.endpoint.replace(/:\d+$/, ':7481'), '--s3-endpoint-ca', s3.ca, '--bucket-name', s3.bucket, ...adminKeyArgs()], /refused|connect/i],
  ];
  cases.forEach(([title, args, expected], index) => {
    test(title, async () => {
      const name = `it-s3-fail-${index}`;
      const outcome = await save(['--config', lab.clusterYml, '--name', name, ...args(), '--folder', uniqueFolder(`fail-${index}`)]);
      assert.equal(outcome.code, 1, outcome.stderr);
      assert.match(outcome.stdout, expected);
      assert.match(outcome.stderr, /ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/);
      await assertLocalSnapshotsKept(name);
      await assertNoAgentContainers(lab);
    });
  });

  for (const [title, args, expected] of [
    ['a CA file that does not exist', ['--s3-endpoint-ca', '/nonexistent/ca.pem'], /--s3-endpoint-ca: cannot read \/nonexistent\/ca\.pem/],
    ['a CA file that is not PEM', ['--s3-endpoint-ca', '/etc/hostname'], /--s3-endpoint-ca \/etc\/hostname: is not a PEM certificate/],
  ] as Array<[string, string[], RegExp]>) {
    test(`${title} is refused before any node is touched`, async () => {
      const outcome = await save(['--config', lab.clusterYml, '--name', 'it-s3-bad-ca', '--s3', '--s3-endpoint', s3.endpoint, '--bucket-name', s3.bucket, ...args]);
      assert.equal(outcome.code, 1);
      assert.match(outcome.stderr, expected);
      assert.equal((await snapshotFiles(1)).includes('it-s3-bad-ca.zip'), false);
    });
  }
});

describe('an object left by an earlier run', () => {
  test('unversioned bucket: refused with a clear message, then --overwrite replaces it', async () => {
    const folder = uniqueFolder('stale');
    const key = `${folder}/it-s3-stale.zip`;
    const stale = path.join(work, 'stale.zip');
    writeFileSync(stale, 'an older snapshot');
    await aws('s3api', 'put-object', '--bucket', s3.bucket, '--key', key, '--body', stale);

    const refused = await save(['--config', lab.clusterYml, '--name', 'it-s3-stale', ...endpointArgs(), ...adminKeyArgs(), '--folder', folder]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, new RegExp(`s3://${s3.bucket}/${escapeRegExp(key)} already exists.*--overwrite`));
    await download(s3.bucket, key, path.join(work, 'still-stale.zip'));
    assert.equal(readFileSync(path.join(work, 'still-stale.zip'), 'utf8'), 'an older snapshot');

    const replaced = await save(['--config', lab.clusterYml, '--name', 'it-s3-stale', ...endpointArgs(), ...adminKeyArgs(), '--folder', folder, '--overwrite']);
    assert.equal(replaced.code, 0, replaced.stderr);
    const uploaded = uploadedFrom(replaced.stdout);
    await assertObjectIsNodeFile(s3.bucket, key, uploaded.address, 'it-s3-stale');
  });

  test('versioned bucket: a new version, its id reported', async () => {
    const folder = uniqueFolder('versioned');
    const key = `${folder}/it-s3-versioned.zip`;
    const stale = path.join(work, 'stale-v.zip');
    writeFileSync(stale, 'an older snapshot');
    await aws('s3api', 'put-object', '--bucket', s3.versionedBucket, '--key', key, '--body', stale);

    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-s3-versioned', ...endpointArgs(s3.versionedBucket), ...adminKeyArgs(), '--folder', folder]);
    assert.equal(outcome.code, 0, outcome.stderr);
    const uploaded = uploadedFrom(outcome.stdout);
    assert.ok(uploaded.versionId, `no version id in:\n${outcome.stdout}`);
    const versions = await versionsOf(s3.versionedBucket, key);
    assert.equal(versions.length, 2);
    assert.ok(versions.includes(uploaded.versionId));
    await assertObjectIsNodeFile(s3.versionedBucket, key, uploaded.address, 'it-s3-versioned', { versionId: uploaded.versionId });
  });
});

describe('a large snapshot', () => {
  const keys = 300;
  before(async () => {
    // ~300 MiB of incompressible values, one MiB per key (etcd's request limit is 1.5 MiB).
    const value = path.join(tempDir('rke-big-'), 'value');
    for (let i = 0; i < keys; i++) {
      await run('bash', ['-c', `head -c 1000000 /dev/urandom > ${value} && bash ${REPO_ROOT}/lab/lab.sh etcdctl put big/${i} < ${value}`]);
    }
  });
  after(async () => {
    await labEtcdctl('del', '--prefix', 'big/');
    const revision = /"revision":(\d+)/.exec(await labEtcdctl('endpoint', 'status', '-w', 'json'))?.[1];
    if (revision) await labEtcdctl('compact', revision);
    await labEtcdctl('defrag', '--cluster');
  });

  test('300 MiB uploads as multipart, memory stays flat, no secret in docker inspect, any process\'s arguments or any node file', async (t) => {
    const folder = uniqueFolder('big');
    const { child, outcome } = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-s3-big', ...endpointArgs(), '--access-key', s3.accessKey, '--secret-key-file', secretFile, '--folder', folder, '--debug']);
    const seen: string[] = [];
    let running = true;
    void outcome.then(() => (running = false));
    while (running) {
      for (let node = 1; node <= lab.addresses.length; node++) {
        for (const name of ['etcd-snapshot-once', 'etcd-snapshot-upload']) {
          const inspected = await nodeDocker(node, 'inspect', name).catch(() => '');
          if (inspected.includes('"Id"')) seen.push(inspected);
        }
      }
      seen.push((await run('ps', ['-eo', 'args'])).stdout);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await outcome;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(child.exitCode === 0);
    assert.ok(seen.some((text) => text.includes('etcd-snapshot-upload')), 'never caught the upload container running');
    for (const text of seen) assert.ok(!text.includes(s3.secretKey), 'the secret key is visible in docker inspect or a process\'s arguments');
    assert.ok(!(result.stdout + result.stderr).includes(s3.secretKey));
    assert.ok(!(result.stdout + result.stderr).includes(Buffer.from(s3.secretKey).toString('base64')));
    // Nor in any file the nodes keep (their /opt/rke, /etc/kubernetes, /var/run, Docker's data and logs).
    const sshKeyLine = privateKeyMaterial(readFileSync(lab.sshKey, 'utf8'));
    const leaked = await run('grep', ['-rlF', '--binary-files=text', '-e', s3.secretKey, '-e', sshKeyLine, path.join(lab.dir, 'nodes')]).then(
      (found) => found.stdout,
      (error: { code?: number; stderr?: string }) => {
        if (error.code === 1) return ''; // grep: no match
        throw error;
      },
    );
    assert.equal(leaked, '', `a secret is in these node files:\n${leaked}`);

    const uploaded = uploadedFrom(result.stdout);
    const head = await aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', uploaded.key);
    assert.ok(head.ContentLength > 290 * 1024 * 1024, `only ${head.ContentLength} bytes`);
    assert.match(head.ETag, /-\d+"?$/, 'not a multipart upload');
    await assertObjectIsNodeFile(s3.bucket, uploaded.key, uploaded.address, 'it-s3-big');
    for (const line of result.stderr.split('\n').filter((l) => /peak RSS/i.test(l))) t.diagnostic(line);
  });
  /**
   * Start a run with --s3 and wait until its multipart upload is under way on the server.
   * `--compression none`: these tests are about the upload, and the values are random
   * bytes that deflate cannot shrink anyway; it saves the suite deflating 3 × 300 MiB twice.
   */
  async function startUpload(name: string, folder: string) {
    const run = startCli([
      'etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', name, '--compression', 'none',
      ...endpointArgs(), ...adminKeyArgs(), '--folder', folder,
    ]);
    let exited = false;
    void run.outcome.then(() => (exited = true));
    const deadline = Date.now() + 240_000;
    while ((await pendingMultipartUploads(s3.bucket, folder)).length === 0) {
      assert.ok(!exited, 'the run ended before its multipart upload was seen');
      assert.ok(Date.now() < deadline, 'the multipart upload never started');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return run;
  }

  test('radosgw dies mid-upload: the upload fails naming the endpoint, no object appears, local snapshots kept', async (t) => {
    const folder = uniqueFolder('rgw-dies');
    // Killed as soon as the CLI reports upload bytes moving: asking the server for its multipart
    // uploads (awscli, seconds each on a loaded machine) let a whole upload finish first.
    const run = startCli([
      'etcd', 'snapshot-save', '--config', lab.clusterYml, '--name', 'it-s3-rgw-dies', '--compression', 'none',
      ...endpointArgs(), ...adminKeyArgs(), '--folder', folder,
    ]);
    await outputShows(run.child, /progress: upload \d/);
    await rgw('rgw-kill');
    let outcome: CliOutcome;
    try {
      outcome = await run.outcome;
    } finally {
      await rgw('rgw-start');
    }
    t.diagnostic(`exit ${outcome.code}; ${outcome.stdout.split('\n').filter((l) => /^\s+\S+: /.test(l)).map((l) => l.trim()).join(' | ')}`);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stderr, /ERROR the snapshot was saved on 3 node\(s\) but not uploaded to S3/);
    assert.match(outcome.stdout, new RegExp(escapeRegExp(s3.endpoint)));
    assert.deepEqual(await listKeys(s3.bucket, folder), [], 'no object, partial or whole, under the folder');
    // The dead server could not be asked to abort: the incomplete upload stays until a lifecycle rule or an operator removes it.
    t.diagnostic(`incomplete multipart uploads left on the server: ${(await pendingMultipartUploads(s3.bucket, folder)).length}`);
    await assertLocalSnapshotsKept('it-s3-rgw-dies');
    await assertNoAgentContainers(lab);
    await removeNodeSnapshots(lab, 'it-s3-rgw-dies*');
  });

  test('SIGTERM during the upload: the container is removed, the multipart upload aborted, exit 143', async () => {
    const folder = uniqueFolder('sigterm-upload');
    const run = await startUpload('it-s3-sigterm-upload', folder);
    run.child.kill('SIGTERM');
    const outcome = await run.outcome;
    assert.equal(outcome.code, 143, outcome.stderr);
    assert.match(outcome.stderr, /SIGTERM received/);
    assert.deepEqual(await listKeys(s3.bucket, folder), []);
    assert.deepEqual(await pendingMultipartUploads(s3.bucket, folder), [], 'the multipart upload was left on the server');
    await assertNoAgentContainers(lab);
    await removeNodeSnapshots(lab, 'it-s3-sigterm-upload*');
  });
});
