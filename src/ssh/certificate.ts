/**
 * OpenSSH user certificates (PROTOCOL.certkeys): parse a `*-cert.pub` line, check it
 * against the private key and the clock, and say which algorithms to authenticate with.
 * Pure: no I/O.
 */

/** What we can authenticate with: the algorithm named in the request and the signature's. */
export interface CertificateAlgorithms {
  /** sent as the public key algorithm, e.g. "rsa-sha2-256-cert-v01@openssh.com" */
  request: string;
  /** inside the signature blob, e.g. "rsa-sha2-256" */
  signature: string;
  /** node:crypto digest for the signature; null for ed25519 */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** ECDSA signatures are two mpints, not DER */
  ecdsa: boolean;
}

export interface SshCertificate {
  /** e.g. "ssh-ed25519-cert-v01@openssh.com", as in the blob */
  type: string;
  /** the whole certificate, as sent to the server */
  blob: Buffer;
  /** the certified public key in its plain SSH form ("ssh-ed25519" + key), to compare with the private key */
  publicKey: Buffer;
  serial: bigint;
  kind: 'user' | 'host';
  keyId: string;
  /** empty: any principal */
  principals: string[];
  /** seconds since the epoch; 0 = always */
  validAfter: bigint;
  /** seconds since the epoch; FOREVER = never expires */
  validBefore: bigint;
}

export const FOREVER = 0xffff_ffff_ffff_ffffn;

/** Certificate types and how to use them; anything else is refused with a clear message. */
const USABLE: Record<string, { plain: string; algorithms: CertificateAlgorithms; keyFields: 'ed25519' | 'ecdsa' | 'rsa' }> = {
  'ssh-ed25519-cert-v01@openssh.com': {
    plain: 'ssh-ed25519',
    keyFields: 'ed25519',
    algorithms: { request: 'ssh-ed25519-cert-v01@openssh.com', signature: 'ssh-ed25519', hash: null, ecdsa: false },
  },
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': {
    plain: 'ecdsa-sha2-nistp256',
    keyFields: 'ecdsa',
    algorithms: { request: 'ecdsa-sha2-nistp256-cert-v01@openssh.com', signature: 'ecdsa-sha2-nistp256', hash: 'sha256', ecdsa: true },
  },
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': {
    plain: 'ecdsa-sha2-nistp384',
    keyFields: 'ecdsa',
    algorithms: { request: 'ecdsa-sha2-nistp384-cert-v01@openssh.com', signature: 'ecdsa-sha2-nistp384', hash: 'sha384', ecdsa: true },
  },
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': {
    plain: 'ecdsa-sha2-nistp521',
    keyFields: 'ecdsa',
    algorithms: { request: 'ecdsa-sha2-nistp521-cert-v01@openssh.com', signature: 'ecdsa-sha2-nistp521', hash: 'sha512', ecdsa: true },
  },
  // SHA-1 ("ssh-rsa") signatures are refused by OpenSSH 8.8+; rsa-sha2-256 works from OpenSSH 7.8 on.
  'ssh-rsa-cert-v01@openssh.com': {
    plain: 'ssh-rsa',
    keyFields: 'rsa',
    algorithms: { request: 'rsa-sha2-256-cert-v01@openssh.com', signature: 'rsa-sha2-256', hash: 'sha256', ecdsa: false },
  },
};

export const USABLE_CERTIFICATE_TYPES = Object.keys(USABLE);

/** A problem with the certificate text; the caller adds where it came from. */
export class CertificateError extends Error {}

