import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkEtcdHealth, type RangeClient } from './health.js';

function clientFailingWith(error: Error | undefined): RangeClient {
  return {
    endpoint: { url: 'https://10.0.0.1:2379' },
    range: (request) => {
      assert.equal(request.key.toString(), 'health');
      assert.equal(request.serializable, false);
      return error === undefined ? Promise.resolve({ kvs: [], count: 0 }) : Promise.reject(error);
    },
  };
}

const grpcError = (code: number, details: string) => Object.assign(new Error(details), { code, details });

test('a linearizable read that succeeds is healthy', async () => {
  await checkEtcdHealth(clientFailingWith(undefined), 1000);
});

test('permission denied counts as healthy', async () => {
  await checkEtcdHealth(clientFailingWith(grpcError(7, 'etcdserver: permission denied')), 1000);
});

test('other errors become one line naming the endpoint', async () => {
  await assert.rejects(
    checkEtcdHealth(clientFailingWith(grpcError(14, 'etcdserver: no leader')), 1000),
    { message: 'etcd at https://10.0.0.1:2379 is not healthy: etcdserver: no leader (UNAVAILABLE)' },
  );
  await assert.rejects(
    checkEtcdHealth(clientFailingWith(grpcError(4, 'Deadline exceeded')), 3000),
    { message: 'etcd at https://10.0.0.1:2379 is not healthy: no answer within 3 s (DEADLINE_EXCEEDED)' },
  );
});
