import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { OperatorError } from '../errors.js';
import { loadClusterConfig, parseClusterConfig, stateFilePath } from './cluster.js';

const home = { home: '/home/ops' };

// Shaped like `rke config` output: most fields are of no interest to snapshot-save.
const REALISTIC = `# If you intended to deploy Kubernetes in an air-gapped environment,
# please consult the documentation on how to configure custom RKE images.
nodes:
- address: 10.0.0.1
  port: "22"
  internal_address: 192.168.0.1
  role:
  - controlplane
  - etcd
  hostname_override: cp-1
  user: rancher
  docker_socket: /var/run/docker.sock
  ssh_key: ""
  ssh_key_path: ~/.ssh/cluster_rsa
  ssh_cert: ""
  ssh_cert_path: ""
  labels:
    app: ingress
  taints: []
- address: 10.0.0.2
  port: 2222
  role: [etcd]
  user: rancher
- address: 10.0.0.3
  role: [worker]
  user: ubuntu
  labels: {}
services:
  etcd:
    image: ""
    extra_args:
      election-timeout: "5000"
    extra_binds: []
    extra_env:
    - ETCDCTL_API=3
    - GODEBUG=x509ignoreCN=0
    win_extra_args: {}
    external_urls: []
    ca_cert: ""
    snapshot: null
    retention: ""
    creation: ""
    backup_config:
      enabled: true
      interval_hours: 12
      retention: 6
      timeout: 600
      s3backupconfig:
        access_key: AKIAEXAMPLE
        secret_key: c2VjcmV0
        bucket_name: snapshots
        region: eu-west-1
        endpoint: minio.internal:9000
        custom_ca: |
          -----BEGIN CERTIFICATE-----
          MIIB
          -----END CERTIFICATE-----
        folder: prod
  kube-api:
    image: ""
    service_cluster_ip_range: 10.43.0.0/16
    pod_security_policy: false
    always_pull_images: false
    secrets_encryption_config: null
    audit_log: null
    admission_configuration: null
    event_rate_limit: null
  kube-controller:
    cluster_cidr: 10.42.0.0/16
  kubelet:
    cluster_domain: cluster.local
    fail_swap_on: false
network:
  plugin: canal
  options: {}
  mtu: 0
  node_selector: {}
authentication:
  strategy: x509
  sans: []
  webhook: null
addons: |-
  ---
  apiVersion: v1
  kind: Namespace
addons_include: []
system_images:
  etcd: rancher/mirrored-coreos-etcd:v3.5.12
  alpine: rancher/rke-tools:v0.1.100
  cert_downloader: rancher/rke-tools:v0.1.100
ssh_key_path: ~/.ssh/id_ed25519
ssh_cert_path: ""
ssh_agent_auth: false
authorization:
  mode: rbac
ignore_docker_version: null
enable_cri_dockerd: null
kubernetes_version: "v1.28.15-rancher1-1"
private_registries:
- url: registry.example.com
  user: puller
  password: hunter2
  is_default: true
ingress:
  provider: ""
cluster_name: production
prefix_path: ""
win_prefix_path: ""
addon_job_timeout: 0
bastion_host:
  address: ""
  port: ""
  user: ""
monitoring:
  provider: ""
restore:
  restore: false
  snapshot_name: ""
rotate_encryption_key: false
dns: null
`;

const MINIMAL = `nodes:
- address: 10.0.0.1
  user: rancher
  role: [etcd]
`;

