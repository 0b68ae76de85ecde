import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { instanceMetadataEndpoint, instanceMetadataProblem, noCredentialsError } from './imds-probe.js';

const servers: Server[] = [];
after(() => servers.forEach((server) => server.close()));

async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nobody listens on: bind one, then close it. */
async function closedPort(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

test('the endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT (as cluster.yml extra_env sets it), else link-local', () => {
  assert.equal(instanceMetadataEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.3.2/' }), 'http://127.0.3.2');
  assert.equal(instanceMetadataEndpoint({}), 'http://169.254.169.254');
  assert.equal(instanceMetadataEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' }), 'http://[fd00:ec2::254]');
});

test('nothing listening: connection refused, in the operator message', async () => {
  const endpoint = await closedPort();
  const error = await noCredentialsError({ AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }, 500);
  assert.equal(
    error.message,
    `no S3 credentials: pass --access-key/--secret-key-file, or give the etcd nodes an IAM role (instance metadata not reachable: connection refused by ${endpoint})`,
  );
});

test('no answer: a timeout', async () => {
  const endpoint = await serve(() => undefined); // never answers
  assert.equal(
    await instanceMetadataProblem({ AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }, 200),
    `instance metadata not reachable: no answer from ${endpoint} within 0.2 s`,
  );
});

test('answers IMDSv2 but the node has no role', async () => {
  const seen: string[] = [];
  const endpoint = await serve((request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers['x-aws-ec2-metadata-token'] ?? ''}`);
    if (request.method === 'PUT') response.end('TOKEN');
    else response.writeHead(404).end();
  });
  assert.equal(
    await instanceMetadataProblem({ AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }, 1000),
    `instance metadata at ${endpoint} has no IAM role for this node`,
  );
  assert.deepEqual(seen, ['PUT /latest/api/token ', 'GET /latest/meta-data/iam/security-credentials/ TOKEN']);
});

test('names the role it found when its credentials failed; disabled by env', async () => {
  const endpoint = await serve((request, response) => {
    if (request.method === 'PUT') response.writeHead(403).end(); // IMDSv1 only: go on without a token
    else response.end('rke-etcd-backup\n');
  });
  assert.equal(
    await instanceMetadataProblem({ AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }, 1000),
    `instance metadata at ${endpoint} names the role "rke-etcd-backup", but its credentials could not be read`,
  );
  assert.equal(
    await instanceMetadataProblem({ AWS_EC2_METADATA_DISABLED: 'true' }, 1000),
    'instance metadata is disabled by AWS_EC2_METADATA_DISABLED',
  );
});
