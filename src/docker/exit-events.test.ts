import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExitEvents } from './exit-events.js';

const event = (action: string, attributes: Record<string, string> = {}) =>
  JSON.stringify({ Type: 'container', Action: action, status: action, Actor: { ID: 'c0ffee', Attributes: attributes } });

test('parseExitEvents: the die event gives the exit code, an oom event says the memory limit killed it', () => {
  assert.deepEqual(parseExitEvents(`${event('oom')}\n${event('die', { exitCode: '137', image: 'x' })}\n`), { exitCode: 137, oomKilled: true });
  assert.deepEqual(parseExitEvents(`${event('die', { exitCode: '0' })}\n`), { exitCode: 0, oomKilled: false });
});

test('parseExitEvents: no events, or a die event without a code, tell nothing', () => {
  assert.deepEqual(parseExitEvents(''), { oomKilled: false });
  assert.deepEqual(parseExitEvents(`${event('die')}\n\n`), { oomKilled: false });
});