function refusal(text: string, file = 'cluster.yml'): string {
  try {
    parseClusterConfig(text, file, home);
  } catch (error) {
    assert.ok(error instanceof OperatorError, `an OperatorError, not ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'one line');
    return error.message;
  }
  assert.fail('should have been refused');
}

/** A nodes list with one etcd node and the given extra node YAML. */
function withNode(nodeYaml: string): string {
  return `${MINIMAL}${nodeYaml}`;
}

describe('parseClusterConfig: a realistic cluster.yml', () => {
  const config = parseClusterConfig(REALISTIC, '/etc/rke/cluster.yml', home);

  it('reads the nodes and picks the etcd ones', () => {
    assert.equal(config.nodes.length, 3);
    assert.deepEqual(
      config.etcdNodes.map((node) => node.address),
      ['10.0.0.1', '10.0.0.2'],
    );
    assert.strictEqual(config.etcdNodes[0], config.nodes[0]);
  });

  it('reads every node field, accepting a port written as text', () => {
    assert.deepEqual(config.nodes[0], {
      address: '10.0.0.1',
      port: 22,
      internalAddress: '192.168.0.1',
      roles: ['controlplane', 'etcd'],
      user: 'rancher',
      hostnameOverride: 'cp-1',
      dockerSocket: '/var/run/docker.sock',
      sshKey: undefined,
      sshKeyPath: '/home/ops/.ssh/cluster_rsa',
      sshCert: undefined,
      sshCertPath: undefined,
      sshAgentAuth: false,
      label: 'nodes[0] (10.0.0.1)',
      field: 'nodes[0]',
    });
  });

  it('fills in RKE defaults for a sparse node', () => {
    const node = config.nodes[1];
    assert.equal(node?.port, 2222);
    assert.equal(node?.internalAddress, '10.0.0.2');
    assert.equal(node?.dockerSocket, '/var/run/docker.sock');
    assert.equal(node?.sshKeyPath, undefined);
    assert.equal(node?.hostnameOverride, undefined);
    assert.equal(config.nodes[2]?.port, 22);
  });

  it('reads the cluster-wide settings', () => {
    assert.equal(config.file, '/etc/rke/cluster.yml');
    assert.equal(config.stateFile, '/etc/rke/cluster.rkestate');
    assert.equal(config.sshKeyPath, '/home/ops/.ssh/id_ed25519');
    assert.equal(config.sshCertPath, undefined);
    assert.equal(config.sshAgentAuth, false);
    assert.equal(config.bastionHost, undefined, 'a bastion with an empty address is no bastion');
    assert.equal(config.ignoreDockerVersion, false);
    assert.equal(config.kubernetesVersion, 'v1.28.15-rancher1-1');
    assert.equal(config.prefixPath, '/');
    assert.deepEqual(config.systemImages, {
      etcd: 'rancher/mirrored-coreos-etcd:v3.5.12',
      alpine: 'rancher/rke-tools:v0.1.100',
      cert_downloader: 'rancher/rke-tools:v0.1.100',
    });
    assert.deepEqual(config.privateRegistries, [
      { url: 'registry.example.com', user: 'puller', password: 'hunter2', isDefault: true, ecrCredentialPlugin: false },
    ]);
  });

  it('reads services.etcd: extra_env, backup timeout and s3backupconfig', () => {
    assert.deepEqual(config.etcd.extraEnv, ['ETCDCTL_API=3', 'GODEBUG=x509ignoreCN=0']);
    assert.equal(config.etcd.backupTimeoutSeconds, 600);
    assert.deepEqual(config.etcd.s3, {
      accessKey: 'AKIAEXAMPLE',
      secretKey: 'c2VjcmV0',
      bucketName: 'snapshots',
      region: 'eu-west-1',
      endpoint: 'minio.internal:9000',
      customCa: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      folder: 'prod',
    });
  });
});

describe('parseClusterConfig: defaults', () => {
  const config = parseClusterConfig(MINIMAL, 'cluster.yml', home);

  it('uses RKE defaults when fields are absent', () => {
    assert.equal(config.file, path.resolve('cluster.yml'));
    assert.equal(config.sshKeyPath, '/home/ops/.ssh/id_rsa');
    assert.equal(config.sshAgentAuth, false);
    assert.equal(config.ignoreDockerVersion, false);
    assert.equal(config.kubernetesVersion, undefined);
    assert.equal(config.prefixPath, '/');
    assert.deepEqual(config.systemImages, {});
    assert.deepEqual(config.privateRegistries, []);
    assert.deepEqual(config.etcd, { extraEnv: [], backupTimeoutSeconds: 300, s3: undefined });
    assert.equal(config.nodes[0]?.port, 22);
    assert.equal(config.nodes[0]?.dockerSocket, '/var/run/docker.sock');
    assert.equal(config.nodes[0]?.internalAddress, '10.0.0.1');
  });

  it('uses 300 s when backup_config has no timeout or 0, as RKE does', () => {
    const services = (timeout: string) => `${MINIMAL}services:\n  etcd:\n    backup_config:\n      enabled: true\n${timeout}`;
    assert.equal(parseClusterConfig(services(''), 'c.yml', home).etcd.backupTimeoutSeconds, 300);
    assert.equal(parseClusterConfig(services('      timeout: 0\n'), 'c.yml', home).etcd.backupTimeoutSeconds, 300);
    assert.equal(parseClusterConfig(services('      timeout: "45"\n'), 'c.yml', home).etcd.backupTimeoutSeconds, 45);
    assert.equal(parseClusterConfig(services('      s3backupconfig: null\n'), 'c.yml', home).etcd.s3, undefined);
  });

  it('notes an ecr_credential_plugin without reading its keys', () => {
    const config = parseClusterConfig(
      `${MINIMAL}private_registries:\n- url: 1.dkr.ecr.us-east-1.amazonaws.com\n  ecr_credential_plugin:\n    aws_access_key_id: AKIA\n`,
      'c.yml',
      home,
    );
    assert.equal(config.privateRegistries[0]?.ecrCredentialPlugin, true);
    assert.equal(JSON.stringify(config).includes('AKIA'), false);
  });

  it('defaults a private registry url to docker.io', () => {
    const config = parseClusterConfig(`${MINIMAL}private_registries:\n- user: u\n  password: p\n`, 'c.yml', home);
    assert.deepEqual(config.privateRegistries, [{ url: 'docker.io', user: 'u', password: 'p', isDefault: false, ecrCredentialPlugin: false }]);
  });
});

describe('parseClusterConfig: values', () => {
  it('expands ~ and ~/ in every ssh path, and leaves other paths alone', () => {
    const config = parseClusterConfig(
      `ssh_key_path: "~"\nssh_cert_path: ~/certs/id-cert.pub\nnodes:\n` +
        `- {address: a, user: u, role: [etcd], ssh_key_path: ~/k, ssh_cert_path: ~/c}\n` +
        `- {address: b, user: u, role: [etcd], ssh_key_path: keys/b, ssh_cert_path: ~other/c}\n`,
      'c.yml',
      home,
    );
    assert.equal(config.sshKeyPath, '/home/ops');
    assert.equal(config.sshCertPath, '/home/ops/certs/id-cert.pub');
    assert.equal(config.nodes[0]?.sshKeyPath, '/home/ops/k');
    assert.equal(config.nodes[0]?.sshCertPath, '/home/ops/c');
    assert.equal(config.nodes[1]?.sshKeyPath, 'keys/b');
    assert.equal(config.nodes[1]?.sshCertPath, '~other/c');
  });

  it('accepts ports as numbers or strings of digits', () => {
    const config = parseClusterConfig(
      `nodes:\n- {address: a, user: u, role: [etcd], port: "2222"}\n- {address: b, user: u, role: [etcd], port: 65535}\n`,
      'c.yml',
      home,
    );
    assert.deepEqual(
      config.nodes.map((node) => node.port),
      [2222, 65535],
    );
  });

  it('gives every node the cluster ssh_agent_auth, and honours a node that asks for it', () => {
    const config = parseClusterConfig(
      `nodes:\n- {address: a, user: u, role: [etcd], ssh_agent_auth: true}\n- {address: b, user: u, role: [etcd]}\n`,
      'c.yml',
      home,
    );
    assert.deepEqual(
      config.nodes.map((node) => node.sshAgentAuth),
      [true, false],
    );
    const agentEverywhere = parseClusterConfig(`ssh_agent_auth: true\n${MINIMAL}`, 'c.yml', home);
    assert.equal(agentEverywhere.sshAgentAuth, true);
    assert.equal(agentEverywhere.nodes[0]?.sshAgentAuth, true);
  });

  it('reads YAML 1.1 booleans as RKE does', () => {
    assert.equal(parseClusterConfig(`ignore_docker_version: yes\n${MINIMAL}`, 'c.yml', home).ignoreDockerVersion, true);
    assert.equal(parseClusterConfig(`ignore_docker_version: Off\n${MINIMAL}`, 'c.yml', home).ignoreDockerVersion, false);
  });

  it('reads scalars into text fields as RKE does', () => {
    const config = parseClusterConfig(`nodes:\n- {address: a, user: 1000, role: [etcd], hostname_override: 42}\n`, 'c.yml', home);
    assert.equal(config.nodes[0]?.user, '1000');
    assert.equal(config.nodes[0]?.hostnameOverride, '42');
  });

  it('reads a bastion host with defaults', () => {
    const config = parseClusterConfig(
      `ssh_agent_auth: true\nbastion_host:\n  address: jump.example.com\n  user: jumper\n  ssh_key_path: ~/.ssh/jump\n  ignore_proxy_env_vars: true\n${MINIMAL}`,
      'c.yml',
      home,
    );
    assert.deepEqual(config.bastionHost, {
      address: 'jump.example.com',
      port: 22,
      user: 'jumper',
      sshKey: undefined,
      sshKeyPath: '/home/ops/.ssh/jump',
      sshCert: undefined,
      sshCertPath: undefined,
      sshAgentAuth: true,
    });
    const withPort = parseClusterConfig(`bastion_host: {address: j, user: u, port: "2200"}\n${MINIMAL}`, 'c.yml', home);
    assert.equal(withPort.bastionHost?.port, 2200);
    assert.equal(withPort.bastionHost?.sshKeyPath, undefined);
    assert.equal(withPort.bastionHost?.sshAgentAuth, false);
  });

  it('reads the bastion\'s certificate, inline or as a path', () => {
    const inline = parseClusterConfig(
      `bastion_host: {address: j, user: u, ssh_key: KEY, ssh_cert: "ssh-ed25519-cert-v01@openssh.com AAAA"}\n${MINIMAL}`,
      'c.yml',
      home,
    );
    assert.equal(inline.bastionHost?.sshKey, 'KEY');
    assert.equal(inline.bastionHost?.sshCert, 'ssh-ed25519-cert-v01@openssh.com AAAA');
    const byPath = parseClusterConfig(`bastion_host: {address: j, user: u, ssh_cert_path: ~/.ssh/j-cert.pub}\n${MINIMAL}`, 'c.yml', home);
    assert.equal(byPath.bastionHost?.sshCertPath, '/home/ops/.ssh/j-cert.pub');
  });

  it('follows YAML anchors and merge keys', () => {
    const config = parseClusterConfig(
      `x-node: &node {user: rancher, role: [etcd], port: 2222}\nnodes:\n- <<: *node\n  address: a\n- <<: *node\n  address: b\n`,
      'c.yml',
      home,
    );
    assert.deepEqual(
      config.nodes.map((node) => [node.address, node.user, node.port]),
      [
        ['a', 'rancher', 2222],
        ['b', 'rancher', 2222],
      ],
    );
  });

  it('accepts a byte order mark and a document start marker', () => {
    assert.equal(parseClusterConfig(`\ufeff---\n${MINIMAL}`, 'c.yml', home).nodes.length, 1);
  });
});

describe('stateFilePath', () => {
  it('replaces the extension with .rkestate, beside the file', () => {
    assert.equal(stateFilePath('/a/b/cluster.yml'), '/a/b/cluster.rkestate');
    assert.equal(stateFilePath('/a/b/x.yaml'), '/a/b/x.rkestate');
    assert.equal(stateFilePath('/a/b/cluster'), '/a/b/cluster.rkestate');
    assert.equal(stateFilePath('/a/b.d/cluster'), '/a/b.d/cluster.rkestate');
    assert.equal(stateFilePath('/a/prod.cluster.yml'), '/a/prod.cluster.rkestate');
  });

  it('is derived from the absolute path of the file given', () => {
    const config = parseClusterConfig(MINIMAL, 'x.yaml', home);
    assert.equal(config.stateFile, path.resolve('x.rkestate'));
    assert.equal(parseClusterConfig(MINIMAL, 'conf/cluster', home).stateFile, path.resolve('conf/cluster.rkestate'));
  });
});

describe('parseClusterConfig: errors name the file, the field and the node', () => {
  it('invalid YAML, with the line', () => {
    const message = refusal('nodes:\n- address: a\n  user: [u\n');
    assert.match(message, /^cluster\.yml: is not valid YAML: .*line \d+/);
    assert.match(refusal('a: 1\na: 2\n'), /^cluster\.yml: is not valid YAML: Map keys must be unique at line 2/);
    assert.match(refusal('nodes:\n\t- address: a\n'), /^cluster\.yml: is not valid YAML: .*line 2/);
  });

  it('a document that is not a mapping', () => {
    assert.equal(refusal('- a\n- b\n'), 'cluster.yml: must be a YAML mapping of cluster settings, found a list');
    assert.equal(refusal(''), 'cluster.yml: must be a YAML mapping of cluster settings, found nothing');
    assert.equal(refusal('# only a comment\n'), 'cluster.yml: must be a YAML mapping of cluster settings, found nothing');
    assert.equal(refusal('hello'), 'cluster.yml: must be a YAML mapping of cluster settings, found the text "hello"');
  });

  it('more than one document', () => {
    assert.match(refusal(`${MINIMAL}---\n${MINIMAL}`), /^cluster\.yml: holds 2 YAML documents/);
  });

  it('quotes found text short and safe', () => {
    const message = refusal(`ssh_agent_auth: "${'z'.repeat(500)}\\u009b"\n${MINIMAL}`);
    assert.match(message, /found the text "z{60}…"$/);
    assert.match(refusal(`ssh_agent_auth: "a\\u009bb"\n${MINIMAL}`), /found the text "a\\u009bb"$/);
  });

  it('uses the path as the operator gave it', () => {
    assert.match(refusal('- a\n', 'configs/prod/cluster.yml'), /^configs\/prod\/cluster\.yml: must be/);
  });

  it('no nodes, or nodes of the wrong type', () => {
    assert.equal(refusal('cluster_name: x\n'), 'cluster.yml: nodes: no nodes are listed; snapshot-save needs at least one etcd node');
    assert.equal(refusal('nodes: []\n'), 'cluster.yml: nodes: no nodes are listed; snapshot-save needs at least one etcd node');
    assert.equal(refusal('nodes: {address: a}\n'), 'cluster.yml: nodes: must be a list, found a mapping');
    assert.equal(refusal(withNode('- 10.0.0.9\n')), 'cluster.yml: nodes[1]: must be a mapping of node settings, found the text "10.0.0.9"');
  });

  it('missing address, user, role', () => {
    assert.equal(refusal(withNode('- {user: u, role: [worker]}\n')), 'cluster.yml: nodes[1].address: is required');
    assert.equal(refusal(withNode('- {address: "", user: u, role: [worker]}\n')), 'cluster.yml: nodes[1].address: is required');
    assert.equal(refusal(withNode('- {address: b, role: [worker]}\n')), 'cluster.yml: nodes[1].user: is required (node b)');
    assert.equal(
      refusal(withNode('- {address: b, user: u}\n')),
      'cluster.yml: nodes[1].role: is required (node b); list one or more of etcd, controlplane, worker, e.g. role: [etcd, controlplane]',
    );
    assert.match(refusal(withNode('- {address: b, user: u, role: []}\n')), /^cluster\.yml: nodes\[1\]\.role: is required \(node b\)/);
  });

  it('unknown or mistyped roles', () => {
    assert.equal(
      refusal(`${MINIMAL}- {address: 10.0.0.2, user: u, role: [worker]}\n- {address: 10.0.0.3, user: u, role: [etc]}\n`),
      'cluster.yml: nodes[2].role: unknown role "etc" (node 10.0.0.3); valid roles are etcd, controlplane, worker',
    );
    assert.match(refusal(withNode('- {address: b, user: u, role: etcd}\n')), /^cluster\.yml: nodes\[1\]\.role: must be a list of roles, found the text "etcd" \(node b\)/);
    assert.match(refusal(withNode('- {address: b, user: u, role: [[etcd]]}\n')), /^cluster\.yml: nodes\[1\]\.role\[0\]: must be a role name, found a list \(node b\)/);
  });

  it('bad ports', () => {
    const expected = 'cluster.yml: nodes[1].port: must be a number from 1 to 65535 (node 10.0.0.2)';
    for (const port of ['0', '65536', '"ssh"', '22.5', '"-1"', '[22]', 'true', '"99999999"']) {
      assert.equal(refusal(withNode(`- {address: 10.0.0.2, user: u, role: [worker], port: ${port}}\n`)), expected, port);
    }
  });

  it('no etcd node', () => {
    assert.equal(
      refusal('nodes:\n- {address: a, user: u, role: [controlplane, worker]}\n'),
      'cluster.yml: no node has the etcd role; snapshot-save needs at least one etcd node',
    );
  });

  it('duplicate addresses', () => {
    assert.equal(
      refusal(
        `nodes:\n- {address: 10.0.0.1, user: u, role: [etcd]}\n- {address: 10.0.0.2, user: u, role: [etcd]}\n` +
          `- {address: 10.0.0.3, user: u, role: [etcd]}\n- {address: 10.0.0.1, user: u, role: [worker]}\n`,
      ),
      'cluster.yml: nodes[3].address: 10.0.0.1 is listed twice (also nodes[0])',
    );
  });

  it('wrong types in cluster-wide fields', () => {
    assert.equal(refusal(`ssh_key_path: [a]\n${MINIMAL}`), 'cluster.yml: ssh_key_path: must be text, found a list');
    assert.equal(refusal(`ssh_agent_auth: maybe\n${MINIMAL}`), 'cluster.yml: ssh_agent_auth: must be true or false, found the text "maybe"');
    assert.equal(refusal(`ignore_docker_version: 1\n${MINIMAL}`), 'cluster.yml: ignore_docker_version: must be true or false, found 1');
    assert.equal(refusal(`system_images: [a]\n${MINIMAL}`), 'cluster.yml: system_images: must be a mapping, found a list');
    assert.equal(refusal(`system_images: {alpine: {a: b}}\n${MINIMAL}`), 'cluster.yml: system_images.alpine: must be text, found a mapping');
    assert.equal(refusal(`services: []\n${MINIMAL}`), 'cluster.yml: services: must be a mapping, found a list');
    assert.equal(refusal(`private_registries: {url: x}\n${MINIMAL}`), 'cluster.yml: private_registries: must be a list, found a mapping');
    assert.match(refusal(`private_registries: [x]\n${MINIMAL}`), /^cluster\.yml: private_registries\[0\]: must be a mapping/);
    assert.equal(
      refusal(`kubernetes_version: v1.28\n${MINIMAL}`),
      'cluster.yml: kubernetes_version: "v1.28" is not a version like v1.28.15-rancher1-1',
    );
    assert.equal(refusal(`${MINIMAL}  hostname_override: {a: 1}\n`), 'cluster.yml: nodes[0].hostname_override: must be text, found a mapping (node 10.0.0.1)');
  });

  it('bastion host problems name the bastion', () => {
    assert.equal(
      refusal(`bastion_host: {address: jump}\n${MINIMAL}`),
      'cluster.yml: bastion_host.user: is required when bastion_host.address is set (node jump)',
    );
    assert.equal(
      refusal(`bastion_host: {address: jump, user: u, port: "x"}\n${MINIMAL}`),
      'cluster.yml: bastion_host.port: must be a number from 1 to 65535 (node jump)',
    );
    assert.equal(refusal(`bastion_host: jump\n${MINIMAL}`), 'cluster.yml: bastion_host: must be a mapping, found the text "jump"');
  });

  it('services.etcd problems', () => {
    const etcd = (body: string) => `${MINIMAL}services:\n  etcd:\n${body}`;
    assert.equal(
      refusal(etcd('    extra_env: [FOO]\n')),
      'cluster.yml: services.etcd.extra_env[0]: must be KEY=VALUE with a name before "="',
    );
    assert.equal(
      refusal(etcd('    extra_env: ["=secret"]\n')),
      'cluster.yml: services.etcd.extra_env[0]: must be KEY=VALUE with a name before "="',
    );
    assert.equal(
      refusal(etcd('    extra_env: [{A: 1}]\n')),
      'cluster.yml: services.etcd.extra_env[0]: must be a KEY=VALUE string, found a mapping',
    );
    assert.equal(refusal(etcd('    extra_env: A=1\n')), 'cluster.yml: services.etcd.extra_env: must be a list, found the text "A=1"');
    assert.equal(
      refusal(etcd('    backup_config:\n      timeout: -5\n')),
      'cluster.yml: services.etcd.backup_config.timeout: must be a whole number of seconds greater than 0, found -5',
    );
    assert.match(refusal(etcd('    backup_config:\n      timeout: 1.5\n')), /timeout: must be a whole number/);
    assert.match(refusal(etcd('    backup_config:\n      timeout: 5m\n')), /timeout: must be a whole number .* found the text "5m"$/);
    assert.equal(
      refusal(etcd('    backup_config:\n      s3backupconfig:\n        bucket_name: [a]\n')),
      'cluster.yml: services.etcd.backup_config.s3backupconfig.bucket_name: must be text, found a list',
    );
  });
});

describe('parseClusterConfig: scale', () => {
  it('parses 10 000 nodes', () => {
    const lines = ['nodes:'];
    for (let i = 0; i < 10_000; i++) {
      lines.push(`- address: 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, '  user: rancher', `  role: [${i % 3 === 0 ? 'etcd' : 'worker'}]`);
    }
    const config = parseClusterConfig(lines.join('\n'), 'big.yml', home);
    assert.equal(config.nodes.length, 10_000);
    assert.equal(config.etcdNodes.length, 3334);
  });

  it('finds a duplicate among 10 000 nodes', () => {
    const lines = ['nodes:'];
    for (let i = 0; i < 10_000; i++) lines.push(`- {address: "n${i}", user: u, role: [etcd]}`);
    lines.push('- {address: "n5000", user: u, role: [etcd]}');
    assert.equal(refusal(lines.join('\n')), 'cluster.yml: nodes[10000].address: n5000 is listed twice (also nodes[5000])');
  });
});

describe('loadClusterConfig', () => {
  it('reads the file and resolves its path', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'cluster-test-'));
    try {
      const file = path.join(directory, 'cluster.yml');
      await writeFile(file, MINIMAL);
      const config = await loadClusterConfig(file);
      assert.equal(config.file, file);
      assert.equal(config.stateFile, path.join(directory, 'cluster.rkestate'));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('names the file it cannot read', async () => {
    await assert.rejects(loadClusterConfig('/nonexistent/cluster.yml'), (error: unknown) => {
      assert.ok(error instanceof OperatorError);
      assert.match(error.message, /^cannot read cluster file \/nonexistent\/cluster\.yml: no such file/);
      return true;
    });
    await assert.rejects(loadClusterConfig(tmpdir()), /^OperatorError: cannot read cluster file .*: it is a directory$/);
  });
});

describe('parseClusterConfig: aliases', () => {
  it('refuses an unknown anchor and an alias bomb as invalid YAML', () => {
    assert.match(refusal('nodes: *missing\n'), /^cluster\.yml: is not valid YAML: Unresolved alias .*missing$/);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    assert.match(refusal(`${bomb.join('\n')}\n${MINIMAL}`), /^cluster\.yml: is not valid YAML: Excessive alias count/);
  });
});
