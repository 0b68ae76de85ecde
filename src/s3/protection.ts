/**
 * SPEC §7: how the S3 copy is protected (server-side encryption, Object Lock, age
 * client-side encryption), as pure values: flag validation and the request parameters
 * they become. No I/O here; the CLI reads the files and passes their text in.
 */
import { createHash } from 'node:crypto';
import { OperatorError } from '../errors.js';

export const SSE_MODES = ['AES256', 'aws:kms'] as const;
export type SseMode = (typeof SSE_MODES)[number];
export const LOCK_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const;
export type LockMode = (typeof LOCK_MODES)[number];

/** The protection flags of `snapshot-save --s3` as given (all optional). */
export interface ProtectionFlags {
  s3Sse?: string;
  s3SseKmsKeyId?: string;
  s3SseCKeyFile?: string;
  s3ObjectLockMode?: string;
  s3ObjectLockDays?: string;
  s3ObjectLockUntil?: string;
  s3LegalHold?: boolean;
  encryptRecipient?: string[];
  encryptRecipientsFile?: string;
}

/** What the upload applies; nothing secret (the SSE-C key travels apart, as S3Secrets.sseCustomerKey). */
export interface UploadProtection {
  sse?: SseMode;
  kmsKeyId?: string;
  /** Retention of the uploaded object: mode and RFC 3339 retain-until date. */
  lock?: { mode: LockMode; until: string };
  legalHold?: boolean;
  /** age X25519 recipients: the object is NAME.zip.age, the zip encrypted for them. */
  recipients?: string[];
}

/** The file contents the flags name, read by the caller (undefined: the flag was not given). */
export interface ProtectionFiles {
  sseCKey?: Buffer;
  recipientsText?: string;
}

/** age's Bech32 X25519 recipient: "age1" and 58 characters of the Bech32 alphabet. */
const AGE_RECIPIENT = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/;

/** Validates the flags (before any node is touched); returns the protection and the SSE-C key (base64) if any. */
export function resolveProtection(
  flags: ProtectionFlags,
  files: ProtectionFiles,
  now: Date,
): { protection: UploadProtection; sseCustomerKey?: string } {
  const protection: UploadProtection = {};
  if (flags.s3Sse !== undefined) {
    if (!(SSE_MODES as readonly string[]).includes(flags.s3Sse)) throw new OperatorError(`--s3-sse ${JSON.stringify(flags.s3Sse)}: give AES256 or aws:kms`);
    protection.sse = flags.s3Sse as SseMode;
  }
  if (flags.s3SseKmsKeyId !== undefined) {
    if (protection.sse !== 'aws:kms') throw new OperatorError('--s3-sse-kms-key-id needs --s3-sse aws:kms');
    if (flags.s3SseKmsKeyId.trim() === '') throw new OperatorError('--s3-sse-kms-key-id: the key id is empty');
    protection.kmsKeyId = flags.s3SseKmsKeyId.trim();
  }
  let sseCustomerKey: string | undefined;
  if (flags.s3SseCKeyFile !== undefined) {
    if (protection.sse !== undefined) throw new OperatorError('--s3-sse-c-key-file and --s3-sse: give only one (SSE-C is the server encrypting with your key)');
    sseCustomerKey = sseCustomerKeyOf(files.sseCKey, flags.s3SseCKeyFile);
  }
  const lock = lockOf(flags, now);
  if (lock !== undefined) protection.lock = lock;
  if (flags.s3LegalHold) protection.legalHold = true;
  const recipients = recipientsOf(flags, files.recipientsText);
  if (recipients.length > 0) protection.recipients = recipients;
  return { protection, ...(sseCustomerKey === undefined ? {} : { sseCustomerKey }) };
}

/** SPEC §7: exactly 32 raw bytes, or 44 characters of base64 of 32 bytes (whitespace around it ignored). Never echoed. */
export function sseCustomerKeyOf(content: Buffer | undefined, file: string): string {
  if (content === undefined) throw new OperatorError(`--s3-sse-c-key-file: cannot read ${file}`);
  if (content.length === 32) return content.toString('base64');
  const text = content.toString('latin1').trim();
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const raw = Buffer.from(text, 'base64');
    if (raw.length === 32) return raw.toString('base64');
  }
  throw new OperatorError(
    `--s3-sse-c-key-file ${file}: holds ${content.length} bytes; an SSE-C key is exactly 32 raw bytes or 44 characters of base64 (e.g. openssl rand 32 > FILE)`,
  );
}

