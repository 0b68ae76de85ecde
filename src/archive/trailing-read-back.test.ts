import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { TrailingReadBack } from './trailing-read-back.js';
import { crc32 } from './zip/crc32.js';
import type { RandomAccessFile } from './verify-zip.js';

/** A file in memory that holds what was "written" so far; `alter` changes what a read returns. */
function memoryFile(content: Buffer, alter: (bytes: Buffer, position: number) => void = () => undefined) {
  let reads = 0;
  const file: RandomAccessFile = {
    stat: async () => ({ size: content.length }),
    read: async (buffer, offset, length, position) => {
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
      const bytes = content.subarray(position, Math.min(position + length, content.length));
      bytes.copy(buffer, offset);
      alter(buffer.subarray(offset, offset + bytes.length), position);
      return { bytesRead: bytes.length };
    },
  };
  return { file, reads: () => reads };
}

test('reads back each region as it is written, and the digest is that of the whole file', async () => {
  const content = randomBytes(3 * 1024 * 1024 + 12345);
  const { file, reads } = memoryFile(content);
  const readBack = new TrailingReadBack(file);
  for (let end = 512 * 1024; end < content.length; end += 512 * 1024) {
    readBack.writtenUpTo(end);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const readsBeforeTheEnd = reads();
  const digest = await readBack.finish(content.length);
  assert.ok(readsBeforeTheEnd >= 3, `most of the file is read back before the writer ends (${readsBeforeTheEnd} reads)`);
  assert.equal(digest.size, content.length);
  assert.equal(digest.sha256, createHash('sha256').update(content).digest('hex'));
  assert.equal(digest.crc32, crc32(content));
});

test('a byte that reads back differently changes the CRC-32 the writer compares with', async () => {
  const content = randomBytes(2 * 1024 * 1024);
  const { file } = memoryFile(content, (bytes, position) => {
    if (position === 1024 * 1024) bytes[7] = bytes[7]! ^ 0x40;
  });
  const readBack = new TrailingReadBack(file);
  const digest = await readBack.finish(content.length);
  assert.notEqual(digest.crc32, crc32(content));
});

test('a file shorter than what was written fails the read-back', async () => {
  const { file } = memoryFile(randomBytes(1000));
  const readBack = new TrailingReadBack(file);
  readBack.writtenUpTo(500);
  await assert.rejects(readBack.finish(2000), /the file ends at 1000 while reading it back/);
});

test('a read error during the write is reported when the read-back finishes, not lost', async () => {
  const file: RandomAccessFile = {
    stat: async () => ({ size: 10 }),
    read: async () => {
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    },
  };
  const readBack = new TrailingReadBack(file);
  readBack.writtenUpTo(10);
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(readBack.finish(10), /EIO/);
});
