/**
 * SPEC §7 on the lab's real Ceph RGW 16 (HTTPS): SSE-C, SSE-KMS (RGW's testing KMS backend),
 * SSE-S3 (AES256: accepted but not applied by RGW 16, so the run warns), Object Lock with a
 * legal hold, and age client-side encryption that Debian's `age` decrypts, through both
 * upload paths (the node's upload container and --runtime ssh from this machine); bad input
 * refused before any node is touched; no key material in any output, argument or container.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, removeNodeSnapshots, save, snapshotFiles } from '../support/cli-run.js';
import { REPO_ROOT, copyFromNode, labEtcdctl, labFacts, nodeDocker, nodeExec, runCli, startCli, tempDir, type CliOutcome, type LabFacts } from '../support/lab.js';
import { aws, listKeys, s3LabFacts, type S3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';
import { extractEntry, restoreAndRead, sha256File } from '../support/snapshot-check.js';

const run = promisify(execFile);
const S3_SCRIPT = path.join(REPO_ROOT, 'lab', 's3.sh');

let lab: LabFacts;
let s3: S3LabFacts;
let work: string;
let secretFile: string;
let sseKeyFile: string;
let sseKey: Buffer;
let identityFile: string;
let recipient: string;
let identityLine: string;
let sshUpload: { folder: string; uploadedFrom: string } | undefined;
/** Folders of the earlier tests' uploads, for the ls/verify/rm tests at the end. */
const folders: Record<string, string> = {};
/** A host copy of the uploading node's it-enc-age.zip (the S3 copy's plaintext). */
let ageOriginal: string | undefined;
const MARKER_KEY = 'rke-snapshot-test/enc-marker';
const marker = `enc-${Date.now()}`;

before(async () => {
  lab = await labFacts();
  s3 = await s3LabFacts();
  await removeNodeSnapshots(lab, 'it-enc-*');
  work = tempDir('rke-s3-enc-it-');
  secretFile = writeSecretKeyFile(s3, work);
  sseKey = randomBytes(32);
  sseKeyFile = path.join(work, 'sse-c.key');
  writeFileSync(sseKeyFile, sseKey, { mode: 0o600 });
  identityFile = path.join(work, 'age-identity.txt');
  await run('age-keygen', ['-o', identityFile]);
  recipient = (await run('age-keygen', ['-y', identityFile])).stdout.trim();
  identityLine = readFileSync(identityFile, 'utf8').split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-'))!;
  await labEtcdctl('put', MARKER_KEY, marker);
});

after(async () => {
  if (lab) await assertNoAgentContainers(lab);
});

function folderFor(label: string): string {
  return `it-enc/${label}-${Date.now()}`;
}

