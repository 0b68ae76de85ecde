/**
 * Seeded mutations of a realistic cluster.yml: whatever the file holds, the parser either
 * returns a config that keeps its invariants or refuses it with a one-line OperatorError
 * naming the file. Anything else (a TypeError, a stack trace, a hang) is a bug.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import { OperatorError } from '../errors.js';
import { mutatedClusterYml } from '../../test/support/cluster-mutations.js';
import { parseClusterConfig } from './cluster.js';

const FILE = '/srv/rke/cluster.yml';

const BASE = {
  kubernetes_version: 'v1.26.15-rancher1-1',
  ssh_key_path: '~/.ssh/id_ed25519',
  ssh_agent_auth: false,
  ignore_docker_version: false,
  prefix_path: '/',
  bastion_host: { address: '10.0.0.1', port: 22, user: 'jump', ssh_key_path: '~/.ssh/jump' },
  private_registries: [{ url: 'registry.example.com:5000', user: 'puller', password: 'secret', is_default: true }],
  system_images: { alpine: 'rancher/rke-tools:v0.1.96' },
  nodes: [
    { address: '127.0.2.1', port: 22, user: 'root', role: ['etcd', 'controlplane'], docker_socket: '/var/run/docker.sock' },
    { address: '127.0.2.2', internal_address: '172.16.0.2', user: 'root', role: ['etcd'], hostname_override: 'etcd-b', ssh_cert_path: '~/.ssh/id-cert.pub' },
    { address: '127.0.2.3', port: '2222', user: 'rke', role: ['etcd', 'worker'], ssh_key: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n' },
    { address: '127.0.2.4', user: 'rke', role: ['worker'] },
  ],
  services: {
    etcd: {
      extra_env: ['HTTPS_PROXY=http://proxy:3128'],
      backup_config: {
        timeout: 300,
        s3backupconfig: { access_key: 'AK', secret_key: 'SK', bucket_name: 'b', region: 'us-east-1', endpoint: 's3.example.com', folder: 'f' },
      },
    },
  },
};

function checkOutcome(text: string, seed: number): 'accepted' | 'refused' {
  let config;
  try {
    config = parseClusterConfig(text, FILE, { home: '/root' });
  } catch (error) {
    assert.ok(error instanceof OperatorError, `seed ${seed}: not an OperatorError: ${(error as Error)?.stack}\n--- input:\n${text.slice(0, 2000)}`);
    assert.ok(!error.message.includes('\n'), `seed ${seed}: a multi-line error`);
    assert.ok(error.message.startsWith(FILE), `seed ${seed}: the error does not name the file: ${error.message}`);
    assert.ok(error.message.length < 2_000, `seed ${seed}: an error of ${error.message.length} characters`);
    return 'refused';
  }
  assert.ok(config.etcdNodes.length > 0, `seed ${seed}: accepted without an etcd node`);
  const addresses = config.nodes.map((node) => node.address);
  assert.equal(new Set(addresses).size, addresses.length, `seed ${seed}: duplicate addresses accepted`);
  for (const node of config.nodes) {
    assert.ok(Number.isInteger(node.port) && node.port >= 1 && node.port <= 65535, `seed ${seed}: port ${node.port}`);
    assert.equal(typeof node.address, 'string');
    assert.ok(node.address.length > 0, `seed ${seed}: empty address accepted`);
  }
  return 'accepted';
}

test('400 seeded mutations of a cluster.yml: a valid config or a one-line error naming the file, never a crash', () => {
  const tally = { accepted: 0, refused: 0 };
  for (let seed = 1; seed <= 400; seed++) {
    const text = mutatedClusterYml(BASE, seed);
    tally[checkOutcome(text, seed)]++;
  }
  // Both outcomes must occur, or the mutations are not exercising the parser.
  assert.ok(tally.accepted > 20 && tally.refused > 20, JSON.stringify(tally));
});

test('10 000 nodes parse in bounded time, and only the etcd ones are kept as etcd nodes', () => {
  const config = structuredClone(BASE) as any;
  config.nodes = Array.from({ length: 10_000 }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    user: 'rke',
    role: i < 3 ? ['etcd'] : ['worker'],
  }));
  const started = Date.now();
  const parsed = parseClusterConfig(YAML.stringify(config), FILE, { home: '/root' });
  assert.equal(parsed.nodes.length, 10_000);
  assert.equal(parsed.etcdNodes.length, 3);
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
});

test('not a map, or a host or user with NUL, space, slash, newline or escape characters: refused naming the file', () => {
  for (const text of ['- a\n- b\n', 'just a string\n', '42\n', '', 'nodes: "\\0"\n', 'nodes:\n  - address: "127.0.2.1\\0x"\n    user: root\n    role: [etcd]\n',
    'nodes:\n  - address: 10.0.0.1/24\n    user: root\n    role: [etcd]\n',
    'nodes:\n  - address: "10.0.0.1 -oProxyCommand=x"\n    user: root\n    role: [etcd]\n',
    'nodes:\n  - address: 10.0.0.1\n    internal_address: "a\\nb"\n    user: root\n    role: [etcd]\n',
    'nodes:\n  - address: 10.0.0.1\n    user: "root\\u001b[2J"\n    role: [etcd]\n',
    'nodes:\n  - address: 10.0.0.1\n    user: root\n    role: [etcd]\nbastion_host:\n  address: "jump host"\n  user: j\n']) {
    assert.equal(checkOutcome(text, -1), 'refused', JSON.stringify(text));
  }
});
