import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeChannelFailure } from './bastion.js';

const failure = (message: string, reason?: number) => Object.assign(new Error(message), reason === undefined ? {} : { reason });

test('a channel the bastion could not open is described by OpenSSH\'s reason, with a hint when forwarding is off', () => {
  assert.equal(describeChannelFailure(failure('(SSH) Channel open failure: Connection refused', 2)), 'connection refused');
  assert.equal(describeChannelFailure(failure('(SSH) Channel open failure: No route to host', 2)), 'no route to host');
  assert.equal(
    describeChannelFailure(failure('(SSH) Channel open failure: administratively prohibited: open failed', 1)),
    'administratively prohibited: open failed (is AllowTcpForwarding off on the bastion?)',
  );
  assert.equal(describeChannelFailure(failure('(SSH) Channel open failure: ', 2)), 'the bastion could not open the connection');
});
