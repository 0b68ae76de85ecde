import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeChannelFailure } from './tcp-tunnel.js';

test('channel open failures in the operator\'s words', () => {
  assert.equal(describeChannelFailure(new Error('(SSH) Channel open failure: Connection refused')), 'connection refused (is etcd running and listening there?)');
  assert.equal(
    describeChannelFailure(new Error('(SSH) Channel open failure: administratively prohibited: open failed')),
    "administratively prohibited: open failed (the node's sshd must allow TCP forwarding: AllowTcpForwarding yes)",
  );
  assert.equal(describeChannelFailure(new Error('(SSH) Channel open failure: No route to host')), 'No route to host');
});
