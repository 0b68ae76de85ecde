import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import type { ByteProgress } from '../model/snapshot.js';
import { progressCounter } from './progress-tally.js';

test('progressCounter: the first byte, then at most one report per interval, then the total', async () => {
  const reports: ByteProgress[] = [];
  let clock = 0;
  const times = [0, 300, 900, 1000, 1500, 2100];
  const counter = progressCounter('snapshot', (p) => reports.push(p), { intervalMs: 1000, now: () => times[clock++] ?? 9999 });
  const chunks = times.map(() => Buffer.alloc(10));
  let passed = 0;
  await pipeline(Readable.from(chunks), counter, new Writable({ write: (c: Buffer, _e, cb) => ((passed += c.length), cb()) }));
  assert.equal(passed, 60);
  assert.deepEqual(reports, [
    { phase: 'snapshot', bytes: 10 },
    { phase: 'snapshot', bytes: 40 },
    { phase: 'snapshot', bytes: 60 },
    { phase: 'snapshot', bytes: 60 },
  ]);
});
