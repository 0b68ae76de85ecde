/**
 * The agent's upload flow (uploadSnapshot, with the backup directory in a temp dir)
 * against the lab's real S3 server: Ceph radosgw over HTTPS with its own CA, checking
 * SigV4 signatures (lab/s3.sh). Fails, does not skip, when that lab is not up.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { OperatorError } from '../../src/errors.js';
import type { AgentInput } from '../../src/agent/protocol/wire.js';
import type { UploadRequest } from '../../src/s3/upload/upload.js';
import type { UploadedSnapshot } from '../../src/model/snapshot.js';
import { uploadSnapshot } from '../../src/s3/upload/upload.js';
import { PART_SIZE } from '../../src/s3/upload/send.js';
import { createS3Client } from '../../src/s3/client.js';
import { snapshotObjectKey } from '../../src/s3/key.js';
import { perTestDirectory } from '../support/case-dirs.js';
import { s3LabFacts, type S3LabFacts } from '../support/s3-lab.js';

const MIB = 1024 * 1024;

const dirs = await perTestDirectory('agent-upload-s3-');
/** Every run writes under its own prefix, removed afterwards. */
const FOLDER = `agent-upload-test/${Date.now()}-${randomBytes(3).toString('hex')}`;
let lab: S3LabFacts;
let caPem: string;
let admin: S3Client;
let caseNumber = 0;

before(async () => {
  lab = await s3LabFacts();
  caPem = await readFile(lab.ca, 'utf8');
  admin = createS3Client({ endpoint: lab.endpoint, customCaPem: caPem, credentials: { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey } });
});

after(async () => {
  if (admin === undefined) return;
  for (const bucket of [lab.bucket, lab.versionedBucket]) await removePrefix(bucket, FOLDER);
  admin.destroy();
});

/** One DeleteObject per version: a batch DeleteObjects wants a Content-MD5, which this SDK no longer sends and Ceph 16 may insist on. */
async function removePrefix(bucket: string, prefix: string): Promise<void> {
  const listing = await admin.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
  for (const entry of [...(listing.Versions ?? []), ...(listing.DeleteMarkers ?? [])]) {
    const version = entry.VersionId && entry.VersionId !== 'null' ? { VersionId: entry.VersionId } : {};
    await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: entry.Key!, ...version }));
  }
}

/** A fresh snapshot name and NAME.zip of `size` random bytes in this test's backup directory. */
async function snapshot(size: number): Promise<{ name: string; bytes: Buffer }> {
  const name = `rke_etcd_snapshot_case-${++caseNumber}`;
  const bytes = randomBytes(size);
  await writeFile(path.join(dirs.path, `${name}.zip`), bytes, { mode: 0o600 });
  return { name, bytes };
}

function request(name: string, overrides: Partial<UploadRequest> = {}): UploadRequest {
  return { name, endpoint: lab.endpoint, bucket: lab.bucket, folder: FOLDER, overwrite: false, ...overrides };
}

function adminInput(overrides: AgentInput['s3'] = {}): AgentInput {
  return { s3: { accessKeyId: lab.accessKey, secretAccessKey: lab.secretKey, customCaPem: caPem, ...overrides } };
}

async function upload(req: UploadRequest, input: AgentInput): Promise<{ result: UploadedSnapshot; logs: string[] }> {
  const logs: string[] = [];
  const result = await uploadSnapshot(req, input, { backupDir: dirs.path, log: (line) => logs.push(line) });
  return { result, logs };
}

async function uploadFails(req: UploadRequest, input: AgentInput): Promise<string> {
  try {
    await uploadSnapshot(req, input, { backupDir: dirs.path });
  } catch (error) {
    assert.ok(error instanceof OperatorError, `expected an operator error, got ${String(error)}`);
    for (const secret of [lab.secretKey, lab.accessKey, lab.restrictedSecretKey, lab.restrictedAccessKey]) {
      assert.ok(!error.message.includes(secret), `a key in: ${error.message}`);
    }
    return error.message;
  }
  assert.fail('expected the upload to fail');
}

