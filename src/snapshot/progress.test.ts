import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PLAIN_BYTES_INTERVAL_MS, applyProgress, initialProgress, renderProgress, type ProgressEvent, type ProgressState } from './progress.js';

function run(events: Array<[atMs: number, event: ProgressEvent]>, nodes = ['10.0.0.1', '10.0.0.2']): { state: ProgressState; lines: string[] } {
  let state = initialProgress(nodes, 0);
  const lines: string[] = [];
  for (const [atMs, event] of events) {
    const next = applyProgress(state, event, atMs);
    state = next.state;
    lines.push(...next.plainLines);
  }
  return { state, lines };
}

test('the terminal block: one line per node with phase, bytes, rate and time; waiting nodes have no time', () => {
  const { state } = run([
    [0, { node: '10.0.0.1', phase: 'connecting' }],
    [1000, { node: '10.0.0.1', phase: 'snapshot' }],
    [3000, { node: '10.0.0.1', bytes: 4 * 1024 * 1024 }],
  ]);
  assert.deepEqual(renderProgress(state, 3500), [
    'NODE      PHASE     BYTES    RATE       TIME',
    '10.0.0.1  snapshot  4.0 MiB  2.0 MiB/s  3.5s',
    '10.0.0.2  waiting',
  ]);
});

test('done and failed stop the clock; the last byte count stays', () => {
  const { state } = run([
    [0, { node: '10.0.0.1', phase: 'connecting' }],
    [500, { node: '10.0.0.1', phase: 'snapshot' }],
    [1500, { node: '10.0.0.1', bytes: 1000 }],
    [2000, { node: '10.0.0.1', phase: 'verify' }],
    [2500, { node: '10.0.0.1', phase: 'done' }],
    [100, { node: '10.0.0.2', phase: 'connecting' }],
    [400, { node: '10.0.0.2', phase: 'failed' }],
  ]);
  assert.deepEqual(renderProgress(state, 9000), [
    'NODE      PHASE   BYTES   RATE      TIME',
    '10.0.0.1  done    1000 B  1000 B/s  2.5s',
    '10.0.0.2  failed                    0.3s',
  ], 'the bytes the snapshot phase ended with stay shown');
});

test('lines are cut to the terminal width, so none wraps and breaks the redraw', () => {
  const { state } = run([[0, { node: '10.0.0.1', phase: 'connecting' }]]);
  for (const line of renderProgress(state, 1000, 20)) assert.ok(line.length <= 19, line);
});

test('plain lines: one per phase change (with what the phase ended with), bytes at most every 10 s per node', () => {
  const { lines } = run([
    [0, { node: '10.0.0.1', phase: 'connecting' }],
    [1000, { node: '10.0.0.1', phase: 'snapshot' }],
    [2000, { node: '10.0.0.1', bytes: 1024 * 1024 }],
    [3000, { node: '10.0.0.1', bytes: 2 * 1024 * 1024 }],
    [2000 + PLAIN_BYTES_INTERVAL_MS - 1, { node: '10.0.0.1', bytes: 3 * 1024 * 1024 }],
    [2000 + PLAIN_BYTES_INTERVAL_MS, { node: '10.0.0.1', bytes: 11 * 1024 * 1024 }],
    [13000, { node: '10.0.0.1', phase: 'verify' }],
    [13000, { node: '10.0.0.1', phase: 'verify' }],
    [14000, { node: '10.0.0.1', phase: 'done' }],
    [14000, { node: '10.0.0.9', phase: 'done' }],
  ]);
  assert.deepEqual(lines, [
    'INFO [10.0.0.1] progress: connecting',
    'INFO [10.0.0.1] progress: snapshot',
    'INFO [10.0.0.1] progress: snapshot 1.0 MiB at 1.0 MiB/s',
    'INFO [10.0.0.1] progress: snapshot 11.0 MiB at 1.0 MiB/s',
    'INFO [10.0.0.1] progress: verify (snapshot: 11.0 MiB at 1.0 MiB/s)',
    'INFO [10.0.0.1] progress: done',
  ]);
});
