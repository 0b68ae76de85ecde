/**
 * The credential path through the SDK's real default chain: with no keys, the node's
 * IAM role comes from instance metadata at AWS_EC2_METADATA_SERVICE_ENDPOINT (what
 * cluster.yml's extra_env sets for the container). This file changes process.env:
 * the test runner gives each test file its own process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { perTestDirectory } from '../../../test/support/case-dirs.js';
import { uploadSnapshot } from './upload.js';

const dirs = await perTestDirectory('agent-upload-credentials-');
const servers: Server[] = [];
let closedUrl: string;

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dirs.root, 'no-credentials');
  process.env.AWS_CONFIG_FILE = join(dirs.root, 'no-config');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const closed = createServer();
  closedUrl = await listen(closed);
  closed.close();
  await once(closed, 'close');
});
after(() => servers.forEach((server) => server.close()));

const request = { name: 'snap', endpoint: '', bucket: 'snapshots', folder: '', overwrite: false };

test('no keys and no instance metadata: one clear error, before any S3 call', async () => {
  process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `http://${closedUrl}`;
  await writeFile(join(dirs.path, 'snap.zip'), 'zip');
  await assert.rejects(uploadSnapshot({ ...request, endpoint: closedUrl }, {}, { backupDir: dirs.path }), {
    message:
      'no S3 credentials: pass --access-key/--secret-key-file, or give the etcd nodes an IAM role ' +
      `(instance metadata not reachable: connection refused by http://${closedUrl})`,
  });
});

test('no keys, and a role in instance metadata (IMDSv2): the SDK signs with its credentials', async () => {
  const imdsCalls: string[] = [];
  const imds = await listen(
    createServer((req, res) => {
      imdsCalls.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT') return void res.end('TOKEN');
      if (req.headers['x-aws-ec2-metadata-token'] !== 'TOKEN') return void res.writeHead(401).end();
      if (req.url === '/latest/meta-data/iam/security-credentials/') return void res.end('rke-etcd-backup');
      const expiration = new Date(Date.now() + 3600_000).toISOString();
      res.end(JSON.stringify({ Code: 'Success', AccessKeyId: 'ASIAROLE', SecretAccessKey: 'role-secret', Token: 'role-token', Expiration: expiration }));
    }),
  );
  process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `http://${imds}`;
  await writeFile(join(dirs.path, 'snap.zip'), 'zip');
  // The S3 endpoint is down: what matters is that the credentials were found and the bucket check was tried.
  await assert.rejects(uploadSnapshot({ ...request, endpoint: closedUrl }, {}, { backupDir: dirs.path }), {
    message: new RegExp(`^cannot reach S3 endpoint ${closedUrl} \\(HeadBucket of bucket snapshots\\): connection refused`),
  });
  assert.ok(imdsCalls.includes('GET /latest/meta-data/iam/security-credentials/rke-etcd-backup'), imdsCalls.join(', '));
});
