import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { certificatesIgnoredForAgent, chooseCredentialSource, loadCredentials } from './credentials.js';
import { tempDir } from '../../test/support/temp-dir.js';

const cluster = { sshKeyPath: '/home/op/.ssh/id_rsa', sshAgentAuth: false };
const node = { sshAgentAuth: false, fieldPrefix: 'nodes[1]' };

test('the agent wins when asked for by flag, cluster or node', () => {
  assert.deepEqual(chooseCredentialSource(node, cluster, true), { kind: 'agent' });
  assert.deepEqual(chooseCredentialSource(node, { ...cluster, sshAgentAuth: true }, false), { kind: 'agent' });
  assert.deepEqual(chooseCredentialSource({ ...node, sshAgentAuth: true }, cluster, false), { kind: 'agent' });
});

test('then the inline key, the node key path, the cluster key path', () => {
  assert.equal(chooseCredentialSource({ ...node, sshKey: 'KEY', sshKeyPath: '/k' }, cluster, false).kind, 'inline-key');
  assert.deepEqual(chooseCredentialSource({ ...node, sshKeyPath: '/k' }, cluster, false), {
    kind: 'key-file',
    path: '/k',
    field: 'nodes[1].ssh_key_path',
  });
  assert.deepEqual(chooseCredentialSource(node, cluster, false), {
    kind: 'key-file',
    path: '/home/op/.ssh/id_rsa',
    field: 'ssh_key_path',
  });
});

test('agent auth without SSH_AUTH_SOCK is a clear error', async () => {
  await assert.rejects(loadCredentials({ kind: 'agent' }, {}), /SSH_AUTH_SOCK is not set/);
});

test('agent auth with a dead agent socket says so', async () => {
  await assert.rejects(
    loadCredentials({ kind: 'agent' }, { SSH_AUTH_SOCK: '/nonexistent/agent.sock' }),
    /SSH_AUTH_SOCK=\/nonexistent\/agent\.sock does not exist; is ssh-agent running\?/,
  );
  await assert.rejects(loadCredentials({ kind: 'agent' }, { SSH_AUTH_SOCK: '/etc/hostname' }), /is not a socket/);
});

test('a missing key file names the file and the field', async () => {
  await assert.rejects(
    loadCredentials({ kind: 'key-file', path: '/nonexistent/key', field: 'nodes[0].ssh_key_path' }),
    /cannot read ssh key \/nonexistent\/key \(nodes\[0\]\.ssh_key_path\)/,
  );
});

test('an encrypted key says to use the agent, and never shows the key', async () => {
  const dir = tempDir('rke-key-');
  const keyPath = path.join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-f', keyPath]);
  const error = await loadCredentials({ kind: 'key-file', path: keyPath, field: 'ssh_key_path' }).catch((e: Error) => e);
  assert.ok(error instanceof Error);
  assert.match(error.message, /encrypted with a passphrase: add it to ssh-agent \(ssh-add\) and pass --ssh-agent-auth/);
  assert.ok(!error.message.includes(readFileSync(keyPath, 'utf8').split('\n')[1]!));
});

test('a file that is not a key is refused up front', async () => {
  const dir = tempDir('rke-key-');
  const keyPath = path.join(dir, 'not-a-key');
  writeFileSync(keyPath, 'hello\n');
  await assert.rejects(
    loadCredentials({ kind: 'key-file', path: keyPath, field: 'ssh_key_path' }),
    /is not a private key ssh can use/,
  );
});

test('a certificate comes with the key: the host\'s inline one, its path, the cluster\'s path; never with the agent', () => {
  const withCertPath = { ...cluster, sshCertPath: '/c/cluster-cert.pub' };
  assert.deepEqual(chooseCredentialSource({ ...node, sshKeyPath: '/k', sshCert: 'CERT', sshCertPath: '/c/n' }, withCertPath, false), {
    kind: 'key-file',
    path: '/k',
    field: 'nodes[1].ssh_key_path',
    certificate: { kind: 'inline-cert', text: 'CERT', field: 'nodes[1].ssh_cert' },
  });
  assert.deepEqual(chooseCredentialSource({ ...node, sshKey: 'KEY', sshCertPath: '/c/n' }, withCertPath, false), {
    kind: 'inline-key',
    key: 'KEY',
    field: 'nodes[1].ssh_key',
    certificate: { kind: 'cert-file', path: '/c/n', field: 'nodes[1].ssh_cert_path' },
  });
  assert.deepEqual(chooseCredentialSource(node, withCertPath, false), {
    kind: 'key-file',
    path: '/home/op/.ssh/id_rsa',
    field: 'ssh_key_path',
    certificate: { kind: 'cert-file', path: '/c/cluster-cert.pub', field: 'ssh_cert_path' },
  });
  assert.deepEqual(chooseCredentialSource({ ...node, sshCert: 'CERT' }, withCertPath, true), { kind: 'agent' });
  assert.equal('certificate' in chooseCredentialSource(node, cluster, false), false);
});

