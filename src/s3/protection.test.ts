import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectWriteParams, parseProtectionJson, resolveProtection, sseCustomerKeyOf, sseCustomerParams, unconfirmedProtection, parseIdentities } from './protection.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const R1 = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const KEY = Buffer.alloc(32, 7);
const resolve = (flags: object, files: object = {}) => resolveProtection(flags, files, NOW);

test('SSE: the mode, and a KMS key id only with aws:kms', () => {
  assert.deepEqual(resolve({ s3Sse: 'aws:kms', s3SseKmsKeyId: 'testkey-1' }).protection, { sse: 'aws:kms', kmsKeyId: 'testkey-1' });
  assert.deepEqual(resolve({ s3Sse: 'AES256' }).protection, { sse: 'AES256' });
  assert.throws(() => resolve({ s3Sse: 'aes256' }), /^OperatorError: --s3-sse "aes256": give AES256 or aws:kms$/);
  assert.throws(() => resolve({ s3SseKmsKeyId: 'k' }), /--s3-sse-kms-key-id needs --s3-sse aws:kms/);
  assert.throws(() => resolve({ s3Sse: 'AES256', s3SseKmsKeyId: 'k' }), /--s3-sse-kms-key-id needs --s3-sse aws:kms/);
});

test('SSE-C: 32 raw bytes or 44 characters of base64; never with --s3-sse; the key is never in a message', () => {
  const b64 = KEY.toString('base64');
  assert.equal(resolve({ s3SseCKeyFile: '/k' }, { sseCKey: KEY }).sseCustomerKey, b64);
  assert.equal(resolve({ s3SseCKeyFile: '/k' }, { sseCKey: Buffer.from(b64 + '\n') }).sseCustomerKey, b64);
  for (const bad of [Buffer.alloc(31), Buffer.alloc(33), Buffer.from('not a key at all'), Buffer.from(Buffer.alloc(31).toString('base64'))]) {
    assert.throws(() => sseCustomerKeyOf(bad, '/k'), (error: Error) => /--s3-sse-c-key-file \/k: holds \d+ bytes; an SSE-C key is exactly 32/.test(error.message) && !error.message.includes(bad.toString('latin1')));
  }
  assert.throws(() => resolve({ s3SseCKeyFile: '/k' }, {}), /--s3-sse-c-key-file: cannot read \/k/);
  assert.throws(() => resolve({ s3Sse: 'AES256', s3SseCKeyFile: '/k' }, { sseCKey: KEY }), /--s3-sse-c-key-file and --s3-sse: give only one/);
  assert.deepEqual(sseCustomerParams(b64), { SSECustomerAlgorithm: 'AES256', SSECustomerKey: b64 });
  assert.deepEqual(sseCustomerParams(undefined), {});
});

test('Object Lock: a mode with days (> 0) or a future RFC 3339 time', () => {
  assert.deepEqual(resolve({ s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockDays: '2' }).protection.lock, { mode: 'GOVERNANCE', until: '2030-01-03T00:00:00.000Z' });
  assert.deepEqual(resolve({ s3ObjectLockMode: 'COMPLIANCE', s3ObjectLockUntil: '2030-02-01T01:00:00+01:00' }).protection.lock, {
    mode: 'COMPLIANCE',
    until: '2030-02-01T00:00:00.000Z',
  });
  assert.throws(() => resolve({ s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockDays: '0' }), /--s3-object-lock-days "0": give a whole number of days above 0/);
  assert.throws(() => resolve({ s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockDays: '-1' }), /above 0/);
  assert.throws(() => resolve({ s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockUntil: '2029-12-31T00:00:00Z' }), /is in the past/);
  assert.throws(() => resolve({ s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockUntil: 'tomorrow' }), /give an RFC 3339 time/);
  assert.throws(() => resolve({ s3ObjectLockMode: 'GOVERNANCE' }), /needs exactly one of --s3-object-lock-days/);
  assert.throws(() => resolve({ s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockDays: '1', s3ObjectLockUntil: '2031-01-01T00:00:00Z' }), /exactly one/);
  assert.throws(() => resolve({ s3ObjectLockDays: '1' }), /need --s3-object-lock-mode/);
  assert.throws(() => resolve({ s3ObjectLockMode: 'governance', s3ObjectLockDays: '1' }), /give GOVERNANCE or COMPLIANCE/);
  assert.deepEqual(resolve({ s3LegalHold: true }).protection, { legalHold: true });
});