function lockOf(flags: ProtectionFlags, now: Date): UploadProtection['lock'] {
  const { s3ObjectLockMode: mode, s3ObjectLockDays: days, s3ObjectLockUntil: until } = flags;
  if (mode === undefined) {
    if (days !== undefined || until !== undefined) throw new OperatorError('--s3-object-lock-days/--s3-object-lock-until need --s3-object-lock-mode GOVERNANCE|COMPLIANCE');
    return undefined;
  }
  if (!(LOCK_MODES as readonly string[]).includes(mode)) throw new OperatorError(`--s3-object-lock-mode ${JSON.stringify(mode)}: give GOVERNANCE or COMPLIANCE`);
  if ((days === undefined) === (until === undefined)) throw new OperatorError('--s3-object-lock-mode needs exactly one of --s3-object-lock-days N or --s3-object-lock-until RFC3339');
  if (days !== undefined) {
    if (!/^\d+$/.test(days) || Number(days) <= 0) throw new OperatorError(`--s3-object-lock-days ${JSON.stringify(days)}: give a whole number of days above 0`);
    return { mode: mode as LockMode, until: new Date(now.getTime() + Number(days) * 86_400_000).toISOString() };
  }
  const date = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(until!) ? new Date(until!) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new OperatorError(`--s3-object-lock-until ${JSON.stringify(until)}: give an RFC 3339 time such as 2030-01-31T00:00:00Z`);
  if (date.getTime() <= now.getTime()) throw new OperatorError(`--s3-object-lock-until ${until}: is in the past`);
  return { mode: mode as LockMode, until: date.toISOString() };
}

/** --encrypt-recipient (repeatable) and the lines of --encrypt-recipients-file (# comments and blank lines skipped). */
function recipientsOf(flags: ProtectionFlags, fileText: string | undefined): string[] {
  const given = (flags.encryptRecipient ?? []).map((recipient) => ({ recipient: recipient.trim(), source: '--encrypt-recipient' }));
  if (flags.encryptRecipientsFile !== undefined) {
    if (fileText === undefined) throw new OperatorError(`--encrypt-recipients-file: cannot read ${flags.encryptRecipientsFile}`);
    const lines = fileText.split(/\r?\n/).map((line, index) => ({ recipient: line.trim(), source: `--encrypt-recipients-file ${flags.encryptRecipientsFile}:${index + 1}` }));
    const fromFile = lines.filter((line) => line.recipient !== '' && !line.recipient.startsWith('#'));
    if (fromFile.length === 0) throw new OperatorError(`--encrypt-recipients-file ${flags.encryptRecipientsFile}: holds no recipient`);
    given.push(...fromFile);
  }
  for (const { recipient, source } of given) {
    if (recipient.startsWith('AGE-SECRET-KEY-')) throw new OperatorError(`${source}: this is an age identity (a secret key), not a recipient; give its public age1… recipient (age-keygen -y)`);
    if (!AGE_RECIPIENT.test(recipient)) throw new OperatorError(`${source}: ${JSON.stringify(recipient.slice(0, 80))} is not an age X25519 recipient (age1… , 62 characters)`);
  }
  return [...new Set(given.map((entry) => entry.recipient))];
}

/** Parameters of PutObject / CreateMultipartUpload (encryption, lock, legal hold). */
export function objectWriteParams(protection: UploadProtection | undefined) {
  if (protection === undefined) return {};
  return {
    ...(protection.sse ? { ServerSideEncryption: protection.sse } : {}),
    ...(protection.kmsKeyId ? { SSEKMSKeyId: protection.kmsKeyId } : {}),
    ...(protection.lock ? { ObjectLockMode: protection.lock.mode, ObjectLockRetainUntilDate: new Date(protection.lock.until) } : {}),
    ...(protection.legalHold ? { ObjectLockLegalHoldStatus: 'ON' as const } : {}),
  };
}

/** SSE-C parameters of every request that reads or writes the object's data (and HeadObject). */
export function sseCustomerParams(keyBase64: string | undefined) {
  if (keyBase64 === undefined) return {};
  // The SDK's ssec middleware takes base64 of 32 bytes as it is and adds its MD5.
  return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: keyBase64 };
}

