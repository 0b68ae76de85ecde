import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkHostKey, fingerprint, hostToken, knownHostsLine, parseKnownHosts, preferredHostKeyAlgorithms } from './known-hosts.js';
import { tempDir } from '../../test/support/temp-dir.js';

const dir = tempDir('known-hosts-');
function newKey(name: string): { blob: Buffer; pubLine: string; file: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const pubLine = readFileSync(`${file}.pub`, 'utf8').trim();
  return { blob: Buffer.from(pubLine.split(' ')[1]!, 'base64'), pubLine, file: `${file}.pub` };
}
const a = newKey('a');
const b = newKey('b');

test('fingerprints are the ones ssh-keygen -l prints', () => {
  const printed = execFileSync('ssh-keygen', ['-lf', a.file], { encoding: 'utf8' }).split(' ')[1];
  assert.equal(fingerprint(a.blob), printed);
});

test('port 22 is the bare host, others [host]:port', () => {
  assert.equal(hostToken('10.0.0.1', 22), '10.0.0.1');
  assert.equal(hostToken('10.0.0.1', 2222), '[10.0.0.1]:2222');
});

test('a known key passes, another key for the same host is a change, a new host is unknown', () => {
  const entries = parseKnownHosts(`# comment\n\n${knownHostsLine('10.0.0.1', a.blob)}\n`);
  assert.deepEqual(checkHostKey(entries, '10.0.0.1', a.blob), { kind: 'known' });
  const changed = checkHostKey(entries, '10.0.0.1', b.blob);
  assert.equal(changed.kind, 'changed');
  assert.equal(changed.kind === 'changed' && changed.entries[0]!.line, 3);
  assert.deepEqual(checkHostKey(entries, '10.0.0.2', a.blob), { kind: 'unknown' });
  assert.deepEqual(checkHostKey(entries, '[10.0.0.1]:2222', a.blob), { kind: 'unknown' });
});

test('hashed names (ssh-keygen -H) match the host they hash', () => {
  const file = path.join(dir, 'hashed');
  writeFileSync(file, `${knownHostsLine('[10.0.0.9]:2222', a.blob)}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith('|1|'), text);
  const entries = parseKnownHosts(text);
  assert.deepEqual(checkHostKey(entries, '[10.0.0.9]:2222', a.blob), { kind: 'known' });
  assert.deepEqual(checkHostKey(entries, '10.0.0.9', a.blob), { kind: 'unknown' });
});

test('comma lists, wildcards and negation', () => {
  const entries = parseKnownHosts(`etcd-1,10.0.0.1 ${a.pubLine.split(' ').slice(0, 2).join(' ')}\n10.0.1.* ${a.pubLine}\n!10.0.1.5,10.0.1.? ${b.pubLine}\n`);
  assert.equal(checkHostKey(entries, 'etcd-1', a.blob).kind, 'known');
  assert.equal(checkHostKey(entries, '10.0.1.77', a.blob).kind, 'known');
  assert.equal(checkHostKey(entries, '10.0.1.6', b.blob).kind, 'known');
  assert.equal(checkHostKey(entries, '10.0.1.5', b.blob).kind, 'changed', 'negated: only the wildcard line applies');
});

test('@revoked keys are refused; @cert-authority lines are not host keys', () => {
  const entries = parseKnownHosts(`@revoked * ${a.pubLine}\n@cert-authority * ${b.pubLine}\n`);
  assert.equal(checkHostKey(entries, '10.0.0.1', a.blob).kind, 'revoked');
  assert.equal(checkHostKey(entries, '10.0.0.1', b.blob).kind, 'unknown');
});

test('the known key types are offered first', () => {
  const entries = parseKnownHosts(`10.0.0.1 ${a.pubLine}\n10.0.0.1 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7\n`);
  assert.deepEqual(preferredHostKeyAlgorithms(entries, '10.0.0.1'), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual(preferredHostKeyAlgorithms(entries, '10.0.0.2'), []);
});
