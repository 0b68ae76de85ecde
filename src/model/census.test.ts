import assert from 'node:assert/strict';
import { test } from 'node:test';
import { censusDifference, countKey, OTHER_KEYS, resourceOf, sortedResources } from './census.js';

test('resourceOf: core resources, API groups, services, and everything else', () => {
  assert.equal(resourceOf('/registry/pods/default/web-1'), 'pods');
  assert.equal(resourceOf('/registry/secrets/kube-system/token'), 'secrets');
  assert.equal(resourceOf('/registry/namespaces/default'), 'namespaces');
  assert.equal(resourceOf('/registry/apiextensions.k8s.io/customresourcedefinitions/certificates.cert-manager.io'), 'apiextensions.k8s.io/customresourcedefinitions');
  assert.equal(resourceOf('/registry/cert-manager.io/certificates/ns/x'), 'cert-manager.io/certificates');
  assert.equal(resourceOf('/registry/services/specs/default/kubernetes'), 'services/specs');
  assert.equal(resourceOf('/registry/services/endpoints/default/kubernetes'), 'services/endpoints');
  assert.equal(resourceOf(Buffer.from('/registry/configmaps/a/b')), 'configmaps');
  for (const other of ['/registry/health', '/registry/', '/registry/pods', '/registry//x', '/registry/services/specs', 'compact_rev_key', '/other/pods/x', '']) {
    assert.equal(resourceOf(other), OTHER_KEYS, other);
  }
});

test('countKey and sortedResources', () => {
  const resources: Record<string, number> = {};
  for (const key of ['/registry/secrets/a/b', '/registry/pods/a/b', 'x', '/registry/pods/a/c']) countKey(resources, key);
  assert.deepEqual(Object.entries(sortedResources(resources)), [[OTHER_KEYS, 1], ['pods', 2], ['secrets', 1]]);
});

test('censusDifference names what differs, or nothing', () => {
  const a = { revision: 10, keys: 3, resources: { pods: 2, secrets: 1 } };
  assert.equal(censusDifference(a, structuredClone(a)), undefined);
  assert.equal(
    censusDifference(a, { revision: 11, keys: 4, resources: { pods: 2, secrets: 1, configmaps: 1 } }),
    'revision 10 vs 11; keys 3 vs 4; configmaps 0 vs 1',
  );
});
