import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { chooseCredentialSource, loadCredentials } from './credentials.js';

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
  const dir = mkdtempSync(path.join(tmpdir(), 'rke-key-'));
  const keyPath = path.join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-f', keyPath]);
  const error = await loadCredentials({ kind: 'key-file', path: keyPath, field: 'ssh_key_path' }).catch((e: Error) => e);
  assert.ok(error instanceof Error);
  assert.match(error.message, /encrypted with a passphrase: add it to ssh-agent \(ssh-add\) and pass --ssh-agent-auth/);
  assert.ok(!error.message.includes(readFileSync(keyPath, 'utf8').split('\n')[1]!));
});

test('a file that is not a key is refused up front', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rke-key-'));
  const keyPath = path.join(dir, 'not-a-key');
  writeFileSync(keyPath, 'hello\n');
  await assert.rejects(
    loadCredentials({ kind: 'key-file', path: keyPath, field: 'ssh_key_path' }),
    /is not a private key ssh can use/,
  );
});
