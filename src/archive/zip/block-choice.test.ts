import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { chooseBlockMethod, sampleOf, SAMPLE_SLICE_BYTES, SAMPLE_SLICES, STORED_ABOVE } from './block-choice.js';
import { zeroRunsSize } from './zero-runs.js';

const manifest = (i: number) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default' }, data: { key: `value-${i % 7}` } });
const json = Buffer.from(Array.from({ length: 20_000 }, (_, i) => manifest(i)).join('\n')).subarray(0, 1024 * 1024);
const base64 = Buffer.from(randomBytes(768 * 1024).toString('base64')).subarray(0, 1024 * 1024);
const random = randomBytes(1024 * 1024);
/** Like etcd's pages holding encrypted values of 18 KB: random bytes, and zeros where the value's last page is not full. */
const paged = Buffer.concat(Array.from({ length: 52 }, () => Buffer.concat([randomBytes(18_000), Buffer.alloc(2480)])));

/** What block-deflate.ts measures on a block's sample. */
function ratiosOf(block: Buffer) {
  const sample = sampleOf(block);
  const ratio = (options: object) => deflateRawSync(sample, options).length / sample.length;
  return { rle: ratio({ level: 1, strategy: constants.Z_RLE }), deflate: ratio({ level: 1 }), zeros: zeroRunsSize(sample) / sample.length };
}

test('manifests are deflated; base64 gets runs and Huffman codes (RLE); paged random bytes their zero runs; random bytes are stored', () => {
  assert.equal(chooseBlockMethod(ratiosOf(json)), 'deflate');
  assert.equal(chooseBlockMethod(ratiosOf(base64)), 'rle');
  assert.equal(chooseBlockMethod(ratiosOf(paged)), 'zeros');
  assert.equal(chooseBlockMethod(ratiosOf(random)), 'stored');
});

test('the thresholds: stored only when nothing saves 3%, zero runs when codes save under 1% more, RLE when matches save under 3% more', () => {
  assert.equal(chooseBlockMethod({ rle: 0.98, deflate: 0.975, zeros: 0.99 }), 'stored');
  assert.equal(chooseBlockMethod({ rle: 0.98, deflate: 0.97, zeros: 0.99 }), 'rle');
  assert.equal(chooseBlockMethod({ rle: 0.98, deflate: 0.97, zeros: 0.975 }), 'zeros');
  assert.equal(chooseBlockMethod({ rle: 0.9, deflate: 0.9, zeros: 0.895 }), 'zeros');
  assert.equal(chooseBlockMethod({ rle: 0.9, deflate: 0.9, zeros: 0.91 }), 'rle');
  assert.equal(chooseBlockMethod({ rle: 0.98, deflate: 0.9, zeros: 0.99 }), 'deflate');
  assert.equal(chooseBlockMethod({ rle: 0.79, deflate: 0.77, zeros: 0.95 }), 'rle');
  assert.equal(chooseBlockMethod({ rle: 0.8, deflate: 0.76, zeros: 0.95 }), 'deflate');
  assert.equal(chooseBlockMethod({ rle: 0.6, deflate: 0.15, zeros: 0.95 }), 'deflate');
});

test('a block of random bytes with a long repeat inside is deflated (the deflate sample sees the matches RLE cannot)', () => {
  const pattern = randomBytes(4096);
  const block = Buffer.concat(Array.from({ length: 256 }, () => pattern));
  assert.ok(ratiosOf(block).rle > STORED_ABOVE);
  assert.equal(chooseBlockMethod(ratiosOf(block)), 'deflate');
});

test('the sample: slices spread over a large block, the whole of a small one', () => {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(i / (256 * 1024));
  const sample = sampleOf(block);
  assert.equal(sample.length, SAMPLE_SLICES * SAMPLE_SLICE_BYTES);
  for (const quarter of [0, 1, 2, 3]) assert.equal(sample.filter((byte) => byte === quarter).length, sample.length / 4, 'as many slices from each quarter');
  const small = Buffer.from('small');
  assert.equal(sampleOf(small), small);
});
