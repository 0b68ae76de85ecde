import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { perTestDirectory } from '../../../test/support/case-dirs.js';
import { OperatorError } from '../../errors.js';
import type { S3ClientOptions } from '../client.js';
import type { AgentInput } from '../../agent/protocol/wire.js';
import type { UploadRequest } from './upload.js';
import { PARTS_IN_FLIGHT } from './send.js';
import { uploadSnapshot, type UploadOptions } from './upload.js';

const ACCESS_KEY = 'AKIAFAKEACCESSKEY001';
const SECRET_KEY = 'fake/secret+KEY/with/slashes0000000000000';
const MIB = 1024 * 1024;
const PART = 5 * MIB; // S3's minimum; the agent uses 8 MiB

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest();
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function sdkError(Code: string | undefined, status: number, message = 'UnknownError'): Error {
  return Object.assign(new Error(message), {
    name: Code ?? 'Unknown',
    ...(Code ? { Code, AWSAccessKeyId: ACCESS_KEY } : {}),
    $fault: 'client',
    $metadata: { httpStatusCode: status },
  });
}

interface StoredObject {
  body: Buffer;
  etag: string;
  versionId?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

/**
 * Just enough of an S3 client for the agent's calls, storing objects in memory, checking
 * Content-MD5 and computing ETags like S3. `fail` makes a command throw; `gate` holds one
 * (until released, or until the call's abort signal fires, as the SDK's calls do).
 */
class FakeS3 {
  readonly objects = new Map<string, StoredObject>();
  readonly calls: string[] = [];
  readonly fail = new Map<string, Error>();
  readonly gate = new Map<string, Promise<void>>();
  versioning: 'Enabled' | 'Suspended' | undefined;
  storedEtag: ((etag: string) => string) | undefined;
  private readonly uploads = new Map<string, Map<number, Buffer>>();
  private readonly pending = new Map<string, Record<string, unknown>>();
  private versionCounter = 0;
  readonly config = {
    requestChecksumCalculation: async () => 'WHEN_REQUIRED',
    endpoint: async () => ({ protocol: 'https:', hostname: 'fake.s3', port: undefined, path: '/' }),
    forcePathStyle: true,
    requestHandler: {},
    credentials: async () => ({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }),
  };
  clientOptions: S3ClientOptions | undefined;

  constructor(readonly bucket = 'snapshots') {}

  asClient(): (options: S3ClientOptions) => S3Client {
    return (options) => {
      this.clientOptions = options;
      return this as unknown as S3Client;
    };
  }

  destroy(): void {}

  /** Every part body's underlying memory, to count the buffers the upload used. */
  readonly partMemory = new Set<ArrayBufferLike>();

