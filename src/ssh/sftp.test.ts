import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { SftpSink } from './sftp.js';

/** A file that records positional writes, acknowledging them out of order (as a server may). */
function recordingFile(options: { failAt?: number } = {}) {
  const writes: Array<{ position: number; bytes: Buffer }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    writes,
    get maxInFlight() {
      return maxInFlight;
    },
    contents(): Buffer {
      const size = Math.max(0, ...writes.map((w) => w.position + w.bytes.length));
      const out = Buffer.alloc(size);
      for (const w of writes) w.bytes.copy(out, w.position);
      return out;
    },
    async write(bytes: Buffer, position: number): Promise<void> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, (position / 1024) % 3));
      inFlight--;
      if (options.failAt !== undefined && position >= options.failAt) throw new Error(`write at ${position} failed`);
      writes.push({ position, bytes: Buffer.from(bytes) });
    },
  };
}

test('SftpSink writes every byte at its position, several writes in flight, and digests what it sent', async () => {
  const file = recordingFile();
  const sink = new SftpSink(file);
  const input = Buffer.alloc(5 * 1024 * 1024 + 123);
  for (let i = 0; i < input.length; i++) input[i] = (i * 31) & 255;
  for (let offset = 0; offset < input.length; offset += 7000) {
    const chunk = input.subarray(offset, Math.min(offset + 7000, input.length));
    await sink.write(chunk);
  }
  await sink.flush();
  assert.deepEqual(file.contents(), input);
  assert.ok(file.maxInFlight > 1, 'writes are pipelined');
  assert.ok(file.maxInFlight <= 16, `at most 16 in flight, saw ${file.maxInFlight}`);
  assert.deepEqual(sink.digest(), { size: input.length, sha256: createHash('sha256').update(input).digest('hex') });
});

test('SftpSink copies chunks: a producer reusing its buffer does not change what is written', async () => {
  const file = recordingFile();
  const sink = new SftpSink(file);
  const reused = Buffer.alloc(1000);
  for (let round = 0; round < 300; round++) {
    reused.fill(round & 255);
    await sink.write(reused);
  }
  await sink.flush();
  const written = file.contents();
  for (let round = 0; round < 300; round++) assert.equal(written[round * 1000], round & 255);
});

test('SftpSink: a failed write fails a later write or the flush', async () => {
  const file = recordingFile({ failAt: 1024 * 1024 });
  const sink = new SftpSink(file);
  await assert.rejects(async () => {
    for (let i = 0; i < 64; i++) await sink.write(Buffer.alloc(64 * 1024));
    await sink.flush();
  }, /write at \d+ failed/);
});
