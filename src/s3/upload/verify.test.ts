import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { PartDigester, type UploadDigest } from '../etag.js';
import { checkStoredObject } from './verify.js';

function digestOf(bytes: Buffer, partSize: number): UploadDigest {
  const digester = new PartDigester();
  for (let offset = 0; offset < bytes.length; offset += partSize) digester.addPart(bytes.subarray(offset, offset + partSize));
  return digester.finish();
}

const bytes = Buffer.from('a small snapshot zip');
const single = digestOf(bytes, 1024);
const multi = digestOf(Buffer.alloc(25, 1), 10);
const name = 's3://snapshots/rke/snap.zip';

test('same size and the ETag the sent bytes imply: verified by ETag (single PUT and multipart)', () => {
  const md5 = createHash('md5').update(bytes).digest('hex');
  assert.deepEqual(checkStoredObject({ size: bytes.length, etag: `"${md5}"` }, single, name), { verifiedBy: 'etag', etag: md5 });
  assert.equal(multi.partMd5s.length, 3);
  assert.deepEqual(checkStoredObject({ size: 25, etag: `"${multi.etag}"` }, multi, name), { verifiedBy: 'etag', etag: multi.etag });
});

test('a different size or ETag is an error naming the object', () => {
  assert.throws(
    () => checkStoredObject({ size: 3, etag: `"${single.etag}"` }, single, name),
    { message: `uploaded object ${name} does not match the local file (its size is 3 bytes, the file has ${bytes.length})` },
  );
  const other = 'ffffffffffffffffffffffffffffffff-3';
  assert.throws(
    () => checkStoredObject({ size: 25, etag: `"${other}"` }, multi, `${name} (version v1)`),
    { message: `uploaded object ${name} (version v1) does not match the local file (ETag ${other}, expected ${multi.etag} for 3 part(s))` },
  );
});

test('SSE-KMS, SSE-C or a non-MD5 ETag: size only, with a warning', () => {
  const kms = checkStoredObject({ size: bytes.length, etag: '"0123456789abcdef0123456789abcdef"', serverSideEncryption: 'aws:kms' }, single, name);
  assert.deepEqual(kms, {
    verifiedBy: 'size',
    etag: '0123456789abcdef0123456789abcdef',
    warning: `${name} was checked by size only: the object is encrypted with KMS or a customer key`,
  });
  const sseC = checkStoredObject({ size: bytes.length, etag: `"${single.etag}"`, customerKeyAlgorithm: 'AES256' }, single, name);
  assert.equal(sseC.verifiedBy, 'size');
  const opaque = checkStoredObject({ size: bytes.length, etag: '"v2-opaque"' }, single, name);
  assert.equal(opaque.verifiedBy, 'size');
  assert.match(opaque.warning ?? '', /the server's ETag "v2-opaque" is not an MD5/);
  // AES256 (SSE-S3) keeps MD5 ETags: still checked.
  assert.equal(checkStoredObject({ size: bytes.length, etag: `"${single.etag}"`, serverSideEncryption: 'AES256' }, single, name).verifiedBy, 'etag');
});