/** Parses the first line of an OpenSSH certificate file: `<type> <base64> [comment]`. */
export function parseCertificate(text: string): SshCertificate {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('#'));
  if (line === undefined) throw new CertificateError('is empty');
  const [outerType, base64] = line.split(/\s+/);
  const looksLikeKey = outerType !== undefined && /^(ssh|ecdsa|sk|rsa)-[a-z0-9@.-]+$/.test(outerType);
  if (!looksLikeKey || base64 === undefined || !/^[A-Za-z0-9+/]+=*$/.test(base64)) {
    throw new CertificateError('is not an OpenSSH certificate (expected a line like "ssh-ed25519-cert-v01@openssh.com AAAA... comment", as ssh-keygen -s writes it)');
  }
  if (!outerType.endsWith('-cert-v01@openssh.com')) {
    throw new CertificateError(`holds a ${outerType} public key, not a certificate (the file ssh-keygen -s writes ends in -cert.pub)`);
  }
  const blob = Buffer.from(base64, 'base64');
  const reader = new WireReader(blob);
  let type: string;
  try {
    type = reader.text();
  } catch {
    throw new CertificateError('is not an OpenSSH certificate: its data is truncated');
  }
  if (type !== outerType) throw new CertificateError(`says ${outerType} but its data is a ${type}`);
  const usable = USABLE[type];
  if (usable === undefined) {
    throw new CertificateError(
      `is a ${type} certificate, which this tool cannot use; use an ed25519, ecdsa or rsa key and certificate`,
    );
  }
  try {
    reader.bytes(); // nonce
    const keyStart = reader.offset;
    const fields = usable.keyFields === 'ed25519' ? 1 : 2; // pk | curve, Q | e, n
    for (let i = 0; i < fields; i++) reader.bytes();
    const keyFields = blob.subarray(keyStart, reader.offset);
    const serial = reader.uint64();
    const kindCode = reader.uint32();
    const keyId = reader.text();
    const principals = readStringList(reader.bytes());
    const validAfter = reader.uint64();
    const validBefore = reader.uint64();
    reader.bytes(); // critical options
    reader.bytes(); // extensions
    reader.bytes(); // reserved
    reader.bytes(); // signature key
    reader.bytes(); // signature
    if (kindCode !== 1 && kindCode !== 2) throw new CertificateError(`has an unknown certificate type ${kindCode}`);
    return {
      type,
      blob,
      publicKey: Buffer.concat([wireString(Buffer.from(usable.plain)), keyFields]),
      serial,
      kind: kindCode === 1 ? 'user' : 'host',
      keyId,
      principals,
      validAfter,
      validBefore,
    };
  } catch (error) {
    if (error instanceof CertificateError) throw error;
    throw new CertificateError('is not an OpenSSH certificate: its data is truncated');
  }
}

export function certificateAlgorithms(certificate: SshCertificate): CertificateAlgorithms {
  const usable = USABLE[certificate.type];
  if (usable === undefined) throw new CertificateError(`is a ${certificate.type} certificate, which this tool cannot use`);
  return usable.algorithms;
}

/**
 * Why this certificate cannot work with this key at this time, or undefined. The server
 * would refuse all of these; saying so first names the real cause.
 * `keyPublic` is the private key's public half in SSH wire form.
 */
export function certificateProblem(certificate: SshCertificate, keyPublic: Buffer, nowSeconds: number): string | undefined {
  if (certificate.kind !== 'user') return 'is a host certificate, not a user certificate (ssh-keygen -s without -h makes user certificates)';
  if (!certificate.publicKey.equals(keyPublic)) return 'does not certify this private key (it was signed for another key)';
  const now = BigInt(Math.floor(nowSeconds));
  if (certificate.validAfter !== 0n && now < certificate.validAfter) {
    return `is not valid yet: valid from ${formatCertificateTime(certificate.validAfter)}`;
  }
  if (certificate.validBefore !== FOREVER && now >= certificate.validBefore) {
    return `expired on ${formatCertificateTime(certificate.validBefore)}; have the key signed again`;
  }
  return undefined;
}

/** For messages: "id \"ci\", principals root, valid until 2026-11-29T10:00:00Z". */
export function describeCertificate(certificate: SshCertificate): string {
  const principals = certificate.principals.length === 0 ? 'any principal' : `principals ${certificate.principals.join(',')}`;
  const until = certificate.validBefore === FOREVER ? 'no expiry' : `valid until ${formatCertificateTime(certificate.validBefore)}`;
  return `id ${JSON.stringify(certificate.keyId)}, ${principals}, ${until}`;
}

/** Seconds since the epoch as ISO 8601 UTC, without milliseconds. */
export function formatCertificateTime(seconds: bigint): string {
  if (seconds > 253402300799n) return 'the far future';
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

// ---- SSH wire format ----

export function wireString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** An SSH mpint from an unsigned big-endian integer. */
export function wireMpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length && unsigned[start] === 0) start++;
  let value = unsigned.subarray(start);
  if (value.length > 0 && (value[0]! & 0x80) !== 0) value = Buffer.concat([Buffer.from([0]), value]);
  return wireString(value);
}

function readStringList(data: Buffer): string[] {
  const reader = new WireReader(data);
  const list: string[] = [];
  while (reader.offset < data.length) list.push(reader.text());
  return list;
}

class WireReader {
  offset = 0;

  constructor(private readonly data: Buffer) {}

  uint32(): number {
    this.need(4);
    const value = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(): bigint {
    this.need(8);
    const value = this.data.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  bytes(): Buffer {
    const length = this.uint32();
    this.need(length);
    const value = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  text(): string {
    return this.bytes().toString('utf8');
  }

  private need(count: number): void {
    if (this.offset + count > this.data.length) throw new RangeError('truncated');
  }
}
