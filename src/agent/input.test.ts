import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { parseAgentInput, readAllInput } from './input.js';

test('an empty document, or one without a state file, means nothing to add', () => {
  assert.deepEqual(parseAgentInput(''), {});
  assert.deepEqual(parseAgentInput(' \n'), {});
  assert.deepEqual(parseAgentInput('{"future":"field"}'), {});
});

test('carries the state file as base64', () => {
  const encoded = Buffer.from('{"currentState":{}}').toString('base64');
  assert.deepEqual(parseAgentInput(JSON.stringify({ stateFileBase64: encoded })), { stateFileBase64: encoded });
});

test('refuses malformed documents without echoing them', () => {
  const secret = 'SECRET-KEY-MATERIAL';
  for (const text of [`{${secret}`, `["${secret}"]`, JSON.stringify({ stateFileBase64: `${secret}!` }), '{"stateFileBase64":5}']) {
    assert.throws(
      () => parseAgentInput(text),
      (error: Error) => /standard input/.test(error.message) && !error.message.includes(secret),
    );
  }
});

test('reads the whole stream', async () => {
  assert.equal(await readAllInput(Readable.from([Buffer.from('{"a":'), Buffer.from('1}')])), '{"a":1}');
});
