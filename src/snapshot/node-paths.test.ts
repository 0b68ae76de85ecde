import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeKubernetesDir, withNodePaths } from './node-paths.js';

test('nodeKubernetesDir puts /etc/kubernetes under prefix_path', () => {
  assert.equal(nodeKubernetesDir('/'), '/etc/kubernetes');
  assert.equal(nodeKubernetesDir('/opt/custom'), '/opt/custom/etc/kubernetes');
  assert.equal(nodeKubernetesDir('/opt/custom/'), '/opt/custom/etc/kubernetes');
});

test('withNodePaths names the node file when prefix_path moves /etc/kubernetes', () => {
  const message = 'cannot read the etcd CA certificate /etc/kubernetes/ssl/kube-ca.pem: ENOENT';
  assert.equal(withNodePaths(message, '/'), message);
  assert.equal(
    withNodePaths(message, '/opt/custom'),
    'cannot read the etcd CA certificate /opt/custom/etc/kubernetes/ssl/kube-ca.pem: ENOENT',
  );
  assert.equal(withNodePaths('x /etc/kubernetes-other/y', '/p'), 'x /etc/kubernetes-other/y', 'only the directory itself');
  assert.equal(withNodePaths('x /srv/etc/kubernetes/y', '/p'), 'x /srv/etc/kubernetes/y', 'only absolute paths that start there');
});
