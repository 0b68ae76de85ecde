import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterConfig } from '../config/cluster.js';
import { describeCredentialSource, formatPlan, planSave } from './plan.js';

const cluster = parseClusterConfig(
  [
    'ssh_key_path: ~/.ssh/id_ed25519',
    'prefix_path: /opt/rke-prefix',
    'nodes:',
    '  - {address: 10.0.0.1, internal_address: 172.16.0.1, user: rke, role: [etcd], hostname_override: etcd-a}',
    '  - {address: 10.0.0.2, port: 2222, user: rke, role: [etcd], ssh_key: "-----BEGIN OPENSSH PRIVATE KEY-----\\nSECRETKEYBODY\\n-----END OPENSSH PRIVATE KEY-----"}',
    '  - {address: 10.0.0.3, user: rke, role: [worker]}',
  ].join('\n'),
  '/srv/cluster.yml',
  { home: '/home/op' },
);

test('the plan names nodes, paths, endpoints and credential sources, never a secret', () => {
  const plan = planSave({
    cluster,
    clusterFile: '/srv/cluster.yml',
    name: 'before-upgrade',
    image: { kind: 'bundled', images: { amd64: { tag: 'rke-snapshot-agent:abc', tarPath: '/a.tar' }, arm64: { tag: 'rke-snapshot-agent:def', tarPath: '/b.tar' } } },
    imageContract: 'auto',
    sshAgentAuth: false,
    concurrency: 10,
    overwrite: false,
    pkiBundle: true,
    compression: 'fast',
    s3: { endpoint: 's3.example.com', bucketName: 'b', folder: 'daily', credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'TOPSECRET' } },
  });
  assert.equal(plan.nodes.length, 2, 'only etcd nodes');
  assert.deepEqual(plan.nodes[0], {
    address: '10.0.0.1',
    hostnameOverride: 'etcd-a',
    ssh: 'rke@10.0.0.1:22',
    credentials: 'key file /home/op/.ssh/id_ed25519 (ssh_key_path)',
    dockerSocket: '/var/run/docker.sock',
    image: "rke-snapshot-agent:abc if its engine is linux/amd64, rke-snapshot-agent:def if its engine is linux/arm64 (docker info's Architecture; any other is refused)",
    etcdEndpoint: 'https://172.16.0.1:2379',
    kubernetesDir: '/opt/rke-prefix/etc/kubernetes',
    file: '/opt/rke/etcd-snapshots/before-upgrade.zip',
    pkiBundle: '/opt/rke/etcd-snapshots/pki.bundle.tar.gz',
  });
  assert.equal(plan.nodes[1]!.credentials, 'the inline key in nodes[1].ssh_key');
  assert.equal(plan.s3?.key, 'daily/before-upgrade.zip');
  assert.equal(plan.s3?.pkiBundleKey, 'daily/before-upgrade.pki.bundle.tar.gz');
  assert.equal(plan.image?.contract, 'native');
  assert.deepEqual(plan.image?.platforms, { amd64: 'rke-snapshot-agent:abc', arm64: 'rke-snapshot-agent:def' });
  assert.match(formatPlan(plan), /\n {4}image rke-snapshot-agent:abc if its engine is linux\/amd64, rke-snapshot-agent:def if its engine is linux\/arm64/);
  assert.deepEqual(plan.compression, { mode: 'fast', zlibLevel: 1, method: 'deflate level 1' });
  assert.match(formatPlan(plan), /\ncompression fast \(deflate level 1\)\n/);
  const text = formatPlan(plan) + JSON.stringify(plan);
  for (const secret of ['TOPSECRET', 'AKIAEXAMPLE', 'SECRETKEYBODY']) assert.ok(!text.includes(secret), `${secret} shown`);
  assert.match(formatPlan(plan), /^Dry run: nothing was contacted and nothing was written\./);
});

test('credential sources are described by where they come from', () => {
  assert.equal(describeCredentialSource({ kind: 'agent' }), 'the ssh-agent (SSH_AUTH_SOCK)');
  assert.equal(
    describeCredentialSource({ kind: 'key-file', path: '/k', field: 'nodes[0].ssh_key_path', certificate: { kind: 'cert-file', path: '/k-cert.pub', field: 'ssh_cert_path' } }),
    'key file /k (nodes[0].ssh_key_path) with certificate /k-cert.pub (ssh_cert_path)',
  );
});

test('the plan shows the S3 copy\'s protection and the .zip.age key, never the SSE-C key', () => {
  const sseKey = Buffer.alloc(32, 9).toString('base64');
  const plan = planSave({
    cluster,
    clusterFile: '/srv/cluster.yml',
    name: 'nightly',
    imageContract: 'auto',
    sshAgentAuth: false,
    concurrency: 10,
    overwrite: false,
    pkiBundle: false,
    compression: 'auto',
    runtime: 'ssh',
    s3: {
      endpoint: 's3.example.com',
      bucketName: 'b',
      folder: 'daily',
      sseCustomerKey: sseKey,
      protection: {
        lock: { mode: 'GOVERNANCE', until: '2030-01-02T00:00:00.000Z' },
        recipients: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'],
      },
    },
  });
  assert.equal(plan.s3?.key, 'daily/nightly.zip.age');
  assert.equal(plan.compression.mode, 'auto');
  assert.equal(plan.compression.zlibLevel, undefined, 'auto has no single level');
  assert.match(formatPlan(plan), /\ncompression auto \(per 1 MiB block: deflate level 1, run-length \(Z_RLE\), zero runs or stored/);
  assert.deepEqual(plan.s3?.protection, ['SSE-C', 'Object Lock GOVERNANCE until 2030-01-02T00:00:00.000Z', 'age for 1 recipient(s)']);
  assert.match(formatPlan(plan), /^ {2}protected by: SSE-C, Object Lock GOVERNANCE until 2030-01-02T00:00:00\.000Z, age for 1 recipient\(s\)$/m);
  assert.ok(!(formatPlan(plan) + JSON.stringify(plan)).includes(sseKey));
});
