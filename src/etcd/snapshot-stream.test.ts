import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { snapshotStream, type SnapshotCall } from './snapshot-stream.js';

function fakeCall(): SnapshotCall & { cancelled: boolean } {
  const call = new Readable({ objectMode: true, read() {} }) as SnapshotCall & { cancelled: boolean };
  call.cancelled = false;
  call.cancel = () => {
    call.cancelled = true;
  };
  return call;
}

const options = { endpoint: 'https://10.0.0.1:2379', idleTimeoutMs: 100 };

test('passes the blobs through as bytes', async () => {
  const call = fakeCall();
  const bytes = buffer(snapshotStream(call, options));
  call.push({ remaining_bytes: 3, blob: Buffer.from('ab') });
  call.push({ remaining_bytes: 1, blob: Buffer.alloc(0) });
  call.push({ remaining_bytes: 0, blob: Buffer.from('c') });
  call.push(null);
  assert.equal((await bytes).toString(), 'abc');
});

test('fails when etcd goes quiet for the idle timeout, and cancels the call', async () => {
  const call = fakeCall();
  const started = Date.now();
  const bytes = buffer(snapshotStream(call, options));
  call.push({ remaining_bytes: 3, blob: Buffer.from('ab') });
  await assert.rejects(bytes, { message: 'snapshot from https://10.0.0.1:2379 stalled: etcd sent no data for 0.1 s' });
  assert.ok(Date.now() - started < 1000);
  assert.equal(call.cancelled, true);
});

test('etcd going away mid-stream is said as the operator reads it: how, and after how much', async () => {
  const call = fakeCall();
  const bytes = buffer(snapshotStream(call, options));
  call.push({ remaining_bytes: 1, blob: Buffer.alloc(3 * 1024 * 1024) });
  await new Promise((resolve) => setImmediate(resolve));
  call.destroy(Object.assign(new Error('x'), { code: 14, details: 'read ECONNRESET' }));
  await assert.rejects(bytes, { message: 'etcd at https://10.0.0.1:2379 stopped answering during the snapshot (connection reset after 3.0 MiB received)' });
});

test('another gRPC error names the endpoint and the cause', async () => {
  const call = fakeCall();
  const bytes = buffer(snapshotStream(call, options));
  call.destroy(Object.assign(new Error('x'), { code: 8, details: 'too big' }));
  await assert.rejects(bytes, { message: 'snapshot from https://10.0.0.1:2379 failed: too big (RESOURCE_EXHAUSTED)' });
});

test('the idle timer does not run while the consumer holds data back', async () => {
  const call = fakeCall();
  const stream = snapshotStream(call, { ...options, idleTimeoutMs: 50, bufferBytes: 16 * 1024 });
  // Fill past the highWaterMark without reading: the call is paused, not idle.
  call.push({ remaining_bytes: 1, blob: Buffer.alloc(64 * 1024) });
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(stream.destroyed, false);
  call.push(null);
  assert.equal((await buffer(stream)).length, 64 * 1024);
});
