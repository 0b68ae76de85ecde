import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { chooseBlockMethod, huffmanRatio, sampleOf, SAMPLE_SLICE_BYTES, SAMPLE_SLICES } from './block-choice.js';

const manifest = (i: number) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default' }, data: { key: `value-${i % 7}` } });
const json = Buffer.from(Array.from({ length: 20_000 }, (_, i) => manifest(i)).join('\n')).subarray(0, 1024 * 1024);
const base64 = Buffer.from(randomBytes(768 * 1024).toString('base64')).subarray(0, 1024 * 1024);
const random = randomBytes(1024 * 1024);

function ratiosOf(block: Buffer) {
  const sample = sampleOf(block);
  return { huffman: huffmanRatio(sample), deflate: deflateRawSync(sample, { level: 1 }).length / sample.length };
}

test('the order-0 estimate: 1 for uniform bytes, 0.75 (6 bits) for base64, 0 bits plus overhead for one repeated byte', () => {
  assert.ok(huffmanRatio(random) > 0.99);
  assert.ok(Math.abs(huffmanRatio(base64) - 0.755) < 0.01, String(huffmanRatio(base64)));
  assert.ok(huffmanRatio(Buffer.alloc(4096, 7)) < 0.01);
  assert.equal(huffmanRatio(Buffer.alloc(0)), 1);
});

test('manifests are deflated, base64 is Huffman-coded, random bytes are stored', () => {
  assert.equal(chooseBlockMethod(ratiosOf(json)), 'deflate');
  assert.equal(chooseBlockMethod(ratiosOf(base64)), 'huffman');
  assert.equal(chooseBlockMethod(ratiosOf(random)), 'stored');
});

test('the thresholds: stored only when neither saves 3%, Huffman when matches would save under 1.5%', () => {
  assert.equal(chooseBlockMethod({ huffman: 0.98, deflate: 0.975 }), 'stored');
  assert.equal(chooseBlockMethod({ huffman: 0.98, deflate: 0.97 }), 'huffman');
  assert.equal(chooseBlockMethod({ huffman: 0.98, deflate: 0.9 }), 'deflate');
  assert.equal(chooseBlockMethod({ huffman: 0.75, deflate: 0.74 }), 'huffman');
  assert.equal(chooseBlockMethod({ huffman: 0.6, deflate: 0.15 }), 'deflate');
});

test('a block of random bytes with a long repeat inside is still deflated (the deflate sample sees the matches the histogram cannot)', () => {
  const pattern = randomBytes(4096);
  const block = Buffer.concat(Array.from({ length: 256 }, () => pattern));
  assert.ok(huffmanRatio(sampleOf(block)) > 0.97);
  assert.equal(chooseBlockMethod(ratiosOf(block)), 'deflate');
});

test('the sample: slices spread over a large block, the whole of a small one', () => {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(i / (256 * 1024));
  const sample = sampleOf(block);
  assert.equal(sample.length, SAMPLE_SLICES * SAMPLE_SLICE_BYTES);
  assert.deepEqual([...new Set(sample)], [0, 1, 2, 3], 'one slice from each quarter');
  const small = Buffer.from('small');
  assert.equal(sampleOf(small), small);
});
