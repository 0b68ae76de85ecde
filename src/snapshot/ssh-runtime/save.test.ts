import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeSslDir } from '../node-paths.js';

test('the certificates come from <prefix_path>/etc/kubernetes/ssl, as the container binds them', () => {
  assert.equal(nodeSslDir('/'), '/etc/kubernetes/ssl');
  assert.equal(nodeSslDir('/opt/rke'), '/opt/rke/etc/kubernetes/ssl');
});