function s3Args(bucket: string, folder: string): string[] {
  return ['--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca, '--bucket-name', bucket, '--access-key', s3.accessKey, '--secret-key-file', secretFile, '--folder', folder];
}

/** No key material anywhere in what the run printed. */
function assertNoKeyMaterial(texts: string[]): void {
  for (const text of texts) {
    assert.ok(!text.includes(sseKey.toString('base64')), 'the SSE-C key (base64) leaked');
    assert.ok(!text.includes(sseKey.toString('hex')), 'the SSE-C key (hex) leaked');
    assert.ok(!text.includes(identityLine), 'the age identity leaked');
    assert.ok(!text.includes(s3.secretKey), 'the S3 secret key leaked');
  }
}

/** Runs snapshot-save while polling docker inspect of the upload containers and this machine's process list. */
async function saveWatched(args: string[]): Promise<{ result: CliOutcome; seen: string[] }> {
  const { outcome } = startCli(['etcd', 'snapshot-save', '--config', lab.clusterYml, '--progress', 'none', ...args]);
  const seen: string[] = [];
  let running = true;
  void outcome.then(() => (running = false));
  while (running) {
    for (let node = 1; node <= lab.addresses.length; node++) {
      const inspected = await nodeDocker(node, 'inspect', 'etcd-snapshot-upload').catch(() => '');
      if (inspected.includes('"Id"')) seen.push(inspected);
    }
    seen.push((await run('ps', ['-eo', 'args'])).stdout);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The upload container lives about a second on this lab: say whether the polling caught it.
  console.log(`docker inspect caught the upload container ${seen.filter((text) => text.includes('"Id"')).length} time(s)`);
  return { result: await outcome, seen };
}

function jsonOf(result: CliOutcome): { s3: { key: string; sha256: string; size: number; uploadedFrom: string; protection?: Record<string, any>; warnings: string[] } } {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function nodeCopy(address: string, name: string): Promise<string> {
  const node = lab.addresses.indexOf(address) + 1;
  assert.ok(node > 0, `unknown node ${address}`);
  const local = path.join(work, `${name}-node${node}.zip`);
  await copyFromNode(node, `/opt/rke/etcd-snapshots/${name}.zip`, local);
  return local;
}

/** The aws cli (admin user) with SSE-C headers from the key file; throws on failure. */
async function awsSseC(...args: string[]): Promise<any> {
  const { stdout } = await run('bash', [S3_SCRIPT, 'aws', ...args, '--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${sseKeyFile}`, '--output', 'json'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim() === '' ? {} : JSON.parse(stdout);
}

describe('snapshot-save --s3: the copy that leaves the cluster (SPEC §7)', () => {
  test('bad input is refused before any node is touched, one line each, without key material', async () => {
    const shortKey = path.join(work, 'short.key');
    writeFileSync(shortKey, randomBytes(31));
    const folder = folderFor('bad');
    const cases: Array<[string[], RegExp]> = [
      [['--s3-sse-c-key-file', shortKey], /--s3-sse-c-key-file .*short\.key: holds 31 bytes; an SSE-C key is exactly 32 raw bytes or 44 characters of base64/],
      [['--s3-sse-c-key-file', path.join(work, 'missing.key')], /--s3-sse-c-key-file: cannot read .*missing\.key/],
      [['--s3-sse', 'AES256', '--s3-sse-c-key-file', sseKeyFile], /--s3-sse-c-key-file and --s3-sse: give only one/],
      [['--s3-sse-kms-key-id', s3.kmsKeyId], /--s3-sse-kms-key-id needs --s3-sse aws:kms/],
      [['--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-days', '0'], /--s3-object-lock-days "0": give a whole number of days above 0/],
      [['--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-until', '2001-01-01T00:00:00Z'], /--s3-object-lock-until 2001-01-01T00:00:00Z: is in the past/],
      [['--encrypt-recipient', 'age1notarecipient'], /--encrypt-recipient: "age1notarecipient" is not an age X25519 recipient/],
      [['--encrypt-recipient', identityLine], /this is an age identity \(a secret key\), not a recipient/],
      [['--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-days', '1'], /bucket snapshots does not have Object Lock enabled \(GetObjectLockConfiguration/],
    ];
    for (const [extra, expected] of cases) {
      const name = 'it-enc-bad';
      const outcome = await save(['--config', lab.clusterYml, '--name', name, ...s3Args(s3.bucket, folder), ...extra]);
      assert.equal(outcome.code, 1, `${extra.join(' ')}: ${outcome.stderr}`);
      const lines = outcome.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${extra.join(' ')}: not one line:\n${outcome.stderr}`);
      assert.match(lines[0]!, expected);
      assertNoKeyMaterial([outcome.stdout, outcome.stderr]);
      for (let node = 1; node <= lab.addresses.length; node++) assert.ok(!(await snapshotFiles(node)).includes(`${name}.zip`), `node ${node} was touched`);
    }
    assert.deepEqual(await listKeys(s3.bucket, folder), []);
  });

  test('SSE-C from the node\'s upload container: every request carries the key; without it the object cannot be read; the key is nowhere', async () => {
    const folder = folderFor('ssec');
    folders.ssec = folder;
    const { result, seen } = await saveWatched(['--name', 'it-enc-ssec', ...s3Args(s3.bucket, folder), '--s3-sse-c-key-file', sseKeyFile, '--output', 'json', '--debug']);
    const document = jsonOf(result);
    assert.equal(document.s3.key, `${folder}/it-enc-ssec.zip`);
    assert.equal(document.s3.protection?.customerKeyAlgorithm, 'AES256');
    assertNoKeyMaterial([result.stdout, result.stderr, ...seen]);
    await assert.rejects(aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', document.s3.key), 'HeadObject without the key must fail');
    const head = await awsSseC('s3api', 'head-object', '--bucket', s3.bucket, '--key', document.s3.key);
    assert.equal(head.SSECustomerAlgorithm, 'AES256');
    assert.equal(head.ContentLength, document.s3.size);
    const object = path.join(work, 'ssec.zip');
    await awsSseC('s3api', 'get-object', '--bucket', s3.bucket, '--key', document.s3.key, object);
    assert.equal(sha256File(object), sha256File(await nodeCopy(document.s3.uploadedFrom, 'it-enc-ssec')));
    console.log(`SSE-C object as RGW reports it: ${JSON.stringify({ SSECustomerAlgorithm: head.SSECustomerAlgorithm, SSECustomerKeyMD5: head.SSECustomerKeyMD5, ETag: head.ETag })}`);
  });

  test('SSE-KMS (RGW testing backend): the server reports aws:kms and the key id', async () => {
    const folder = folderFor('kms');
    const result = await save(['--config', lab.clusterYml, '--name', 'it-enc-kms', ...s3Args(s3.bucket, folder), '--s3-sse', 'aws:kms', '--s3-sse-kms-key-id', s3.kmsKeyId]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^S3: s3://${s3.bucket}/${folder}/it-enc-kms\\.zip uploaded from .*; server-side encryption aws:kms \\(key ${s3.kmsKeyId}\\)$`, 'm'));
    const head = await aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', `${folder}/it-enc-kms.zip`);
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, s3.kmsKeyId);
    console.log(`SSE-KMS object as RGW reports it: ${JSON.stringify({ ServerSideEncryption: head.ServerSideEncryption, SSEKMSKeyId: head.SSEKMSKeyId, ETag: head.ETag })}`);
  });

  test('SSE-S3 (AES256) on RGW 16: accepted but not reported back, so the run says so', async () => {
    const folder = folderFor('aes');
    const result = await save(['--config', lab.clusterYml, '--name', 'it-enc-aes', ...s3Args(s3.bucket, folder), '--s3-sse', 'AES256']);
    assert.equal(result.code, 0, result.stderr);
    const head = await aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', `${folder}/it-enc-aes.zip`);
    if (head.ServerSideEncryption === 'AES256') {
      assert.match(result.stdout, /; server-side encryption AES256$/m);
    } else {
      assert.match(result.stderr, /server-side encryption AES256 was asked for, the server reports none/);
    }
    console.log(`SSE-S3 object as RGW reports it: ${JSON.stringify({ ServerSideEncryption: head.ServerSideEncryption ?? null, ETag: head.ETag })}`);
  });

  test('age from the node\'s upload container: NAME.zip.age, Debian\'s age decrypts it to the node\'s zip, sha256 recorded is the plain zip\'s', async () => {
    const folder = folderFor('age');
    folders.age = folder;
    const { result, seen } = await saveWatched(['--name', 'it-enc-age', ...s3Args(s3.bucket, folder), '--encrypt-recipient', recipient, '--output', 'json']);
    const document = jsonOf(result);
    assert.equal(document.s3.key, `${folder}/it-enc-age.zip.age`);
    assert.deepEqual(document.s3.protection?.age, { recipients: 1 });
    assertNoKeyMaterial([result.stdout, result.stderr, ...seen]);
    assert.deepEqual(await listKeys(s3.bucket, folder), [document.s3.key]);
    const encrypted = path.join(work, 'age-object.age');
    await aws('s3api', 'get-object', '--bucket', s3.bucket, '--key', document.s3.key, encrypted);
    assert.ok(!readFileSync(encrypted).subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1')), 'the object is a plain zip');
    const decrypted = path.join(work, 'age-object.zip');
    await run('age', ['--decrypt', '-i', identityFile, '-o', decrypted, encrypted]);
    const local = await nodeCopy(document.s3.uploadedFrom, 'it-enc-age');
    ageOriginal = local;
    assert.equal(sha256File(decrypted), sha256File(local), 'age -d does not give the node\'s zip');
    assert.equal(document.s3.sha256, sha256File(local));
    const head = await aws('s3api', 'head-object', '--bucket', s3.bucket, '--key', document.s3.key);
    assert.equal(head.Metadata.sha256, sha256File(local));
    assert.equal(head.ContentLength, document.s3.size);
  });

  test('age and SSE-C with --runtime ssh (uploaded from this machine)', async () => {
    const folder = folderFor('ssh');
    const result = await save([
      '--config', lab.clusterYml, '--runtime', 'ssh', '--name', 'it-enc-ssh', ...s3Args(s3.bucket, folder),
      '--encrypt-recipient', recipient, '--s3-sse-c-key-file', sseKeyFile, '--output', 'json', '--debug',
    ]);
    const document = jsonOf(result);
    assertNoKeyMaterial([result.stdout, result.stderr]);
    assert.equal(document.s3.key, `${folder}/it-enc-ssh.zip.age`);
    assert.equal(document.s3.protection?.customerKeyAlgorithm, 'AES256');
    const encrypted = path.join(work, 'ssh-object.age');
    await awsSseC('s3api', 'get-object', '--bucket', s3.bucket, '--key', document.s3.key, encrypted);
    const decrypted = path.join(work, 'ssh-object.zip');
    await run('age', ['--decrypt', '-i', identityFile, '-o', decrypted, encrypted]);
    assert.equal(sha256File(decrypted), sha256File(await nodeCopy(document.s3.uploadedFrom, 'it-enc-ssh')));
    sshUpload = { folder, uploadedFrom: document.s3.uploadedFrom };
  });

  test('snapshot-fetch --output-file: the age + SSE-C copy back, byte-identical to the node\'s zip, 0600, restorable; wrong or missing keys write nothing', async () => {
    assert.ok(sshUpload, 'needs the --runtime ssh upload of the test before');
    const { folder, uploadedFrom } = sshUpload;
    const fetchArgs = (extra: string[]) => [
      'etcd', 'snapshot-fetch', '--name', 'it-enc-ssh', '--config', lab.clusterYml, ...s3Args(s3.bucket, folder), ...extra,
    ];
    const output = path.join(work, 'fetched', 'it-enc-ssh.zip');
    await run('mkdir', ['-p', path.dirname(output)]);
    const other = path.join(work, 'other-identity.txt');
    await run('age-keygen', ['-o', other]);
    const refusals: Array<[string[], RegExp]> = [
      [['--output-file', output, '--s3-sse-c-key-file', sseKeyFile, '--identity-file', other], /--identity-file .*other-identity\.txt: no identity matches a recipient of s3:\/\/\S+\/it-enc-ssh\.zip\.age; nothing was written/],
      [['--output-file', output, '--s3-sse-c-key-file', sseKeyFile], /it-enc-ssh\.zip\.age is encrypted with age: pass --identity-file/],
      [['--output-file', output, '--identity-file', identityFile], /it-enc-ssh\.zip\.age is encrypted with a customer key \(SSE-C\): pass --s3-sse-c-key-file/],
    ];
    for (const [extra, expected] of refusals) {
      const outcome = await runCli(fetchArgs(extra));
      assert.equal(outcome.code, 1, outcome.stderr);
      assert.match(outcome.stderr, expected);
      assertNoKeyMaterial([outcome.stdout, outcome.stderr]);
      assert.deepEqual(readdirSync(path.dirname(output)), [], 'something was written');
    }
    const fetched = await runCli(fetchArgs(['--output-file', output, '--s3-sse-c-key-file', sseKeyFile, '--identity-file', identityFile]));
    assert.equal(fetched.code, 0, fetched.stderr);
    assertNoKeyMaterial([fetched.stdout, fetched.stderr]);
    assert.match(fetched.stdout, /^fetched s3:\/\/\S+\/it-enc-ssh\.zip\.age to \S+: \d+ bytes, sha256 [0-9a-f]{64}, revision \d+; verified: zip, etcd's trailer, sha256 recorded at upload$/m);
    const local = await nodeCopy(uploadedFrom, 'it-enc-ssh');
    assert.equal(sha256File(output), sha256File(local), 'the fetched zip is not the node\'s');
    assert.equal((statSync(output).mode & 0o777).toString(8), '600');
    assert.deepEqual(readdirSync(path.dirname(output)), ['it-enc-ssh.zip'], 'a temporary file was left');
    // An existing file is refused unless --overwrite.
    const again = await runCli(fetchArgs(['--output-file', output, '--s3-sse-c-key-file', sseKeyFile, '--identity-file', identityFile]));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; pass --overwrite to replace it/);
    assert.equal((await runCli(fetchArgs(['--output-file', output, '--s3-sse-c-key-file', sseKeyFile, '--identity-file', identityFile, '--overwrite']))).code, 0);
    // The same restore check as snapshot-save's: etcdctl restores the snapshot inside and an etcd on it serves the marker.
    const snapshot = path.join(work, 'fetched-it-enc-ssh.db');
    await extractEntry(output, '/backup/it-enc-ssh', snapshot);
    assert.equal(await restoreAndRead(snapshot, tempDir('rke-enc-restore-'), '127.0.16.99', MARKER_KEY), marker);
  });

  test('--runtime ssh: SSE-KMS with Object Lock GOVERNANCE until a date and a legal hold, as the server reports them', async () => {
    const folder = folderFor('ssh-kms-lock');
    const until = new Date(Date.now() + 2 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const result = await save([
      '--config', lab.clusterYml, '--runtime', 'ssh', '--name', 'it-enc-ssh-kms', ...s3Args(s3.lockedBucket, folder),
      '--s3-sse', 'aws:kms', '--s3-sse-kms-key-id', s3.kmsKeyId, '--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-until', until, '--s3-legal-hold', '--output', 'json',
    ]);
    const document = jsonOf(result) as any;
    assert.equal(document.s3.protection?.serverSideEncryption, 'aws:kms');
    assert.equal(document.s3.protection?.kmsKeyId, s3.kmsKeyId);
    assert.deepEqual(document.s3.protection?.objectLock, { mode: 'GOVERNANCE', retainUntil: new Date(until).toISOString() });
    assert.equal(document.s3.protection?.legalHold, 'ON');
    const head = await aws('s3api', 'head-object', '--bucket', s3.lockedBucket, '--key', document.s3.key, `--version-id=${document.s3.versionId}`);
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.ObjectLockMode, 'GOVERNANCE');
    assert.equal(head.ObjectLockLegalHoldStatus, 'ON');
  });

  test('Object Lock GOVERNANCE with a legal hold: retention and hold read back and reported; a delete is refused', async () => {
    const folder = folderFor('lock');
    const result = await save([
      '--config', lab.clusterYml, '--name', 'it-enc-lock', ...s3Args(s3.lockedBucket, folder),
      '--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-days', '1', '--s3-legal-hold', '--output', 'json',
    ]);
    folders.lock = folder;
    const document = jsonOf(result) as any;
    assert.equal(document.s3.protection?.objectLock?.mode, 'GOVERNANCE');
    const until = new Date(document.s3.protection.objectLock.retainUntil).getTime();
    assert.ok(Math.abs(until - (Date.now() + 86_400_000)) < 10 * 60_000, `retain-until ${document.s3.protection.objectLock.retainUntil} is not about a day away`);
    assert.equal(document.s3.protection?.legalHold, 'ON');
    const key = document.s3.key as string;
    const versionId = document.s3.versionId as string;
    const retention = await aws('s3api', 'get-object-retention', '--bucket', s3.lockedBucket, '--key', key, `--version-id=${versionId}`);
    assert.equal(retention.Retention.Mode, 'GOVERNANCE');
    const hold = await aws('s3api', 'get-object-legal-hold', '--bucket', s3.lockedBucket, '--key', key, `--version-id=${versionId}`);
    assert.equal(hold.LegalHold.Status, 'ON');
    await assert.rejects(aws('s3api', 'delete-object', '--bucket', s3.lockedBucket, '--key', key, `--version-id=${versionId}`), 'a locked version was deleted');
    console.log(`Object Lock object as RGW reports it: ${JSON.stringify({ Retention: retention.Retention, LegalHold: hold.LegalHold })}`);
  });
});

describe('snapshot-ls/-verify/-rm --s3 on protected objects (SPEC §7)', () => {
  const manage = (command: string, bucket: string, folder: string, extra: string[]) =>
    runCli(['etcd', command, '--config', lab.clusterYml, '--progress', 'none', ...s3Args(bucket, folder), ...extra]);

  test('ls lists NAME.zip.age as an encrypted zip, and SSE-C objects as such (their sha256 with the key)', async () => {
    assert.ok(folders.age && folders.ssec, 'needs the uploads above');
    const age = await manage('snapshot-ls', s3.bucket, folders.age, ['--output', 'json']);
    assert.equal(age.code, 0, age.stderr);
    const s3Copy = (stdout: string, name: string) =>
      JSON.parse(stdout).snapshots.find((group: any) => group.name === name).copies.find((copy: any) => copy.location === 's3');
    const ageObject = s3Copy(age.stdout, 'it-enc-age');
    assert.deepEqual([ageObject.file, ageObject.kind, ageObject.encryption], [`s3://${s3.bucket}/${folders.age}/it-enc-age.zip.age`, 'zip', ['age']]);
    assert.match(ageObject.sha256, /^[0-9a-f]{64}$/);
    const table = await manage('snapshot-ls', s3.bucket, folders.ssec, []);
    assert.match(table.stdout, /^it-enc-ssec\s+zip\+zip \(SSE-C \(no key given\)\)\s/m);
    const keyed = await manage('snapshot-ls', s3.bucket, folders.ssec, ['--s3-sse-c-key-file', sseKeyFile, '--output', 'json']);
    const ssecObject = s3Copy(keyed.stdout, 'it-enc-ssec');
    assert.deepEqual(ssecObject.encryption, ['SSE-C']);
    assert.match(ssecObject.sha256, /^[0-9a-f]{64}$/);
    assertNoKeyMaterial([keyed.stdout, keyed.stderr]);
  });

  test('verify: an age copy is "encrypted, not verified"; an SSE-C copy needs the key (clear error), and with it is verified', async () => {
    const age = await manage('snapshot-verify', s3.bucket, folders.age!, ['--name', 'it-enc-age']);
    assert.equal(age.code, 0, age.stderr);
    assert.match(age.stdout, /ENCRYPTED/);
    assert.match(age.stdout, /it-enc-age\.zip\.age: encrypted with age, not verified here/);
    // With --identity-file: decrypted and checked on this machine, and found identical to the uploading node's copy.
    const decrypted = await manage('snapshot-verify', s3.bucket, folders.age!, ['--name', 'it-enc-age', '--identity-file', identityFile, '--output', 'json']);
    assert.equal(decrypted.code, 0, decrypted.stderr);
    assertNoKeyMaterial([decrypted.stdout, decrypted.stderr]);
    const s3Check = JSON.parse(decrypted.stdout).locations.find((l: any) => l.location === 's3');
    assert.equal(s3Check.status, 'ok', decrypted.stdout);
    assert.equal(s3Check.file, `s3://${s3.bucket}/${folders.age}/it-enc-age.zip.age`);
    assert.ok(s3Check.matches.length >= 1, 'not found identical to any node copy (the uploading node\'s at least)');
    const other = path.join(work, 'verify-other-identity.txt');
    await run('age-keygen', ['-o', other]);
    const wrong = await manage('snapshot-verify', s3.bucket, folders.age!, ['--name', 'it-enc-age', '--identity-file', other]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /no identity matches a recipient of s3:\/\/\S+it-enc-age\.zip\.age/);
    const withoutKey = await manage('snapshot-verify', s3.bucket, folders.ssec!, ['--name', 'it-enc-ssec']);
    assert.equal(withoutKey.code, 1);
    assert.match(withoutKey.stderr, /it-enc-ssec\.zip is encrypted with a customer key \(SSE-C\): pass --s3-sse-c-key-file to verify it/);
    for (const runtime of ['docker', 'ssh']) {
      const withKey = await manage('snapshot-verify', s3.bucket, folders.ssec!, ['--name', 'it-enc-ssec', '--s3-sse-c-key-file', sseKeyFile, '--runtime', runtime]);
      assert.equal(withKey.code, 0, withKey.stderr);
      assert.match(withKey.stdout, /identical to the copy on/);
      assertNoKeyMaterial([withKey.stdout, withKey.stderr]);
    }
  });

  test('rm on a locked object: "locked until T (mode)", kept; the nodes\' copies still removed; exit 1', async () => {
    assert.ok(folders.lock, 'needs the Object Lock upload above');
    const outcome = await manage('snapshot-rm', s3.lockedBucket, folders.lock, ['--name', 'it-enc-lock']);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stdout, /REFUSED\s+it-enc-lock\.zip: locked until \d{4}-\d\d-\d\dT[\d:.]+Z \(GOVERNANCE\), under legal hold/);
    for (let node = 1; node <= lab.addresses.length; node++) assert.ok(!(await snapshotFiles(node)).includes('it-enc-lock.zip'), `node ${node} kept it`);
    assert.deepEqual(await listKeys(s3.lockedBucket, folders.lock), [`${folders.lock}/it-enc-lock.zip`]);
  });

  test('snapshot-fetch --to-nodes: an existing file refused unless --overwrite; placed byte-identical, 0600, on every node, where verify finds it good', async () => {
    assert.ok(folders.age && ageOriginal, 'needs the age upload above');
    const fetch = (extra: string[]) =>
      runCli(['etcd', 'snapshot-fetch', '--name', 'it-enc-age', '--config', lab.clusterYml, ...s3Args(s3.bucket, folders.age!), '--identity-file', identityFile, '--to-nodes', ...extra]);
    const before = await Promise.all(lab.addresses.map((_, index) => nodeExec(index + 1, 'sha256sum', '/opt/rke/etcd-snapshots/it-enc-age.zip')));
    const refused = await fetch([]);
    assert.equal(refused.code, 1);
    for (const address of lab.addresses) assert.match(refused.stdout, new RegExp(`^${address.replace(/\./g, '\\.')}\\s+FAILED\\s+/opt/rke/etcd-snapshots/it-enc-age\\.zip already exists on host ${address.replace(/\./g, '\\.')}; pass --overwrite`, 'm'));
    const after = await Promise.all(lab.addresses.map((_, index) => nodeExec(index + 1, 'sha256sum', '/opt/rke/etcd-snapshots/it-enc-age.zip')));
    assert.deepEqual(after, before, 'a refused placement changed a node\'s file');
    await removeNodeSnapshots(lab, 'it-enc-age.zip');
    const placed = await fetch([]);
    assert.equal(placed.code, 0, placed.stderr);
    assertNoKeyMaterial([placed.stdout, placed.stderr]);
    for (let node = 1; node <= lab.addresses.length; node++) {
      const copy = path.join(work, `placed-node${node}.zip`);
      await copyFromNode(node, '/opt/rke/etcd-snapshots/it-enc-age.zip', copy);
      assert.equal(sha256File(copy), sha256File(ageOriginal!), `node ${node}: the placed file is not the original`);
      assert.equal((await nodeExec(node, 'stat', '-c', '%a', '/opt/rke/etcd-snapshots/it-enc-age.zip')).trim(), '600');
      assert.deepEqual((await snapshotFiles(node)).filter((file) => file.includes('it-enc-age')), ['it-enc-age.zip'], 'a temporary file was left');
    }
    const verified = await runCli(['etcd', 'snapshot-verify', '--config', lab.clusterYml, '--progress', 'none', '--name', 'it-enc-age']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stderr, /3 good copies/);
    assert.equal((await fetch(['--overwrite'])).code, 0);
  });

  test('prune --s3 with a locked object among the old ones: it is kept and reported, the other old one removed, exit 1', async () => {
    assert.ok(folders.lock, 'needs the Object Lock upload above');
    // Keep more than any node holds, so that the nodes lose nothing (as s3-inventory's prune test).
    let most = 0;
    for (let node = 1; node <= lab.addresses.length; node++) most = Math.max(most, (await snapshotFiles(node)).filter((f) => f.endsWith('.zip') && !f.startsWith('.')).length);
    const keep = most + 1;
    const body = path.join(work, 'dummy.zip');
    writeFileSync(body, 'not a snapshot, only a name for prune');
    await aws('s3api', 'put-object', '--bucket', s3.lockedBucket, '--key', `${folders.lock}/it-enc-p-old.zip`, '--body', body);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const source = tempDir('rke-enc-prune-');
    for (let index = 0; index < keep; index++) writeFileSync(path.join(source, `it-enc-p-new${String(index).padStart(3, '0')}.zip`), `object ${index}`);
    await aws('s3', 'cp', '--recursive', '--quiet', source, `s3://${s3.lockedBucket}/${folders.lock}/`);
    const outcome = await manage('snapshot-prune', s3.lockedBucket, folders.lock, ['--keep', String(keep), '--output', 'json']);
    assert.equal(outcome.code, 1, outcome.stderr);
    const s3Location = JSON.parse(outcome.stdout).locations.at(-1);
    assert.equal(s3Location.location, 's3');
    const statuses = Object.fromEntries(s3Location.remove.map((r: any) => [r.name, r.status]));
    assert.deepEqual(statuses, { 'it-enc-lock': 'refused', 'it-enc-p-old': 'removed' });
    const locked = s3Location.remove.find((r: any) => r.name === 'it-enc-lock');
    assert.match(locked.refused[0].reason, /^locked until \d{4}-\d\d-\d\dT[\d:.]+Z \(GOVERNANCE\), under legal hold$/);
    const left = (await listKeys(s3.lockedBucket, folders.lock)).map((key) => path.basename(key));
    assert.ok(left.includes('it-enc-lock.zip') && !left.includes('it-enc-p-old.zip'), left.join(', '));
  });

  test('after all of the above: no SSE-C key or age identity in any file the nodes keep', async () => {
    const leaked = await run('grep', ['-rlF', '--binary-files=text', '-e', sseKey.toString('base64'), '-e', sseKey.toString('hex'), '-e', identityLine, path.join(lab.dir, 'nodes')]).then(
      (found) => found.stdout,
      (error: { code?: number }) => {
        if (error.code === 1) return ''; // grep: no match
        throw error;
      },
    );
    assert.equal(leaked, '', `key material is in these node files:\n${leaked}`);
  });
});
