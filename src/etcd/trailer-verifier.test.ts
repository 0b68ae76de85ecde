import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { SnapshotTrailerVerifier } from './trailer-verifier.js';

const endpoint = 'https://10.0.0.1:2379';
const corruptMessage = `snapshot from ${endpoint} failed its SHA-256 check (etcd's trailer does not match): it is corrupt or truncated`;

function snapshotWithTrailer(db: Buffer): Buffer {
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

/** Feeds `bytes` in chunks of the given sizes (cycled), returns what came out. */
async function run(bytes: Buffer, chunkSizes: number[]): Promise<{ output: Buffer; verifier: SnapshotTrailerVerifier }> {
  const chunks: Buffer[] = [];
  for (let offset = 0, index = 0; offset < bytes.length; index++) {
    const size = chunkSizes[index % chunkSizes.length] ?? 1;
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  const verifier = new SnapshotTrailerVerifier(endpoint);
  const collected: Buffer[] = [];
  await pipeline(Readable.from(chunks), verifier, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) collected.push(chunk);
  });
  return { output: Buffer.concat(collected), verifier };
}

const db = Buffer.from(Array.from({ length: 5000 }, (_, index) => (index * 7) % 251));

for (const chunkSizes of [[5032], [1], [31, 1, 32, 33], [4096], [10, 40]]) {
  test(`a good stream passes through whole, trailer included (chunks ${chunkSizes.join(',')})`, async () => {
    const stream = snapshotWithTrailer(db);
    const { output, verifier } = await run(stream, chunkSizes);
    assert.deepEqual(output, stream);
    assert.deepEqual(verifier.verified, {
      snapshotSize: db.length,
      snapshotSha256: createHash('sha256').update(db).digest('hex'),
    });
  });
}

test('one corrupted byte fails the check', async () => {
  const stream = snapshotWithTrailer(db);
  stream.writeUInt8(stream.readUInt8(1234) ^ 0x01, 1234);
  await assert.rejects(run(stream, [1000]), { message: corruptMessage });
});

test('a corrupted trailer fails the check', async () => {
  const stream = snapshotWithTrailer(db);
  stream.writeUInt8(stream.readUInt8(stream.length - 1) ^ 0x80, stream.length - 1);
  await assert.rejects(run(stream, [1000]), { message: corruptMessage });
});

test('a truncated stream fails the check', async () => {
  const stream = snapshotWithTrailer(db).subarray(0, 4000);
  await assert.rejects(run(stream, [1000]), { message: corruptMessage });
});

test('a stream shorter than the trailer fails the check', async () => {
  await assert.rejects(run(Buffer.from('short'), [2]), { message: corruptMessage });
  await assert.rejects(run(Buffer.alloc(0), [1]), { message: corruptMessage });
});

test('an empty db with its trailer is valid', async () => {
  const { verifier } = await run(snapshotWithTrailer(Buffer.alloc(0)), [32]);
  assert.equal(verifier.verified.snapshotSize, 0);
});
