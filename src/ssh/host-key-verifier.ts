import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { OperatorError, messageOf } from '../errors.js';
import {
  checkHostKey,
  fingerprint,
  hostToken,
  keyTypeOf,
  knownHostsLine,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  type KnownHostEntry,
} from './known-hosts.js';

/** RKE ignores host keys; we check them (SPEC §5). `accept-new` is OpenSSH's own option of that name. */
export const HOST_KEY_POLICIES = ['accept-new', 'strict', 'off'] as const;
export type HostKeyPolicy = (typeof HOST_KEY_POLICIES)[number];

export interface HostKeyDecision {
  accept: boolean;
  /** Why the connection was refused, for the operator. */
  refusal?: string;
  /** accept-new and a host seen for the first time: record it once connected. */
  isNew?: boolean;
}

/** Checks every node's host key against one known_hosts file for the whole run. */
export class HostKeyVerifier {
  /** Appends run one after another: nodes connect concurrently. */
  private appending: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    readonly policy: HostKeyPolicy,
    private readonly entries: KnownHostEntry[],
  ) {}

  static async load(file: string, policy: HostKeyPolicy): Promise<HostKeyVerifier> {
    if (policy === 'off') return new HostKeyVerifier(file, policy, []);
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new OperatorError(`cannot read known hosts file ${file}: ${messageOf(error)}`);
      }
    }
    return new HostKeyVerifier(file, policy, parseKnownHosts(text));
  }

  /** Host key algorithms to prefer for this host (those of its known keys). */
  preferredAlgorithms(host: string, port: number): string[] {
    return preferredHostKeyAlgorithms(this.entries, hostToken(host, port));
  }

  decide(host: string, port: number, offered: Buffer): HostKeyDecision {
    if (this.policy === 'off') return { accept: true };
    const token = hostToken(host, port);
    const verdict = checkHostKey(this.entries, token, offered);
    switch (verdict.kind) {
      case 'known':
        return { accept: true };
      case 'unknown':
        if (this.policy === 'accept-new') return { accept: true, isNew: true };
        return {
          accept: false,
          refusal:
            `${token} is not in ${this.file} (--ssh-host-key-policy strict); check its key ` +
            `(offered ${keyTypeOf(offered)} ${fingerprint(offered)}) and add it, or use --ssh-host-key-policy accept-new`,
        };
      case 'revoked':
        return { accept: false, refusal: `the host key of ${token} is marked @revoked in ${this.file} line ${verdict.entry.line}` };
      case 'changed': {
        const known = verdict.entries.map((entry) => `line ${entry.line} has ${entry.keyType} ${fingerprint(entry.key)}`).join(', ');
        return {
          accept: false,
          refusal:
            `the host key of ${token} has changed: ${this.file} ${known}, the host offered ${keyTypeOf(offered)} ${fingerprint(offered)}; ` +
            `someone may be intercepting the connection. If the host was reinstalled, remove the old key with ` +
            `"ssh-keygen -R ${token} -f ${this.file}"`,
        };
      }
    }
  }

  /** Record a host seen for the first time (accept-new), after its connection succeeded. */
  record(host: string, port: number, key: Buffer): Promise<void> {
    const token = hostToken(host, port);
    this.entries.push({ hosts: token, keyType: keyTypeOf(key), key, revoked: false, line: 0 });
    const line = knownHostsLine(token, key) + '\n';
    this.appending = this.appending.catch(() => undefined).then(async () => {
      try {
        await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
        await appendFile(this.file, line, { mode: 0o600 });
      } catch (error) {
        throw new OperatorError(`cannot record the host key of ${token} in ${this.file}: ${messageOf(error)}`);
      }
    });
    return this.appending;
  }
}
