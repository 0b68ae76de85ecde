import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lockReason } from './object-head.js';
import { classifyObject } from './inventory.js';

const NOW = new Date('2030-01-01T00:00:00Z');

test('a locked object says until when and in which mode; an expired retention is no lock', () => {
  assert.equal(
    lockReason({ ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date('2030-01-02T00:00:00Z') }, NOW),
    'locked until 2030-01-02T00:00:00.000Z (GOVERNANCE)',
  );
  assert.equal(lockReason({ ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date('2029-12-31T00:00:00Z') }, NOW), undefined);
  assert.equal(lockReason({ ObjectLockLegalHoldStatus: 'ON' }, NOW), 'under legal hold');
  assert.equal(lockReason({ ObjectLockLegalHoldStatus: 'OFF' }, NOW), undefined);
});

test('NAME.zip.age is a zip snapshot of NAME, encrypted with age', () => {
  assert.deepEqual(classifyObject('snap.zip.age'), { kind: 'zip', name: 'snap', encryption: ['age'] });
  assert.deepEqual(classifyObject('snap.zip'), { kind: 'zip', name: 'snap' });
  assert.equal(classifyObject('.zip.age'), undefined);
});
