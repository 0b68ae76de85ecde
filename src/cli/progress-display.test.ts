import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgressDisplay, resolveProgressMode } from './progress-display.js';

function output(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 80, write: (text: string) => writes.push(text) } };
}

test('auto is tty on a terminal, plain otherwise; explicit modes win', () => {
  assert.equal(resolveProgressMode('auto', { isTTY: true, write: () => true }), 'tty');
  assert.equal(resolveProgressMode('auto', { write: () => true }), 'plain');
  assert.equal(resolveProgressMode('tty', { write: () => true }), 'tty');
  assert.equal(resolveProgressMode('none', { isTTY: true, write: () => true }), 'none');
});

test('tty: the block is drawn, then a log line erases it, is written, and the block comes back in the same write', () => {
  const { writes, stream } = output(true);
  let clock = 0;
  const display = createProgressDisplay('auto', stream, () => clock);
  display.log('INFO before start');
  display.start(['10.0.0.1']);
  clock = 1000;
  display.log('INFO [10.0.0.1] taking snapshot s');
  display.stop();
  assert.equal(writes[0], 'INFO before start\n');
  assert.equal(writes[1], 'NODE      PHASE    BYTES  RATE  TIME\n10.0.0.1  waiting\n');
  assert.equal(writes[2], '\x1b[2F\x1b[JINFO [10.0.0.1] taking snapshot s\nNODE      PHASE    BYTES  RATE  TIME\n10.0.0.1  waiting\n');
  assert.equal(writes[3], '\x1b[2F\x1b[JNODE      PHASE    BYTES  RATE  TIME\n10.0.0.1  waiting\n', 'stop draws the final state in place');
  display.log('INFO after stop');
  assert.equal(writes.at(-1), 'INFO after stop\n');
});

test('plain: progress lines between log lines, whole lines only; none: only the log', () => {
  const plain = output(false);
  const display = createProgressDisplay('auto', plain.stream, () => 0);
  display.start(['10.0.0.1']);
  display.event({ node: '10.0.0.1', phase: 'connecting' });
  display.log('WARN something');
  display.stop();
  assert.deepEqual(plain.writes, ['INFO [10.0.0.1] progress: connecting\n', 'WARN something\n']);
  const none = output(true);
  const quiet = createProgressDisplay('none', none.stream, () => 0);
  quiet.start(['10.0.0.1']);
  quiet.event({ node: '10.0.0.1', phase: 'connecting' });
  quiet.log('INFO x');
  quiet.stop();
  assert.deepEqual(none.writes, ['INFO x\n']);
});
