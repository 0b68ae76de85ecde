import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEtcdEndpoint } from './endpoint.js';

test('an https URL maps to host:port', () => {
  assert.deepEqual(parseEtcdEndpoint('https://10.0.0.1:2379'), { url: 'https://10.0.0.1:2379', target: '10.0.0.1:2379' });
});

test('the port defaults to 2379 and IPv6 keeps its brackets', () => {
  assert.equal(parseEtcdEndpoint('https://etcd.example').target, 'etcd.example:2379');
  assert.equal(parseEtcdEndpoint('https://[fd00::1]:2379').target, '[fd00::1]:2379');
});

test('plain http, paths and non-URLs are refused', () => {
  assert.throws(() => parseEtcdEndpoint('http://10.0.0.1:2379'), /must use https/);
  assert.throws(() => parseEtcdEndpoint('https://10.0.0.1:2379/v3'), /must not have a path/);
  assert.throws(() => parseEtcdEndpoint('10.0.0.1:2379'), /not a URL|must use https/);
});
