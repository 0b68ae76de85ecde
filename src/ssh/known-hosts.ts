import { createHash, createHmac } from 'node:crypto';

/**
 * OpenSSH's known_hosts, read the way `ssh` reads it: plain or hashed (`|1|salt|hash`)
 * host patterns, `[host]:port` for ports other than 22, `*`/`?` wildcards, `!` negation,
 * `@revoked` keys; `@cert-authority` lines are not used (no certificates here yet).
 */
export interface KnownHostEntry {
  /** The line's host field: patterns separated by commas, or one hashed name. */
  hosts: string;
  keyType: string;
  key: Buffer;
  revoked: boolean;
  /** 1-based line number, for messages. */
  line: number;
}

export type HostKeyVerdict =
  | { kind: 'known' }
  | { kind: 'unknown' }
  | { kind: 'revoked'; entry: KnownHostEntry }
  | { kind: 'changed'; entries: KnownHostEntry[] };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    if (marker === '@cert-authority') return;
    const [hosts, keyType, base64] = fields;
    if (hosts === undefined || keyType === undefined || base64 === undefined) return;
    const key = Buffer.from(base64, 'base64');
    if (key.length === 0) return;
    entries.push({ hosts, keyType, key, revoked: marker === '@revoked', line: index + 1 });
  });
  return entries;
}

/** How ssh names a host in known_hosts: `host`, or `[host]:port` when the port is not 22. */
export function hostToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function entryMatches(entry: KnownHostEntry, token: string): boolean {
  if (entry.hosts.startsWith('|1|')) return hashedMatches(entry.hosts, token);
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    const negated = pattern.startsWith('!');
    if (globMatches(negated ? pattern.slice(1) : pattern, token)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function hashedMatches(hashed: string, token: string): boolean {
  const [, , salt, hash] = hashed.split('|');
  if (salt === undefined || hash === undefined) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(token).digest('base64') === hash;
}

function globMatches(pattern: string, text: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(text);
}

/** What known_hosts says about the key a host offered. */
export function checkHostKey(entries: KnownHostEntry[], token: string, offered: Buffer): HostKeyVerdict {
  const forHost = entries.filter((entry) => entryMatches(entry, token));
  const revoked = forHost.find((entry) => entry.revoked && entry.key.equals(offered));
  if (revoked) return { kind: 'revoked', entry: revoked };
  const trusted = forHost.filter((entry) => !entry.revoked);
  if (trusted.some((entry) => entry.key.equals(offered))) return { kind: 'known' };
  return trusted.length === 0 ? { kind: 'unknown' } : { kind: 'changed', entries: trusted };
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:...`, as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function knownHostsLine(token: string, key: Buffer): string {
  return `${token} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

/**
 * Host key algorithms to offer first for a host whose known keys are of these types,
 * so that a server with several keys shows the one we know (as ssh does).
 */
export function preferredHostKeyAlgorithms(entries: KnownHostEntry[], token: string): string[] {
  const types = new Set(entries.filter((entry) => !entry.revoked && entryMatches(entry, token)).map((entry) => entry.keyType));
  return [...types].flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]));
}