  async send(command: { input: Record<string, unknown> }, options: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    const name = command.constructor.name;
    this.calls.push(name);
    const gate = this.gate.get(name);
    if (gate !== undefined) await Promise.race([gate, aborted(options.abortSignal)]);
    const failure = this.fail.get(name);
    if (failure !== undefined) throw failure;
    const input = command.input;
    if (input.Bucket !== this.bucket) throw sdkError('NoSuchBucket', 404);
    if (command instanceof HeadBucketCommand || command instanceof ListObjectsV2Command) return {};
    if (command instanceof GetBucketVersioningCommand) return this.versioning ? { Status: this.versioning } : {};
    if (command instanceof HeadObjectCommand) return this.head(input);
    if (input.ContentMD5 !== undefined && input.ContentMD5 !== md5(input.Body as Buffer).toString('base64')) throw sdkError('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
    if (command instanceof PutObjectCommand) return this.store(input, Buffer.from(input.Body as Buffer), md5(input.Body as Buffer).toString('hex'));
    if (command instanceof CreateMultipartUploadCommand) return this.create(input);
    if (command instanceof UploadPartCommand) return this.part(input);
    if (command instanceof CompleteMultipartUploadCommand) return this.complete(input);
    if (command instanceof AbortMultipartUploadCommand) return { deleted: this.uploads.delete(input.UploadId as string) };
    throw new Error(`FakeS3: unexpected ${name}`);
  }

  private head(input: Record<string, unknown>): unknown {
    const object = this.objects.get(input.Key as string);
    if (object === undefined || (input.VersionId !== undefined && input.VersionId !== object.versionId)) throw sdkError(undefined, 404);
    const etag = this.storedEtag ? this.storedEtag(object.etag) : object.etag;
    return { ContentLength: object.body.length, ETag: `"${etag}"`, VersionId: object.versionId, Metadata: object.metadata };
  }

  private store(input: Record<string, unknown>, body: Buffer, etag: string): unknown {
    const versionId = this.versioning === 'Enabled' ? `v${++this.versionCounter}` : undefined;
    this.objects.set(input.Key as string, {
      body,
      etag,
      ...(versionId ? { versionId } : {}),
      contentType: input.ContentType as string,
      metadata: input.Metadata as Record<string, string>,
    });
    return { ETag: `"${etag}"`, ...(versionId ? { VersionId: versionId } : {}) };
  }

  private create(input: Record<string, unknown>): unknown {
    const uploadId = `upload-${this.uploads.size + 1}`;
    this.uploads.set(uploadId, new Map());
    this.pending.set(uploadId, input);
    return { UploadId: uploadId };
  }

  private part(input: Record<string, unknown>): unknown {
    const parts = this.uploads.get(input.UploadId as string);
    if (parts === undefined) throw sdkError('NoSuchUpload', 404);
    this.partMemory.add((input.Body as Buffer).buffer);
    const body = Buffer.from(input.Body as Buffer);
    parts.set(input.PartNumber as number, body);
    return { ETag: `"${md5(body).toString('hex')}"` };
  }

  private complete(input: Record<string, unknown>): unknown {
    const uploadId = input.UploadId as string;
    const parts = this.uploads.get(uploadId);
    if (parts === undefined) throw sdkError('NoSuchUpload', 404);
    const numbers = [...parts.keys()].sort((a, b) => a - b);
    const bodies = numbers.map((number) => parts.get(number)!);
    const etag = `${md5(Buffer.concat(bodies.map(md5))).toString('hex')}-${bodies.length}`;
    this.uploads.delete(uploadId);
    return this.store(this.pending.get(uploadId)!, Buffer.concat(bodies), etag);
  }

}

function aborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal?.aborted) reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
    signal?.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })), { once: true });
  });
}

const dirs = await perTestDirectory('agent-upload-');
const NAME = 'rke_etcd_snapshot_2024-05-01T14:03:07Z';
const KEY = `rke/${NAME}.zip`;

function request(overrides: Partial<UploadRequest> = {}): UploadRequest {
  return { name: NAME, endpoint: '127.0.3.1:7480', bucket: 'snapshots', folder: 'rke', overwrite: false, ...overrides };
}

const keys: AgentInput = { s3: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } };

async function snapshotFile(size: number): Promise<Buffer> {
  const bytes = randomBytes(size);
  await writeFile(join(dirs.path, `${NAME}.zip`), bytes, { mode: 0o600 });
  return bytes;
}

async function run(fake: FakeS3, overrides: Partial<UploadRequest> = {}, options: Partial<UploadOptions> = {}, input = keys) {
  const logs: string[] = [];
  const result = await uploadSnapshot(request(overrides), input, {
    backupDir: dirs.path,
    createClient: fake.asClient(),
    partSize: PART,
    log: (line) => logs.push(line),
    ...options,
  });
  return { result, logs };
}

async function failure(promise: Promise<unknown>): Promise<OperatorError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OperatorError, `expected an OperatorError, got ${String(error)}`);
    assert.ok(!error.message.includes(ACCESS_KEY) && !error.message.includes(SECRET_KEY), error.message);
    return error;
  }
  assert.fail('expected the upload to fail');
}

