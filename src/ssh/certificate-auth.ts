import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import ssh2, { type AuthHandlerMiddleware, type ParsedKey } from 'ssh2';
import { certificateAlgorithms, wireMpint, wireString, type CertificateAlgorithms, type SshCertificate } from './certificate.js';

/**
 * Public key authentication with an OpenSSH user certificate over ssh2, which has no
 * certificate support of its own (mscdex/ssh2#551).
 *
 * ssh2 sends a public key request twice: first without a signature (may I use this
 * key?), then signed. The first works as is with a key object that presents the
 * certificate blob under the certificate's algorithm. The signed one does not: ssh2
 * writes the same algorithm name into the request and into the signature, while the
 * server wants the certificate's name in the request and the plain key's name in the
 * signature ("ssh-ed25519-cert-v01@openssh.com" vs "ssh-ed25519"). So that one
 * request is built here (RFC 4252 §7) and handed to ssh2's own packet writer.
 */

/** The ssh2 internals the signed request needs; checked before use. */
interface Ssh2Protocol {
  authPK(username: string, key: unknown, keyAlgo?: unknown, cbSign?: unknown): void;
  _kex?: { sessionID?: Buffer };
  _authsQueue?: string[];
  _packetRW?: { write?: { allocStart: number; alloc(size: number): Buffer; finalize(packet: Buffer): Buffer } };
}

const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket?: (protocol: Ssh2Protocol, packet: Buffer) => void };

const USERAUTH_REQUEST = 50;

/**
 * An ssh2 `authHandler` that authenticates once, with `privateKey` and `certificate`.
 * `client` is the ssh2 Client being connected (its protocol exists by the time the
 * handler is called).
 */
export function certificateAuthHandler(
  client: InstanceType<typeof ssh2.Client>,
  username: string,
  privateKey: Buffer,
  certificate: SshCertificate,
): AuthHandlerMiddleware {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  const algorithms = certificateAlgorithms(certificate);
  const signingKey = createPrivateKey(parsed.getPrivatePEM());
  // The parsed key with the certificate in place of its public half; everything else
  // (ssh2's own checks that this is a usable private key) is inherited.
  const presented: ParsedKey = Object.create(parsed, {
    type: { value: algorithms.request },
    getPublicSSH: { value: () => certificate.blob },
  });
  let tried = false;
  return (_methodsLeft, _partialSuccess, next) => {
    // false: no more methods (ssh2 accepts it; its types omit it)
    if (tried) return next(false as unknown as ssh2.AnyAuthMethod);
    tried = true;
    try {
      interceptSignedRequest(client, protocolOf(client), presented, certificate, algorithms, signingKey);
    } catch (error) {
      // Thrown here it would escape ssh2's event handler; as the client's error it fails this connection only.
      client.emit('error', error);
      return next(false as unknown as ssh2.AnyAuthMethod);
    }
    return next({ type: 'publickey', username, key: presented });
  };
}

function protocolOf(client: InstanceType<typeof ssh2.Client>): Ssh2Protocol {
  const protocol = (client as unknown as { _protocol?: Ssh2Protocol })._protocol;
  const writer = protocol?._packetRW?.write;
  if (
    protocol === undefined ||
    typeof protocol.authPK !== 'function' ||
    !Array.isArray(protocol._authsQueue) ||
    typeof writer?.alloc !== 'function' ||
    typeof writer.finalize !== 'function' ||
    typeof sendPacket !== 'function'
  ) {
    throw new Error('this version of the ssh2 library cannot be used for certificate authentication');
  }
  return protocol;
}

function interceptSignedRequest(
  client: InstanceType<typeof ssh2.Client>,
  protocol: Ssh2Protocol,
  presented: ParsedKey,
  certificate: SshCertificate,
  algorithms: CertificateAlgorithms,
  signingKey: KeyObject,
): void {
  const original = protocol.authPK;
  protocol.authPK = function authPK(this: Ssh2Protocol, username, key, keyAlgo, cbSign) {
    const signing = typeof keyAlgo === 'function' || typeof cbSign === 'function';
    if (key !== presented || !signing) return original.call(this, username, key, keyAlgo, cbSign);
    try {
      sendSignedRequest(this, username, certificate, algorithms, signingKey);
    } catch (error) {
      client.emit('error', error);
      client.end();
    }
  };
}

function sendSignedRequest(
  protocol: Ssh2Protocol,
  username: string,
  certificate: SshCertificate,
  algorithms: CertificateAlgorithms,
  signingKey: KeyObject,
): void {
  const sessionId = protocol._kex?.sessionID;
  if (!Buffer.isBuffer(sessionId)) throw new Error('ssh2: no session id for the signed request');
  const request = Buffer.concat([
    Buffer.from([USERAUTH_REQUEST]),
    wireString(Buffer.from(username)),
    wireString(Buffer.from('ssh-connection')),
    wireString(Buffer.from('publickey')),
    Buffer.from([1]),
    wireString(Buffer.from(algorithms.request)),
    wireString(certificate.blob),
  ]);
  const signature = signWith(signingKey, algorithms, Buffer.concat([wireString(sessionId), request]));
  const payload = Buffer.concat([request, wireString(Buffer.concat([wireString(Buffer.from(algorithms.signature)), wireString(signature)]))]);
  const writer = protocol._packetRW!.write!;
  const packet = writer.alloc(payload.length);
  payload.copy(packet, writer.allocStart);
  protocol._authsQueue!.push('publickey');
  sendPacket!(protocol, writer.finalize(packet));
}

/** The raw signature as SSH carries it (RFC 8709, RFC 5656 §3.1.2, RFC 8332). */
export function signWith(key: KeyObject, algorithms: CertificateAlgorithms, data: Buffer): Buffer {
  if (!algorithms.ecdsa) return sign(algorithms.hash, data, key);
  const raw = sign(algorithms.hash, data, { key, dsaEncoding: 'ieee-p1363' });
  const half = raw.length / 2;
  return Buffer.concat([wireMpint(raw.subarray(0, half)), wireMpint(raw.subarray(half))]);
}
