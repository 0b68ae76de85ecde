import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { checkWithUnzip, inspectWithPython } from '../../../test/support/zip-tools.js';
import { FileSink } from '../file-sink.js';
import { locateCentralDirectory, parseCentralDirectory } from './directory-reader.js';
import { crc32 } from './crc32.js';
import { Coalescer, ZipWriter, type ByteSink } from './zip-writer.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zip-writer-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const modified = new Date('2024-05-06T07:08:10Z');
const snapshot = Buffer.concat([Buffer.alloc(300_000, 0), randomBytes(200_000), Buffer.from('etcd'.repeat(50_000))]);
const state = Buffer.from('{"desiredState":{},"currentState":{}}\n');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The rke-tools layout, streamed in small chunks. */
async function writeRkeLayout(path: string, options: { forceZip64?: boolean; startOffset?: number } = {}) {
  const handle = await open(path, 'w', 0o600);
  try {
    const sink = new FileSink(handle, { position: options.startOffset ?? 0, bufferSize: 64 * 1024 });
    const zip = new ZipWriter(sink, options);
    const chunks = Array.from({ length: Math.ceil(snapshot.length / 10_000) }, (_, index) =>
      snapshot.subarray(index * 10_000, (index + 1) * 10_000),
    );
    await zip.addEntry({ name: '/backup/snap', mode: 0o600, modified }, Readable.from(chunks));
    await zip.addEntry({ name: '/etc/kubernetes/snap.rkestate', mode: 0o400, modified }, [state]);
    const finished = await zip.finish();
    await sink.flush();
    return finished;
  } finally {
    await handle.close();
  }
}

async function assertReadableEverywhere(path: string) {
  const unzip = await checkWithUnzip(path);
  assert.match(unzip.testOutput, /No errors detected/);
  assert.deepEqual(unzip.names, ['/backup/snap', '/etc/kubernetes/snap.rkestate']);

  const python = await inspectWithPython(path);
  assert.equal(python.bad, null);
  assert.deepEqual(
    python.entries.map(({ name, size, sha256: hash, compressType, unixMode }) => ({ name, size, hash, compressType, unixMode })),
    [
      { name: '/backup/snap', size: snapshot.length, hash: sha256(snapshot), compressType: 8, unixMode: 0o100600 },
      { name: '/etc/kubernetes/snap.rkestate', size: state.length, hash: sha256(state), compressType: 8, unixMode: 0o100400 },
    ],
  );
  for (const entry of python.entries) assert.equal(entry.flagBits & 0x0808, 0x0808, 'data descriptor and UTF-8 flags');
}

test('the rke-tools layout (absolute entry names, deflate) reads back with unzip and Python', async () => {
  const path = join(dir, 'plain.zip');
  const finished = await writeRkeLayout(path);
  await assertReadableEverywhere(path);
  assert.equal(finished.entries[0]?.crc32, crc32(snapshot));
  assert.ok(finished.entries[0]!.compressedSize < snapshot.length, 'deflated');
});

test('forced ZIP64 records (as for entries over 4 GiB) read back with unzip and Python', async () => {
  const path = join(dir, 'zip64.zip');
  await writeRkeLayout(path, { forceZip64: true });
  await assertReadableEverywhere(path);
});

test('offsets past 4 GiB (a sparse file) use ZIP64 and read back with unzip and Python', async () => {
  const path = join(dir, 'far.zip');
  const startOffset = 5 * 1024 ** 3;
  const finished = await writeRkeLayout(path, { startOffset });
  assert.equal(finished.entries[0]?.localHeaderOffset, startOffset);
  await assertReadableEverywhere(path);
});

test('our directory reader reads back what the writer recorded', async () => {
  for (const forceZip64 of [false, true]) {
    const path = join(dir, `reread-${forceZip64}.zip`);
    const finished = await writeRkeLayout(path, { forceZip64 });
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const tail = Buffer.alloc(Math.min(size, 1024));
      await handle.read(tail, 0, tail.length, size - tail.length);
      const location = locateCentralDirectory(tail, size - tail.length);
      assert.equal(location.zip64, forceZip64);
      const directory = Buffer.alloc(location.directorySize);
      await handle.read(directory, 0, directory.length, location.directoryOffset);
      const entries = parseCentralDirectory(directory, location.entryCount);
      assert.deepEqual(
        entries.map(({ name, crc32: crc, compressedSize, uncompressedSize, localHeaderOffset }) => ({
          name, crc, compressedSize, uncompressedSize, localHeaderOffset,
        })),
        finished.entries.map(({ name, crc32: crc, compressedSize, uncompressedSize, localHeaderOffset }) => ({
          name, crc, compressedSize, uncompressedSize, localHeaderOffset,
        })),
      );
    } finally {
      await handle.close();
    }
  }
});

test('an empty entry and a non-ASCII name are valid', async () => {
  const path = join(dir, 'empty.zip');
  const handle = await open(path, 'w');
  const sink = new FileSink(handle);
  const zip = new ZipWriter(sink);
  await zip.addEntry({ name: '/backup/empty', mode: 0o600, modified }, []);
  await zip.addEntry({ name: '/backup/snapshot-é', mode: 0o600, modified }, [Buffer.from('x')]);
  await zip.finish();
  await sink.flush();
  await handle.close();
  const python = await inspectWithPython(path);
  assert.equal(python.bad, null);
  assert.deepEqual(python.entries.map((entry) => [entry.name, entry.size]), [['/backup/empty', 0], ['/backup/snapshot-é', 1]]);
});

test('a failing source or sink fails the entry and the writer', async () => {
  const chunks: Uint8Array[] = [];
  const memory: ByteSink = { write: async (chunk) => void chunks.push(chunk) };
  const zip = new ZipWriter(memory);
  const failing = new Transform({
    transform(_chunk, _encoding, callback) {
      callback(new Error('verifier says no'));
    },
  });
  await assert.rejects(zip.addEntry({ name: 'a', mode: 0o600, modified }, [Buffer.from('x')], { through: [failing] }), /verifier says no/);
  await assert.rejects(zip.finish(), /zip writer is failed/);

  const full: ByteSink = { write: async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })) };
  await assert.rejects(new ZipWriter(full).addEntry({ name: 'a', mode: 0o600, modified }, [Buffer.from('x')]), { code: 'ENOSPC' });
});

test('the coalescer passes every byte on, in pieces of its size but the last', async () => {
  const pieces: number[] = [];
  const received: Buffer[] = [];
  const source = Readable.from(Array.from({ length: 100 }, (_, i) => Buffer.alloc(3000 + i, i)));
  await pipeline(
    source,
    new Coalescer(64 * 1024),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        pieces.push(chunk.length);
        received.push(chunk);
        callback();
      },
    }),
  );
  const total = Array.from({ length: 100 }, (_, i) => 3000 + i).reduce((a, b) => a + b, 0);
  assert.equal(Buffer.concat(received).length, total);
  assert.ok(pieces.slice(0, -1).every((size) => size >= 64 * 1024 && size < 64 * 1024 + 3100), JSON.stringify(pieces));
  assert.deepEqual(Buffer.concat(received).subarray(0, 3000), Buffer.alloc(3000, 0));
});
