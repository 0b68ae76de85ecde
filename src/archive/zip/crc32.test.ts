import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32, tableCrc32 } from './crc32.js';

test('the table CRC-32 matches the standard check value', () => {
  assert.equal(tableCrc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(tableCrc32(Buffer.alloc(0)), 0);
});

test('streamed CRC equals one-shot CRC, and the table agrees with the one in use', () => {
  const data = randomBytes(100_000);
  let streamed = 0;
  for (let offset = 0; offset < data.length; offset += 777) streamed = tableCrc32(data.subarray(offset, offset + 777), streamed);
  assert.equal(streamed, tableCrc32(data));
  assert.equal(crc32(data), tableCrc32(data));
});