test('age recipients: flags and file lines, malformed ones and identities refused', () => {
  assert.deepEqual(resolve({ encryptRecipient: [R1, R1] }).protection.recipients, [R1]);
  assert.deepEqual(resolve({ encryptRecipientsFile: '/r' }, { recipientsText: `# ops\n\n${R1}\n` }).protection.recipients, [R1]);
  assert.throws(() => resolve({ encryptRecipient: ['age1nope'] }), /^OperatorError: --encrypt-recipient: "age1nope" is not an age X25519 recipient/);
  assert.throws(() => resolve({ encryptRecipientsFile: '/r' }, { recipientsText: `${R1}\nssh-ed25519 AAAA\n` }), /--encrypt-recipients-file \/r:2: "ssh-ed25519 AAAA" is not/);
  assert.throws(
    () => resolve({ encryptRecipient: ['AGE-SECRET-KEY-1QQQQ'] }),
    (error: Error) => /an age identity \(a secret key\), not a recipient/.test(error.message) && !error.message.includes('QQQQ'),
  );
  assert.throws(() => resolve({ encryptRecipientsFile: '/r' }, { recipientsText: '# nobody\n' }), /holds no recipient/);
});

test('request parameters and the agent-side JSON round trip', () => {
  const { protection } = resolve({ s3Sse: 'aws:kms', s3SseKmsKeyId: 'k1', s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockDays: '1', s3LegalHold: true, encryptRecipient: [R1] });
  assert.deepEqual(objectWriteParams(protection), {
    ServerSideEncryption: 'aws:kms',
    SSEKMSKeyId: 'k1',
    ObjectLockMode: 'GOVERNANCE',
    ObjectLockRetainUntilDate: new Date('2030-01-02T00:00:00Z'),
    ObjectLockLegalHoldStatus: 'ON',
  });
  assert.deepEqual(parseProtectionJson(JSON.stringify(protection)), protection);
  assert.throws(() => parseProtectionJson('{"sseCustomerKey":"x"}'), /bad field "sseCustomerKey"/);
  assert.throws(() => parseProtectionJson('{"recipients":["age1x"]}'), /bad field "recipients"/);
});

test('what was asked for but not reported back is named', () => {
  assert.equal(unconfirmedProtection({ sse: 'AES256' }, undefined), 'server-side encryption AES256 was asked for, the server reports none');
  assert.equal(unconfirmedProtection({ sse: 'aws:kms' }, { serverSideEncryption: 'aws:kms' }), undefined);
  assert.equal(unconfirmedProtection({ lock: { mode: 'GOVERNANCE', until: 'x' }, legalHold: true }, { objectLock: { mode: 'GOVERNANCE' }, legalHold: 'ON' }), undefined);
  assert.match(unconfirmedProtection({ legalHold: true }, {})!, /a legal hold was asked for, the server reports none/);
});

test('--identity-file: age-keygen\'s format; anything else refused without echoing it', () => {
  const identity = 'AGE-SECRET-KEY-1' + 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L'.repeat(2).slice(0, 58);
  assert.deepEqual(parseIdentities(`# created: now\n# public key: age1…\n${identity}\n`, '/id'), [identity]);
  assert.throws(() => parseIdentities('AGE-SECRET-KEY-1SHORT\n', '/id'), (error: Error) => /--identity-file \/id:1: not an age X25519 identity/.test(error.message) && !error.message.includes('SHORT'));
  assert.throws(() => parseIdentities('# nothing\n', '/id'), /holds no identity/);
});