test('the bastion is chosen for like a node, its fields named bastion_host', () => {
  const bastion = { sshKeyPath: '/b/key', sshCertPath: '/b/cert', sshAgentAuth: false, fieldPrefix: 'bastion_host' };
  assert.deepEqual(chooseCredentialSource(bastion, cluster, false), {
    kind: 'key-file',
    path: '/b/key',
    field: 'bastion_host.ssh_key_path',
    certificate: { kind: 'cert-file', path: '/b/cert', field: 'bastion_host.ssh_cert_path' },
  });
});

test('a certificate that is not for the key, expired, or unreadable is refused before connecting, naming both fields', async () => {
  const dir = tempDir('rke-cert-cred-');
  const key = (name: string) => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, name)]);
    return path.join(dir, name);
  };
  const ca = key('ca');
  const mine = key('mine');
  const other = key('other');
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'other', '-n', 'root', `${other}.pub`]);
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'mine', '-n', 'root', '-V', '20260101000000Z:20260102000000Z', `${mine}.pub`]);
  const source = (certificate: string) =>
    ({ kind: 'key-file', path: mine, field: 'nodes[0].ssh_key_path', certificate: { kind: 'cert-file', path: certificate, field: 'nodes[0].ssh_cert_path' } }) as const;
  await assert.rejects(
    loadCredentials(source(`${other}-cert.pub`)),
    new RegExp(`^OperatorError: ssh certificate ${other}-cert.pub \\(nodes\\[0\\]\\.ssh_cert_path\\) does not certify this private key .*\\(key: key ${mine} \\(nodes\\[0\\]\\.ssh_key_path\\)\\)$`),
  );
  await assert.rejects(
    loadCredentials(source(`${mine}-cert.pub`), {}, () => Date.UTC(2026, 5, 1)),
    /ssh certificate .*mine-cert\.pub \(nodes\[0\]\.ssh_cert_path\) expired on 2026-01-02T00:00:00Z; have the key signed again/,
  );
  const valid = await loadCredentials(source(`${mine}-cert.pub`), {}, () => Date.UTC(2026, 0, 1, 12));
  assert.equal(valid.kind === 'key' && valid.certificate?.certificate.keyId, 'mine');
  await assert.rejects(loadCredentials(source(`${dir}/missing-cert.pub`)), /cannot read ssh certificate .*missing-cert\.pub \(nodes\[0\]\.ssh_cert_path\): ENOENT/);
  await assert.rejects(
    loadCredentials({ ...source(''), certificate: { kind: 'inline-cert', text: readFileSync(`${mine}.pub`, 'utf8'), field: 'nodes[0].ssh_cert' } }),
    /ssh the inline certificate in nodes\[0\]\.ssh_cert holds a ssh-ed25519 public key, not a certificate/,
  );
});

test('certificate fields of hosts the agent authenticates are listed for a warning', () => {
  const hosts = [
    { sshAgentAuth: true, sshCertPath: '/c/0', fieldPrefix: 'nodes[0]' },
    { sshAgentAuth: false, sshCert: 'CERT', fieldPrefix: 'nodes[1]' },
    { sshAgentAuth: false, sshCertPath: '/c/b', fieldPrefix: 'bastion_host' },
  ];
  assert.deepEqual(certificatesIgnoredForAgent(hosts, { ...cluster, sshCertPath: '/c' }, false), ['nodes[0].ssh_cert_path']);
  assert.deepEqual(certificatesIgnoredForAgent(hosts, { ...cluster, sshCertPath: '/c' }, true), [
    'ssh_cert_path',
    'nodes[0].ssh_cert_path',
    'nodes[1].ssh_cert',
    'bastion_host.ssh_cert_path',
  ]);
  assert.deepEqual(certificatesIgnoredForAgent(hosts.slice(1), cluster, false), []);
});
