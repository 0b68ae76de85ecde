import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { BlockDeflate, blocksInFlight, describeBlocks } from './block-deflate.js';

const BLOCK = 64 * 1024;
const manifests = Buffer.from(
  Array.from({ length: 4000 }, (_, i) => JSON.stringify({ kind: 'Pod', metadata: { name: `pod-${i}`, uid: randomBytes(8).toString('hex') } })).join('\n'),
);
const base64 = Buffer.from(randomBytes(200_000).toString('base64'));
const random = randomBytes(300_000);
/** Like etcd's pages holding encrypted values: random bytes, then zeros to the end of the 4 KiB page. */
const paged = Buffer.concat(Array.from({ length: 80 }, () => Buffer.concat([randomBytes(3000), Buffer.alloc(1096)])));
const mixed = Buffer.concat([manifests, base64, random, paged, manifests.subarray(0, 1000)]);

async function blockDeflate(input: Buffer, options: { pieceBytes?: number; inFlight?: number; sampledEvery?: number } = {}) {
  const pieceBytes = options.pieceBytes ?? 10_000;
  const pieces = Array.from({ length: Math.ceil(input.length / pieceBytes) }, (_, index) => input.subarray(index * pieceBytes, (index + 1) * pieceBytes));
  const deflate = new BlockDeflate({ blockBytes: BLOCK, inFlight: options.inFlight ?? 3, sampledEvery: options.sampledEvery ?? 1 });
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), deflate, new Writable({ write: (chunk: Buffer, _encoding, callback) => (out.push(chunk), callback()) }));
  return { deflated: Buffer.concat(out), counts: deflate.counts };
}

test('the joined blocks are one deflate stream that inflates to the input, whatever the piece sizes and the number in flight', async () => {
  for (const [pieceBytes, inFlight] of [[10_000, 3], [BLOCK, 1], [BLOCK * 3 + 1, 2], [1, 2]] as const) {
    const input = pieceBytes === 1 ? mixed.subarray(0, 150_000) : mixed;
    const { deflated } = await blockDeflate(input, { pieceBytes, inFlight });
    assert.ok(inflateRawSync(deflated).equals(input), `pieces of ${pieceBytes}, ${inFlight} in flight`);
  }
});

test('each kind of data gets its method, and the stream ends with exactly one final block', async () => {
  const { deflated, counts } = await blockDeflate(mixed);
  assert.ok(counts.deflate >= 3 && counts.rle >= 3 && counts.zeros >= 3 && counts.stored >= 3, describeBlocks(counts));
  // A stream with a final block before its end would make inflate stop early; inflateRawSync
  // also rejects a stream that never ends with one ("unexpected end of file").
  assert.equal(inflateRawSync(deflated).length, mixed.length);
  assert.throws(() => inflateRawSync(deflated.subarray(0, deflated.length - 2)));
});

test('with a sample per group of blocks, every block of a group takes its first block\'s method', async () => {
  const group = 4;
  const input = Buffer.concat([base64.subarray(0, BLOCK), manifests.subarray(0, 3 * BLOCK), random.subarray(0, BLOCK), base64.subarray(0, BLOCK)]);
  const { deflated, counts } = await blockDeflate(input, { sampledEvery: group });
  // Group 1: base64 first, so 4 × RLE (the manifests too); group 2: random first, so stored, and the
  // empty last block that ends the stream is stored.
  assert.deepEqual(counts, { deflate: 0, rle: 4, zeros: 0, stored: 3 }, describeBlocks(counts));
  assert.ok(inflateRawSync(deflated).equals(input));
});

test('on manifests the size is within 1% of a single level-1 stream (each block primed with the last 32 KiB before it)', async () => {
  const { deflated } = await blockDeflate(manifests);
  const whole = deflateRawSync(manifests, { level: 1 }).length;
  assert.ok(deflated.length <= whole * 1.01, `${deflated.length} against ${whole}`);
});

test('empty input is a valid empty deflate stream', async () => {
  const { deflated, counts } = await blockDeflate(Buffer.alloc(0));
  assert.equal(inflateRawSync(deflated).length, 0);
  assert.deepEqual(counts, { deflate: 0, rle: 0, zeros: 0, stored: 1 });
});

test('a failing source fails the stream, with blocks still in flight', async () => {
  const source = new Readable({
    read() {
      this.push(random.subarray(0, BLOCK));
      this.destroy(new Error('etcd went away'));
    },
  });
  await assert.rejects(pipeline(source, new BlockDeflate({ blockBytes: 1024, inFlight: 3 }), new Writable({ write: (_c, _e, cb) => cb() })), /etcd went away/);
});

test('blocks in flight: half the cores, at least 2, at most 3', () => {
  assert.deepEqual([1, 2, 4, 6, 8, 64].map(blocksInFlight), [2, 2, 2, 3, 3, 3]);
});