/** RGW gives an object to the user who uploaded it: read it back as that user. */
async function storedSha256(bucket: string, key: string, versionId?: string, reader: S3Client = admin): Promise<string> {
  const reply = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  const hash = createHash('sha256');
  for await (const chunk of reply.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('agent upload against the lab S3 server (Ceph RGW, HTTPS, own CA)', () => {
  test('a small file: one PUT, verified by ETag, byte-identical, application/zip with its sha256', async () => {
    const { name, bytes } = await snapshot(64 * 1024);
    const { result, logs } = await upload(request(name), adminInput());
    const key = snapshotObjectKey(FOLDER, name);
    assert.equal(result.key, key);
    assert.equal(result.size, bytes.length);
    assert.equal(result.sha256, sha256(bytes));
    assert.equal(result.verifiedBy, 'etag');
    assert.match(result.etag, /^[0-9a-f]{32}$/);
    assert.deepEqual(result.warnings, []);
    assert.equal(await storedSha256(lab.bucket, key), sha256(bytes));
    const head = await admin.send(new HeadObjectCommand({ Bucket: lab.bucket, Key: key }));
    assert.equal(head.ContentType, 'application/zip');
    assert.equal(head.Metadata?.sha256, sha256(bytes));
    assert.ok(!logs.join('\n').includes(lab.accessKey) && !logs.join('\n').includes(lab.secretKey));
  });

  test('a ~40 MiB file: multipart (parts of PART_SIZE), streamed, byte-identical', async () => {
    const { name, bytes } = await snapshot(40 * MIB + 12345);
    const { result } = await upload(request(name), adminInput());
    assert.equal(result.verifiedBy, 'etag');
    assert.match(result.etag, new RegExp(`^[0-9a-f]{32}-${Math.ceil(bytes.length / PART_SIZE)}$`));
    assert.equal(result.size, bytes.length);
    assert.equal(await storedSha256(lab.bucket, result.key), sha256(bytes));
  });

  test('an object left by an earlier run: refused, then replaced with --overwrite', async () => {
    const { name } = await snapshot(1000);
    await upload(request(name), adminInput());
    const replacement = randomBytes(2000);
    await writeFile(path.join(dirs.path, `${name}.zip`), replacement);
    const key = snapshotObjectKey(FOLDER, name);
    assert.equal(
      await uploadFails(request(name), adminInput()),
      `s3://${lab.bucket}/${key} already exists (from an earlier run); pass --overwrite to replace it`,
    );
    const { result } = await upload(request(name, { overwrite: true }), adminInput());
    assert.equal(result.size, 2000);
    assert.equal(await storedSha256(lab.bucket, key), sha256(replacement));
  });

  test('a versioned bucket: a second upload of the key adds a version and reports its id', async () => {
    const { name, bytes } = await snapshot(1000);
    const first = (await upload(request(name, { bucket: lab.versionedBucket }), adminInput())).result;
    const second = (await upload(request(name, { bucket: lab.versionedBucket }), adminInput())).result;
    assert.ok(first.versionId && second.versionId && first.versionId !== second.versionId, `${first.versionId} ${second.versionId}`);
    assert.equal(second.verifiedBy, 'etag');
    const versions = await admin.send(new ListObjectVersionsCommand({ Bucket: lab.versionedBucket, Prefix: second.key }));
    assert.equal(versions.Versions?.length, 2);
    assert.equal(await storedSha256(lab.versionedBucket, second.key, second.versionId), sha256(bytes));
  });

  test('a missing bucket', async () => {
    const { name } = await snapshot(10);
    assert.equal(
      await uploadFails(request(name, { bucket: 'no-such-bucket-here' }), adminInput()),
      `bucket no-such-bucket-here is not found at ${lab.endpoint}; check --bucket-name (and --s3-endpoint)`,
    );
  });

  test('a wrong secret key, and an unknown access key', async () => {
    const { name } = await snapshot(10);
    assert.equal(
      await uploadFails(request(name), adminInput({ secretAccessKey: `${lab.secretKey.slice(0, -4)}XXXX` })),
      `S3 endpoint ${lab.endpoint} refused the request signature for bucket ${lab.bucket}: the secret key does not match the access key`,
    );
    assert.equal(
      await uploadFails(request(name), adminInput({ accessKeyId: 'NOSUCHACCESSKEY00000' })),
      `the access key is not known to ${lab.endpoint} (bucket ${lab.bucket}); check --access-key`,
    );
  });

  test("TLS: a different CA than the server's, or none, is refused with a hint", async () => {
    const { name } = await snapshot(10);
    const expected = new RegExp(
      `^TLS to S3 endpoint ${lab.endpoint.replace(/\./g, '\\.')} failed: its certificate is not signed by a trusted CA \\([A-Z_]+\\); pass the CA's PEM file with --s3-endpoint-ca`,
    );
    assert.match(await uploadFails(request(name), adminInput({ customCaPem: await readFile(lab.otherCa, 'utf8') })), expected);
    const { customCaPem: _none, ...withoutCa } = adminInput().s3!;
    assert.match(await uploadFails(request(name), { s3: withoutCa }), expected);
  });

  test("exactly the seed's sample policy (ListBucket, *Object): uploads; an existing key needs --overwrite, with a warning", async () => {
    const { name } = await snapshot(1000);
    const restricted = adminInput({ accessKeyId: lab.restrictedAccessKey, secretAccessKey: lab.restrictedSecretKey });
    const { result } = await upload(request(name), restricted);
    assert.equal(result.verifiedBy, 'etag');
    assert.match(await uploadFails(request(name), restricted), /already exists \(from an earlier run\); pass --overwrite/);
    const replaced = (await upload(request(name, { overwrite: true }), restricted)).result;
    assert.deepEqual(replaced.warnings, [
      `cannot read the versioning state of bucket ${lab.bucket} (access denied: the policy lacks s3:GetBucketVersioning); treating it as unversioned`,
    ]);
  });

  test("no keys: the node's IAM role from the instance-metadata stand-in (AWS_EC2_METADATA_SERVICE_ENDPOINT)", async () => {
    const { name, bytes } = await snapshot(1000);
    const saved = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = lab.imdsEndpoint;
    try {
      const { result } = await upload(request(name), { s3: { customCaPem: caPem } });
      const role = createS3Client({ endpoint: lab.endpoint, customCaPem: caPem, credentials: { accessKeyId: lab.roleAccessKey, secretAccessKey: lab.roleSecretKey } });
      try {
        assert.equal(await storedSha256(lab.bucket, result.key, undefined, role), sha256(bytes));
      } finally {
        role.destroy();
      }
    } finally {
      if (saved === undefined) delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
      else process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = saved;
    }
  });
});