test('a new key: one PUT, content type, sha256 metadata, verified by ETag', async () => {
  const bytes = await snapshotFile(1000);
  const fake = new FakeS3();
  const { result, logs } = await run(fake);
  assert.deepEqual({ ...result, durationMs: 0 }, {
    ok: true,
    bucket: 'snapshots',
    key: KEY,
    size: 1000,
    sha256: sha256(bytes),
    etag: md5(bytes).toString('hex'),
    verifiedBy: 'etag',
    warnings: [],
    durationMs: 0,
  });
  const stored = fake.objects.get(KEY)!;
  assert.deepEqual(stored.body, bytes);
  assert.equal(stored.contentType, 'application/zip');
  assert.deepEqual(stored.metadata, { sha256: sha256(bytes) });
  assert.deepEqual(fake.calls, ['HeadBucketCommand', 'HeadObjectCommand', 'PutObjectCommand', 'HeadObjectCommand']);
  assert.deepEqual(fake.clientOptions, { endpoint: '127.0.3.1:7480', credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
  const text = logs.join('\n');
  assert.match(text, /uploading \/opt\/rke\/etcd-snapshots\/.*\.zip \(1000 bytes\) to s3:\/\/snapshots\/rke\/.*\.zip at 127\.0\.3\.1:7480/);
  assert.ok(!text.includes(ACCESS_KEY) && !text.includes(SECRET_KEY));
});

test('live progress: the upload\'s bytes, ending with the whole file (multipart)', async () => {
  await snapshotFile(2 * PART + 10);
  const reports: Array<{ phase: string; bytes?: number }> = [];
  const { result } = await run(new FakeS3(), {}, { onProgress: (progress) => reports.push(progress) });
  assert.equal(result.size, 2 * PART + 10);
  assert.ok(reports.length >= 2, JSON.stringify(reports));
  assert.ok(reports.every((report) => report.phase === 'upload'));
  assert.deepEqual(reports.at(-1), { phase: 'upload', bytes: 2 * PART + 10 });
});

test('part boundaries: the expected ETag matches for every size around a part', async () => {
  for (const size of [PART - 1, PART, PART + 1, 2 * PART, 2 * PART + 1]) {
    const bytes = await snapshotFile(size);
    const fake = new FakeS3();
    const { result } = await run(fake);
    assert.equal(result.verifiedBy, 'etag', `size ${size}`);
    const parts = Math.max(1, Math.ceil(size / PART));
    assert.equal(result.etag, fake.objects.get(KEY)!.etag, `size ${size}`);
    assert.equal(result.etag.endsWith(`-${parts}`), parts > 1, `size ${size}: ${result.etag}`);
    assert.equal(fake.calls.includes('CreateMultipartUploadCommand'), parts > 1, `size ${size}`);
    assert.deepEqual(fake.objects.get(KEY)!.body, bytes);
  }
});

test('an object from an earlier run on an unversioned bucket: refused, then replaced with --overwrite', async () => {
  await snapshotFile(100);
  const fake = new FakeS3();
  fake.objects.set(KEY, { body: Buffer.from('old'), etag: md5(Buffer.from('old')).toString('hex') });
  const refused = await failure(run(fake));
  assert.equal(refused.message, `s3://snapshots/${KEY} already exists (from an earlier run); pass --overwrite to replace it`);
  assert.ok(!fake.calls.includes('PutObjectCommand'));
  const { result, logs } = await run(fake, { overwrite: true });
  assert.equal(result.size, 100);
  assert.equal(result.versionId, undefined);
  assert.match(logs.join('\n'), /replacing the object of an earlier run \(--overwrite\)/);
});

test('a versioned bucket: a new version, reported and verified by its id', async () => {
  await snapshotFile(100);
  const fake = new FakeS3();
  fake.versioning = 'Enabled';
  await run(fake);
  const { result } = await run(fake);
  assert.equal(result.versionId, 'v2');
  assert.equal(result.verifiedBy, 'etag');
  assert.deepEqual(fake.calls.slice(-5), ['HeadBucketCommand', 'HeadObjectCommand', 'GetBucketVersioningCommand', 'PutObjectCommand', 'HeadObjectCommand']);
});

test('the seed policy cannot read versioning: a warning, and the bucket is treated as unversioned', async () => {
  await snapshotFile(100);
  const fake = new FakeS3();
  fake.objects.set(KEY, { body: Buffer.from('old'), etag: 'x' });
  fake.fail.set('GetBucketVersioningCommand', sdkError('AccessDenied', 403, 'Access Denied'));
  await failure(run(fake));
  const { result } = await run(fake, { overwrite: true });
  assert.deepEqual(result.warnings, [
    'cannot read the versioning state of bucket snapshots (access denied: the policy lacks s3:GetBucketVersioning); treating it as unversioned',
  ]);
});

test('a refused HEAD is explained by a listing: wrong secret, unknown key, or the policy', async () => {
  await snapshotFile(10);
  for (const [code, expected] of [
    ['SignatureDoesNotMatch', 'S3 endpoint 127.0.3.1:7480 refused the request signature for bucket snapshots: the secret key does not match the access key'],
    ['InvalidAccessKeyId', 'the access key is not known to 127.0.3.1:7480 (bucket snapshots); check --access-key'],
    ['AccessDenied', 'access to bucket snapshots denied at 127.0.3.1:7480: check the keys / the IAM policy'],
  ] as const) {
    const fake = new FakeS3();
    fake.fail.set('HeadBucketCommand', sdkError(undefined, 403));
    fake.fail.set('ListObjectsV2Command', sdkError(code, 403, 'refused'));
    assert.equal((await failure(run(fake))).message, expected);
  }
});

test('a missing bucket', async () => {
  await snapshotFile(10);
  const fake = new FakeS3('other-bucket');
  assert.equal((await failure(run(fake))).message, 'bucket snapshots is not found at 127.0.3.1:7480; check --bucket-name (and --s3-endpoint)');
});

test('a failed multipart upload keeps its own error; a refused abort is added as a note', async () => {
  await snapshotFile(2 * PART + 1);
  const fake = new FakeS3();
  fake.fail.set('CompleteMultipartUploadCommand', sdkError('InternalError', 500, 'We encountered an internal error.'));
  fake.fail.set('AbortMultipartUploadCommand', sdkError('AccessDenied', 403, 'Access Denied'));
  const error = await failure(run(fake));
  assert.equal(
    error.message,
    `S3 upload of s3://snapshots/${KEY} at 127.0.3.1:7480 failed: We encountered an internal error. (InternalError, HTTP 500); ` +
      'the incomplete multipart upload (upload id upload-1) could not be aborted (access denied: the policy lacks s3:AbortMultipartUpload); ' +
      `its parts stay in bucket snapshots until removed (aws s3api abort-multipart-upload --bucket snapshots --key ${KEY} --upload-id upload-1) ` +
      'or expired by a lifecycle rule',
  );
  fake.fail.delete('AbortMultipartUploadCommand');
  const clean = await failure(run(fake));
  assert.equal(clean.message, `S3 upload of s3://snapshots/${KEY} at 127.0.3.1:7480 failed: We encountered an internal error. (InternalError, HTTP 500)`);
  assert.equal(fake.calls.at(-1), 'AbortMultipartUploadCommand');
});

test('a stored object that differs is an error; a non-MD5 ETag is checked by size with a warning', async () => {
  await snapshotFile(100);
  const fake = new FakeS3();
  fake.storedEtag = () => 'ffffffffffffffffffffffffffffffff';
  assert.match((await failure(run(fake))).message, /^uploaded object s3:\/\/snapshots\/rke\/.* does not match the local file \(ETag f{32}, expected [0-9a-f]{32} for 1 part\(s\)\)$/);
  fake.storedEtag = () => 'opaque';
  const { result } = await run(fake, { overwrite: true });
  assert.equal(result.verifiedBy, 'size');
  assert.equal(result.warnings.length, 1);
});

test('SIGTERM during a multipart upload: stopped, the multipart upload aborted', async () => {
  await snapshotFile(2 * PART + 1);
  const fake = new FakeS3();
  let release = () => undefined as void;
  fake.gate.set('UploadPartCommand', new Promise<void>((resolve) => (release = resolve)));
  const controller = new AbortController();
  const pending = run(fake, {}, { signal: controller.signal });
  while (!fake.calls.includes('UploadPartCommand')) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort('SIGTERM');
  const error = await failure(pending);
  release();
  assert.equal(error.message, `interrupted (SIGTERM): the upload of s3://snapshots/${KEY} was stopped`);
  assert.ok(fake.calls.includes('AbortMultipartUploadCommand'));
  assert.ok(!fake.calls.includes('CompleteMultipartUploadCommand'));
});

test('SIGTERM while the multipart upload is being created: once its id is known, it is aborted', async () => {
  await snapshotFile(2 * PART + 1);
  const fake = new FakeS3();
  let release = () => undefined as void;
  fake.gate.set('CreateMultipartUploadCommand', new Promise<void>((resolve) => (release = resolve)));
  const controller = new AbortController();
  const pending = run(fake, {}, { signal: controller.signal });
  while (!fake.calls.includes('CreateMultipartUploadCommand')) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort('SIGTERM');
  release();
  const error = await failure(pending);
  assert.equal(error.message, `interrupted (SIGTERM): the upload of s3://snapshots/${KEY} was stopped`);
  assert.equal(fake.calls.at(-1), 'AbortMultipartUploadCommand');
  assert.ok(!fake.calls.includes('UploadPartCommand'));
});

test('multipart: every part carries its Content-MD5; the parts reuse at most PARTS_IN_FLIGHT buffers', async () => {
  const bytes = await snapshotFile(9 * PART + 3);
  const fake = new FakeS3();
  const { result } = await run(fake);
  assert.equal(fake.calls.filter((call) => call === 'UploadPartCommand').length, 10);
  assert.ok(fake.partMemory.size <= PARTS_IN_FLIGHT, `${fake.partMemory.size} part buffers`);
  assert.deepEqual(fake.objects.get(KEY)!.body, bytes);
  assert.match(result.etag, /-10$/);
});

test('a refused part stops the upload: no further part is read, the upload is aborted, the part\'s error is kept', async () => {
  await snapshotFile(9 * PART + 3);
  const fake = new FakeS3();
  fake.fail.set('UploadPartCommand', sdkError('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.'));
  const error = await failure(run(fake));
  assert.equal(
    error.message,
    `S3 upload of s3://snapshots/${KEY} at 127.0.3.1:7480 failed: The Content-MD5 you specified did not match what we received. (BadDigest, HTTP 400)`,
  );
  assert.ok(fake.calls.filter((call) => call === 'UploadPartCommand').length <= PARTS_IN_FLIGHT);
  assert.equal(fake.calls.at(-1), 'AbortMultipartUploadCommand');
  assert.ok(!fake.calls.includes('CompleteMultipartUploadCommand'));
});

test('the file shrinks during the upload: the read error names the file and part, the upload is aborted', async () => {
  await snapshotFile(5 * PART + 1);
  const fake = new FakeS3();
  let release = () => undefined as void;
  fake.gate.set('UploadPartCommand', new Promise<void>((resolve) => (release = resolve)));
  const pending = run(fake);
  while (fake.calls.filter((call) => call === 'UploadPartCommand').length < PARTS_IN_FLIGHT) await new Promise((resolve) => setTimeout(resolve, 5));
  await truncate(join(dirs.path, `${NAME}.zip`), PART);
  release();
  const error = await failure(pending);
  assert.equal(
    error.message,
    `cannot read /opt/rke/etcd-snapshots/${NAME}.zip for the upload (part 5): the file ends before offset ${5 * PART}`,
  );
  assert.equal(fake.calls.at(-1), 'AbortMultipartUploadCommand');
  assert.ok(!fake.calls.includes('CompleteMultipartUploadCommand'));
});

test('with the SHA-256 the snapshot step read back: used as is, and bytes that do not match it are never stored', async () => {
  for (const size of [100, 2 * PART + 1]) {
    const bytes = await snapshotFile(size);
    const fake = new FakeS3();
    const error = await failure(run(fake, { sha256: 'ab'.repeat(32) }));
    assert.equal(
      error.message,
      `/opt/rke/etcd-snapshots/${NAME}.zip is not the snapshot this run wrote (sent ${size} bytes with sha256 ${sha256(bytes)}; ` +
        `the snapshot step read back sha256 ${'ab'.repeat(32)}): it was replaced or changed in between; check it and run again`,
    );
    assert.ok(!fake.objects.has(KEY), `size ${size}: nothing stored`);
    assert.ok(!fake.calls.includes('PutObjectCommand') && !fake.calls.includes('CompleteMultipartUploadCommand'), `size ${size}`);
    assert.equal(fake.calls.includes('AbortMultipartUploadCommand'), size > PART, `size ${size}`);
    const { result } = await run(new FakeS3(), { sha256: sha256(bytes) });
    assert.equal(result.sha256, sha256(bytes));
  }
});

test('the local file: missing, a symlink, or not a regular file', async () => {
  const fake = new FakeS3();
  assert.equal(
    (await failure(run(fake))).message,
    `/opt/rke/etcd-snapshots/${NAME}.zip does not exist on this node: there is no snapshot of that name to upload`,
  );
  await writeFile(join(dirs.path, 'elsewhere.zip'), 'x');
  await symlink(join(dirs.path, 'elsewhere.zip'), join(dirs.path, `${NAME}.zip`));
  assert.equal((await failure(run(fake))).message, `/opt/rke/etcd-snapshots/${NAME}.zip is a symbolic link; refusing to upload through it`);
  assert.deepEqual(fake.calls, []);
});

test('a directory of that name is refused', async () => {
  await mkdir(join(dirs.path, `${NAME}.zip`));
  assert.match((await failure(run(new FakeS3()))).message, /is not a regular file; refusing to upload it$/);
});

test('no secret in any result, log line or error, even when an SDK message quotes one', async () => {
  await snapshotFile(10);
  const fake = new FakeS3();
  fake.fail.set('HeadBucketCommand', sdkError('WeirdError', 400, `request by ${ACCESS_KEY} signed with ${SECRET_KEY}`));
  const error = await failure(run(fake));
  assert.match(error.message, /\[redacted\]/);
  fake.fail.clear();
  const { result, logs } = await run(fake);
  const everything = JSON.stringify(result) + logs.join('\n');
  assert.ok(!everything.includes(ACCESS_KEY) && !everything.includes(SECRET_KEY));
});

const BUNDLE_KEY = `rke/${NAME}.pki.bundle.tar.gz`;

test('--pki-bundle: the node\'s bundle goes next to the snapshot as NAME.pki.bundle.tar.gz, verified', async () => {
  const zip = await snapshotFile(1000);
  const bundle = randomBytes(300);
  await writeFile(join(dirs.path, 'pki.bundle.tar.gz'), bundle, { mode: 0o600 });
  const fake = new FakeS3();
  const { result } = await run(fake, { pkiBundle: true });
  assert.equal(result.key, KEY);
  assert.equal(result.sha256, sha256(zip));
  assert.deepEqual(result.pkiBundle, {
    key: BUNDLE_KEY,
    size: 300,
    sha256: sha256(bundle),
    etag: md5(bundle).toString('hex'),
    verifiedBy: 'etag',
  });
  assert.deepEqual(fake.objects.get(BUNDLE_KEY)!.body, bundle);
  assert.equal(fake.objects.get(BUNDLE_KEY)!.contentType, 'application/gzip');
  // Both keys are checked before anything is sent.
  assert.deepEqual(fake.calls, [
    'HeadBucketCommand', 'HeadObjectCommand', 'HeadObjectCommand',
    'PutObjectCommand', 'HeadObjectCommand', 'PutObjectCommand', 'HeadObjectCommand',
  ]);
});

test('--pki-bundle: a bundle key left by an earlier run is refused before the snapshot is sent', async () => {
  await snapshotFile(100);
  await writeFile(join(dirs.path, 'pki.bundle.tar.gz'), 'bundle', { mode: 0o600 });
  const fake = new FakeS3();
  fake.objects.set(BUNDLE_KEY, { body: Buffer.from('old'), etag: md5(Buffer.from('old')).toString('hex') });
  const refused = await failure(run(fake, { pkiBundle: true }));
  assert.equal(refused.message, `s3://snapshots/${BUNDLE_KEY} already exists (from an earlier run); pass --overwrite to replace it`);
  assert.ok(!fake.calls.includes('PutObjectCommand'));
  assert.ok(!fake.objects.has(KEY));
});

test('--pki-bundle: a node without the bundle file fails before anything is sent', async () => {
  await snapshotFile(100);
  const fake = new FakeS3();
  const missing = await failure(run(fake, { pkiBundle: true }));
  assert.equal(
    missing.message,
    '/opt/rke/etcd-snapshots/pki.bundle.tar.gz does not exist on this node: this node has no PKI bundle to upload (it is written by save --pki-bundle)',
  );
  assert.deepEqual(fake.calls, []);
});

test('a server that stops answering mid-upload: the upload fails after the stall bound, and the abort is tried', async () => {
  await snapshotFile(2 * PART + 1);
  for (const hung of ['UploadPartCommand', 'PutObjectCommand'] as const) {
    if (hung === 'PutObjectCommand') await snapshotFile(100);
    const fake = new FakeS3();
    fake.gate.set(hung, new Promise<void>(() => undefined)); // never answers
    const started = Date.now();
    const error = await failure(run(fake, {}, { stallMs: 300 }));
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    assert.match(error.message, new RegExp(`^S3 endpoint 127\\.0\\.3\\.1:7480 stopped answering during the upload of s3://snapshots/${KEY}: nothing was accepted for 0\\.3 s`));
    if (hung === 'UploadPartCommand') assert.equal(fake.calls.at(-1), 'AbortMultipartUploadCommand');
  }
});
