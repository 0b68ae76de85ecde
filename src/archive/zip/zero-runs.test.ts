import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { encodeZeroRuns, MIN_ZERO_RUN } from './zero-runs.js';

/** Random bytes with runs of zeros of the given lengths between them. */
function withRuns(runs: readonly number[], between: () => number): Buffer {
  const parts: Buffer[] = [];
  for (const run of runs) parts.push(randomBytes(between()), Buffer.alloc(run));
  parts.push(randomBytes(between()));
  return Buffer.concat(parts);
}

test('runs of every length around the match and run limits inflate back, with or without data between', () => {
  const lengths = [1, 2, 3, 4, 5, 63, 64, 65, 66, 67, 257, 258, 259, 260, 261, 262, 515, 516, 517, 518, 519, 4000, 70_000];
  for (const between of [() => 0, () => 1, () => 1000]) {
    const input = withRuns(lengths, between);
    const encoded = encodeZeroRuns(input, true);
    assert.ok(inflateRawSync(encoded).equals(input));
  }
});

test('random blocks with random runs inflate back (200 cases)', () => {
  let seed = 7;
  const next = (limit: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % limit);
  for (let index = 0; index < 200; index += 1) {
    const runs = Array.from({ length: next(20) }, () => next(3000));
    const input = withRuns(runs, () => next(2000));
    assert.ok(inflateRawSync(encodeZeroRuns(input, true)).equals(input), `case ${index}`);
  }
});

test('stored stretches over 64 KiB, an all-zero block and an empty one', () => {
  for (const input of [randomBytes(200_000), Buffer.alloc(1024 * 1024), Buffer.alloc(0)]) {
    assert.ok(inflateRawSync(encodeZeroRuns(input, true)).equals(input));
  }
  const zeros = encodeZeroRuns(Buffer.alloc(1024 * 1024), true);
  // 13 bits per 258 zeros (a match of 258 at distance 1, fixed codes).
  assert.ok(zeros.length < (1024 * 1024 * 13) / 258 / 8 + 32, `1 MiB of zeros in ${zeros.length} bytes`);
});

test('blocks join into one stream: only the last is final, and a stream without it is incomplete', () => {
  const blocks = [withRuns([100, 5000], () => 300), randomBytes(10), Buffer.alloc(0), withRuns([MIN_ZERO_RUN], () => 7)];
  const joined = Buffer.concat(blocks.map((block, index) => encodeZeroRuns(block, index === blocks.length - 1)));
  assert.ok(inflateRawSync(joined).equals(Buffer.concat(blocks)));
  const unfinished = Buffer.concat(blocks.map((block) => encodeZeroRuns(block, false)));
  assert.throws(() => inflateRawSync(unfinished), /unexpected end of file/);
});

test('random bytes grow by a few bytes per 64 KiB; page-like padding shrinks', () => {
  const random = randomBytes(1024 * 1024);
  // 17 stored blocks of at most 64 KiB - 1 and the empty one that ends it, 5 bytes each at most.
  assert.ok(encodeZeroRuns(random, false).length <= random.length + 5 * 18);
  // 4 KiB pages whose values end 1 KiB before the page does.
  const pages = Buffer.concat(Array.from({ length: 256 }, () => Buffer.concat([randomBytes(3072), Buffer.alloc(1024)])));
  const encoded = encodeZeroRuns(pages, false);
  assert.ok(encoded.length < pages.length * 0.76, `${encoded.length} of ${pages.length}`);
});