/** For tests and messages: a key's fingerprint (never the key). */
export function sseCustomerKeyMd5(keyBase64: string): string {
  return createHash('md5').update(Buffer.from(keyBase64, 'base64')).digest('base64');
}

/** The object key of the age-encrypted copy: `<folder>/NAME.zip.age`. */
export const AGE_SUFFIX = '.age';

/** For messages and --output json: what protection the upload asked for, in one line. */
export function describeProtection(protection: UploadProtection | undefined, sseC: boolean): string[] {
  const parts: string[] = [];
  if (protection?.sse) parts.push(`SSE ${protection.sse}${protection.kmsKeyId ? ` (key ${protection.kmsKeyId})` : ''}`);
  if (sseC) parts.push('SSE-C');
  if (protection?.lock) parts.push(`Object Lock ${protection.lock.mode} until ${protection.lock.until}`);
  if (protection?.legalHold) parts.push('legal hold');
  if (protection?.recipients) parts.push(`age for ${protection.recipients.length} recipient(s)`);
  return parts;
}

/** Validates the JSON form the CLI passes to the agent (`--protection`): the same shape, nothing else. */
export function parseProtectionJson(text: string): UploadProtection {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OperatorError('agent upload: --protection is not JSON');
  }
  const record = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OperatorError('agent upload: --protection must be a JSON object');
  const protection: UploadProtection = {};
  for (const [field, entry] of Object.entries(record)) {
    if (field === 'sse' && (SSE_MODES as readonly unknown[]).includes(entry)) protection.sse = entry as SseMode;
    else if (field === 'kmsKeyId' && typeof entry === 'string' && entry !== '') protection.kmsKeyId = entry;
    else if (field === 'legalHold' && entry === true) protection.legalHold = true;
    else if (field === 'recipients' && Array.isArray(entry) && entry.length > 0 && entry.every((r) => typeof r === 'string' && AGE_RECIPIENT.test(r))) {
      protection.recipients = entry as string[];
    } else if (field === 'lock' && isLock(entry)) protection.lock = { mode: entry.mode, until: entry.until };
    else throw new OperatorError(`agent upload: --protection: bad field ${JSON.stringify(field)}`);
  }
  return protection;
}

function isLock(value: unknown): value is { mode: LockMode; until: string } {
  const record = value as { mode?: unknown; until?: unknown } | null;
  return (
    typeof value === 'object' && record !== null && (LOCK_MODES as readonly unknown[]).includes(record.mode) &&
    typeof record.until === 'string' && !Number.isNaN(new Date(record.until).getTime())
  );
}

/**
 * What was asked for but the server does not report for the stored object (e.g. Ceph RGW 16
 * accepts x-amz-server-side-encryption: AES256 but neither reports nor, per its docs, applies
 * SSE-S3): said as a warning, never silently trusted.
 */
export function unconfirmedProtection(
  asked: UploadProtection | undefined,
  reported: { serverSideEncryption?: string; objectLock?: { mode: string }; legalHold?: string } | undefined,
): string | undefined {
  const missing: string[] = [];
  if (asked?.sse && reported?.serverSideEncryption !== asked.sse) {
    missing.push(`server-side encryption ${asked.sse} was asked for, the server reports ${reported?.serverSideEncryption ?? 'none'}`);
  }
  if (asked?.lock && reported?.objectLock?.mode !== asked.lock.mode) missing.push(`Object Lock ${asked.lock.mode} was asked for, the server reports ${reported?.objectLock?.mode ?? 'none'}`);
  if (asked?.legalHold && reported?.legalHold !== 'ON') missing.push(`a legal hold was asked for, the server reports ${reported?.legalHold ?? 'none'}`);
  return missing.length === 0 ? undefined : missing.join('; ');
}

/** --identity-file: age identities, one per line (# comments and blank lines skipped, as age-keygen writes them). Never echoed. */
export function parseIdentities(text: string, file: string): string[] {
  const identities: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!/^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}$/.test(line)) {
      throw new OperatorError(`--identity-file ${file}:${index + 1}: not an age X25519 identity (AGE-SECRET-KEY-1…)`);
    }
    identities.push(line);
  });
  if (identities.length === 0) throw new OperatorError(`--identity-file ${file}: holds no identity`);
  return identities;
}
