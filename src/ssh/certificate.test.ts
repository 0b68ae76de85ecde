import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  FOREVER,
  certificateAlgorithms,
  certificateProblem,
  describeCertificate,
  parseCertificate,
  wireMpint,
  wireString,
} from './certificate.js';
import { tempDir } from '../../test/support/temp-dir.js';

const dir = tempDir('rke-cert-');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test ca', '-f', path.join(dir, 'ca')]);

/** A key pair and a certificate for it, signed by the test CA with `options` (ssh-keygen -s). */
function signedKey(name: string, type: string, options: string[]): { publicKey: Buffer; certificate: string } {
  const key = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', key]);
  execFileSync('ssh-keygen', ['-q', '-s', path.join(dir, 'ca'), ...options, `${key}.pub`]);
  const publicKey = Buffer.from(readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!, 'base64');
  return { publicKey, certificate: readFileSync(`${key}-cert.pub`, 'utf8') };
}

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0) / 1000;

describe('parseCertificate', () => {
  it('reads an ed25519 user certificate', () => {
    const { publicKey, certificate } = signedKey('ed', 'ed25519', ['-I', 'ops-1', '-n', 'root,admin', '-z', '42', '-V', '20261101000000Z:20261201000000Z']);
    const cert = parseCertificate(certificate);
    assert.equal(cert.type, 'ssh-ed25519-cert-v01@openssh.com');
    assert.equal(cert.kind, 'user');
    assert.equal(cert.keyId, 'ops-1');
    assert.equal(cert.serial, 42n);
    assert.deepEqual(cert.principals, ['root', 'admin']);
    assert.equal(cert.validAfter, BigInt(Date.UTC(2026, 10, 1) / 1000));
    assert.equal(cert.validBefore, BigInt(Date.UTC(2026, 11, 1) / 1000));
    assert.ok(cert.publicKey.equals(publicKey), 'the certified key in plain form is the key');
    assert.equal(certificateProblem(cert, publicKey, NOW), undefined);
    assert.equal(describeCertificate(cert), 'id "ops-1", principals root,admin, valid until 2026-12-01T00:00:00Z');
    assert.deepEqual(certificateAlgorithms(cert), { request: 'ssh-ed25519-cert-v01@openssh.com', signature: 'ssh-ed25519', hash: null, ecdsa: false });
  });

  it('reads ecdsa and rsa certificates; rsa is used with SHA-256 signatures', () => {
    for (const [type, bits] of [['ecdsa', '256'], ['ecdsa', '384'], ['ecdsa', '521'], ['rsa', '2048']] as const) {
      const key = path.join(dir, `${type}${bits}`);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-b', bits, '-N', '', '-f', key]);
      execFileSync('ssh-keygen', ['-q', '-s', path.join(dir, 'ca'), '-I', 'x', `${key}.pub`]);
      const publicKey = Buffer.from(readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!, 'base64');
      const cert = parseCertificate(readFileSync(`${key}-cert.pub`, 'utf8'));
      assert.ok(cert.publicKey.equals(publicKey), `${type} ${bits}`);
      assert.deepEqual(cert.principals, [], 'no -n: any principal');
      assert.equal(cert.validBefore, FOREVER);
      assert.equal(certificateProblem(cert, publicKey, NOW), undefined);
      assert.match(describeCertificate(cert), /any principal, no expiry/);
    }
    const rsa = parseCertificate(readFileSync(path.join(dir, 'rsa2048-cert.pub'), 'utf8'));
    assert.equal(certificateAlgorithms(rsa).request, 'rsa-sha2-256-cert-v01@openssh.com');
    assert.equal(certificateAlgorithms(rsa).signature, 'rsa-sha2-256');
    const p384 = parseCertificate(readFileSync(path.join(dir, 'ecdsa384-cert.pub'), 'utf8'));
    assert.deepEqual(certificateAlgorithms(p384), {
      request: 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
      signature: 'ecdsa-sha2-nistp384',
      hash: 'sha384',
      ecdsa: true,
    });
  });

  it('refuses what is not a certificate, saying what it is', () => {
    const { publicKey } = signedKey('plain', 'ed25519', ['-I', 'x']);
    assert.throws(() => parseCertificate(`ssh-ed25519 ${publicKey.toString('base64')} me@host\n`), /holds a ssh-ed25519 public key, not a certificate/);
    assert.throws(() => parseCertificate('\n\n'), /is empty/);
    assert.throws(() => parseCertificate('-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n'), /is not an OpenSSH certificate/);
    assert.throws(() => parseCertificate('ssh-ed25519-cert-v01@openssh.com AAAA'), /truncated/);
    const dss = wireString(Buffer.from('ssh-dss-cert-v01@openssh.com')).toString('base64');
    assert.throws(() => parseCertificate(`ssh-dss-cert-v01@openssh.com ${dss}`), /is a ssh-dss-cert-v01@openssh.com certificate, which this tool cannot use/);
    const { certificate } = signedKey('trunc', 'ed25519', ['-I', 'x']);
    const [type, data] = certificate.split(' ');
    const cut = Buffer.from(data!, 'base64').subarray(0, 120).toString('base64');
    assert.throws(() => parseCertificate(`${type} ${cut}`), /its data is truncated/);
    assert.throws(() => parseCertificate(`ssh-rsa-cert-v01@openssh.com ${data}`), /says ssh-rsa-cert-v01@openssh.com but its data is a ssh-ed25519-cert-v01@openssh.com/);
  });
});

describe('certificateProblem', () => {
  it('an expired, a not yet valid, a host or another key\'s certificate is named as such', () => {
    const expired = signedKey('expired', 'ed25519', ['-I', 'x', '-n', 'root', '-V', '20260101000000Z:20260201000000Z']);
    assert.equal(
      certificateProblem(parseCertificate(expired.certificate), expired.publicKey, NOW),
      'expired on 2026-02-01T00:00:00Z; have the key signed again',
    );
    const future = signedKey('future', 'ed25519', ['-I', 'x', '-V', '20270101000000Z:20270201000000Z']);
    assert.equal(certificateProblem(parseCertificate(future.certificate), future.publicKey, NOW), 'is not valid yet: valid from 2027-01-01T00:00:00Z');
    const host = signedKey('host', 'ed25519', ['-I', 'x', '-h']);
    assert.match(certificateProblem(parseCertificate(host.certificate), host.publicKey, NOW)!, /is a host certificate, not a user certificate/);
    assert.equal(
      certificateProblem(parseCertificate(host.certificate), expired.publicKey, NOW) ?? '',
      'is a host certificate, not a user certificate (ssh-keygen -s without -h makes user certificates)',
    );
    const other = signedKey('other', 'ed25519', ['-I', 'x']);
    assert.equal(certificateProblem(parseCertificate(other.certificate), expired.publicKey, NOW), 'does not certify this private key (it was signed for another key)');
  });
});

describe('wire encoding', () => {
  it('mpints drop leading zeros and keep a positive sign', () => {
    assert.deepEqual([...wireMpint(Buffer.from([0, 0, 0x12]))], [0, 0, 0, 1, 0x12]);
    assert.deepEqual([...wireMpint(Buffer.from([0x80, 1]))], [0, 0, 0, 3, 0, 0x80, 1]);
    assert.deepEqual([...wireMpint(Buffer.from([0, 0]))], [0, 0, 0, 0]);
  });
});
