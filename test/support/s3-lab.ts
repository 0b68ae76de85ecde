/**
 * The lab's real S3 server (Ceph RGW over HTTPS with its own CA, lab/s3.sh) and its
 * instance-metadata stand-in, for the integration tests.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, envReader } from './lab.js';

const run = promisify(execFile);
const S3_SCRIPT = path.join(REPO_ROOT, 'lab', 's3.sh');

export interface S3LabFacts {
  endpoint: string;
  ca: string;
  otherCa: string;
  bucket: string;
  versionedBucket: string;
  /** Created with Object Lock enabled (versioned). */
  lockedBucket: string;
  /** A key of RGW's testing KMS backend, for --s3-sse aws:kms. */
  kmsKeyId: string;
  accessKey: string;
  secretKey: string;
  restrictedAccessKey: string;
  restrictedSecretKey: string;
  /** The user behind the metadata stand-in's role. */
  roleAccessKey: string;
  roleSecretKey: string;
  imdsEndpoint: string;
  imdsLog: string;
}

/** Reads `lab/s3.sh env` (S3_LAB_DIR is passed through); a lab that is not up is a failure saying how to start it. */
export async function s3LabFacts(): Promise<S3LabFacts> {
  const { stdout } = await run('bash', [S3_SCRIPT, 'env']).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`the S3 lab is not up (bash lab/s3.sh env: ${(error.stderr ?? error.message).trim()}); start it with: bash lab/s3.sh up`);
  });
  const need = envReader(stdout, (key) => `lab/s3.sh env did not print ${key}`);
  return {
    endpoint: need('S3_ENDPOINT'),
    ca: need('S3_CA'),
    otherCa: need('S3_OTHER_CA'),
    bucket: need('S3_BUCKET'),
    versionedBucket: need('S3_VERSIONED_BUCKET'),
    lockedBucket: need('S3_LOCKED_BUCKET'),
    kmsKeyId: need('S3_KMS_KEY_ID'),
    accessKey: need('S3_ACCESS_KEY'),
    secretKey: need('S3_SECRET_KEY'),
    restrictedAccessKey: need('S3_RESTRICTED_ACCESS_KEY'),
    restrictedSecretKey: need('S3_RESTRICTED_SECRET_KEY'),
    roleAccessKey: need('S3_ROLE_ACCESS_KEY'),
    roleSecretKey: need('S3_ROLE_SECRET_KEY'),
    imdsEndpoint: need('IMDS_ENDPOINT'),
    imdsLog: need('IMDS_LOG'),
  };
}

/** A lab S3 user. RGW gives an object to the user who uploaded it: read it back as that user. */
export type S3User = 'admin' | 'restricted' | 'role';

/** The aws cli against the lab S3 server as `user`; parsed JSON output. */
export async function awsAs(user: S3User, ...args: string[]): Promise<any> {
  const { stdout } = await run('bash', [S3_SCRIPT, 'aws', '--user', user, ...args, '--output', 'json'], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim() === '' ? {} : JSON.parse(stdout);
}

export function aws(...args: string[]): Promise<any> {
  return awsAs('admin', ...args);
}

/** Keys of all objects under `prefix` in `bucket`. */
export async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const listing = await aws('s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', prefix);
  return (listing.Contents ?? []).map((object: { Key: string }) => object.Key);
}

/** Download an object to a host file. */
export async function download(bucket: string, key: string, file: string, options: { versionId?: string; user?: S3User } = {}): Promise<void> {
  // One argument: RGW's version ids may start with '-', which aws would read as an option.
  const version = options.versionId ? [`--version-id=${options.versionId}`] : [];
  await awsAs(options.user ?? 'admin', 's3api', 'get-object', '--bucket', bucket, '--key', key, ...version, file);
}

export async function versionsOf(bucket: string, key: string): Promise<string[]> {
  const listing = await aws('s3api', 'list-object-versions', '--bucket', bucket, '--prefix', key);
  return (listing.Versions ?? []).filter((v: { Key: string }) => v.Key === key).map((v: { VersionId: string }) => v.VersionId);
}

/** A fault of the S3 lab: radosgw killed outright or started again; paused (silent, SIGSTOP) or resumed. */
export async function rgw(command: 'rgw-kill' | 'rgw-start' | 'rgw-pause' | 'rgw-resume'): Promise<void> {
  await run('bash', [S3_SCRIPT, command]);
}

/** Multipart uploads the server still holds for keys under `prefix` (started, neither completed nor aborted). */
export async function pendingMultipartUploads(bucket: string, prefix: string): Promise<string[]> {
  const listing = await aws('s3api', 'list-multipart-uploads', '--bucket', bucket, '--prefix', prefix);
  return (listing?.Uploads ?? []).map((upload: { Key: string }) => upload.Key);
}

export async function imds(command: 'imds-stop' | 'imds-start'): Promise<void> {
  await run('bash', [S3_SCRIPT, command]);
}

export function imdsRequests(facts: S3LabFacts): string {
  try {
    return readFileSync(facts.imdsLog, 'utf8');
  } catch {
    return '';
  }
}

/** The ids of the multipart uploads the server still holds for exactly `key`. */
export async function pendingUploadIdsOf(bucket: string, key: string): Promise<string[]> {
  const listing = await aws('s3api', 'list-multipart-uploads', '--bucket', bucket, '--prefix', key);
  return (listing?.Uploads ?? []).filter((upload: { Key: string }) => upload.Key === key).map((upload: { UploadId: string }) => upload.UploadId);
}

/** The lab's admin secret key in a new 0600 file under `dir` (for --secret-key-file); returns its path. */
export function writeSecretKeyFile(facts: S3LabFacts, dir: string): string {
  const file = path.join(dir, 'secret');
  writeFileSync(file, `${facts.secretKey}\n`, { mode: 0o600 });
  return file;
}
