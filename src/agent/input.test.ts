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

const CA = '-----BEGIN CERTIFICATE-----\nMIIBlabCA\n-----END CERTIFICATE-----\n';

test('carries the S3 keys and CA; empty values count as absent', () => {
  const s3 = { accessKeyId: 'AKIALAB', secretAccessKey: 'secret/value+1', customCaPem: CA };
  assert.deepEqual(parseAgentInput(JSON.stringify({ s3 })), { s3 });
  assert.deepEqual(parseAgentInput(JSON.stringify({ s3: {} })), { s3: {} });
  assert.deepEqual(parseAgentInput(JSON.stringify({ s3: { accessKeyId: '', secretAccessKey: '', customCaPem: null } })), { s3: {} });
  const state = Buffer.from('{}').toString('base64');
  assert.deepEqual(parseAgentInput(JSON.stringify({ stateFileBase64: state, s3: { customCaPem: CA } })), {
    stateFileBase64: state,
    s3: { customCaPem: CA },
  });
});

test('refuses half a key pair, non-strings and a CA that is not PEM, without echoing any of it', () => {
  const secret = 'SECRET-KEY-MATERIAL';
  const cases: [unknown, RegExp][] = [
    [{ s3: { secretAccessKey: secret } }, /s3\.accessKeyId and s3\.secretAccessKey must be given together/],
    [{ s3: { accessKeyId: secret } }, /must be given together/],
    [{ s3: { accessKeyId: 'AK', secretAccessKey: 5 } }, /s3\.secretAccessKey must be a string/],
    [{ s3: { customCaPem: secret } }, /s3\.customCaPem: is not a PEM certificate/],
    [{ s3: secret }, /s3 must be an object/],
    [{ s3: [secret] }, /s3 must be an object/],
  ];
  for (const [document, expected] of cases) {
    assert.throws(
      () => parseAgentInput(JSON.stringify(document)),
      (error: Error) => expected.test(error.message) && error.message.startsWith("the agent's standard input") && !error.message.includes(secret),
    );
  }
});
