import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PartDigester, expectedEtag, isMd5StyleEtag, partCount, unquoteEtag } from './etag.js';

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest();

test('a single part: the MD5 of the bytes (known values)', () => {
  assert.equal(expectedEtag([md5(Buffer.alloc(0))]), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(expectedEtag([md5(Buffer.from('abc'))]), '900150983cd24fb0d6963f7d28e17f72');
});

test('multipart: MD5 of the concatenated binary part MD5s, then -N', () => {
  const parts = [Buffer.from('abc'), Buffer.from('def')].map(md5);
  // md5(0x900150983cd24fb0d6963f7d28e17f72 || 0x4ed9407630eb1000c0f6b63842defa7d)
  const expected = createHash('md5').update(Buffer.from('900150983cd24fb0d6963f7d28e17f724ed9407630eb1000c0f6b63842defa7d', 'hex')).digest('hex');
  assert.equal(expectedEtag(parts), `${expected}-2`);
  assert.throws(() => expectedEtag([]), /no parts/);
});

test('parts: the last part may be full, an empty body is one part', () => {
  const partSize = 4;
  for (const [size, parts] of [[0, 1], [1, 1], [3, 1], [4, 1], [5, 2], [8, 2], [9, 3], [12, 3], [13, 4]] as const) {
    assert.equal(partCount(size, partSize), parts, `size ${size}`);
  }
});

test('the digest of whole parts: SHA-256 of all, MD5 of each, the ETag they imply', () => {
  const partSize = 1000;
  const data = randomBytes(3 * partSize + 17);
  const parts = [0, 1, 2, 3].map((index) => data.subarray(index * partSize, (index + 1) * partSize));
  const digester = new PartDigester();
  assert.deepEqual(parts.map((part) => digester.addPart(part)), parts.map(md5));
  const digest = digester.finish();
  assert.equal(digest.size, data.length);
  assert.equal(digest.sha256, createHash('sha256').update(data).digest('hex'));
  assert.deepEqual(digest.partMd5s, parts.map(md5));
  assert.equal(digest.etag, expectedEtag(parts.map(md5)));
  assert.match(digest.etag, /-4$/);
  assert.deepEqual(new PartDigester().finish().partMd5s, [md5(Buffer.alloc(0))]);
});

test('MD5-style ETags, quoted or not', () => {
  assert.equal(unquoteEtag('"abc"'), 'abc');
  assert.ok(isMd5StyleEtag('"900150983cd24fb0d6963f7d28e17f72"'));
  assert.ok(isMd5StyleEtag('900150983cd24fb0d6963f7d28e17f72-12'));
  assert.equal(isMd5StyleEtag('"900150983cd24fb0d6963f7d28e17f7"'), false);
  assert.equal(isMd5StyleEtag('"opaque-etag"'), false);
  assert.equal(isMd5StyleEtag('900150983cd24fb0d6963f7d28e17f72-0'), false);
});
