/**
 * One entry of etcd's `key` bucket, as the census reads it: the bbolt key is the revision
 * (8-byte big-endian main, '_', 8-byte big-endian sub, and 't' for a tombstone), the value
 * an mvccpb.KeyValue protobuf whose field 1 is the user key (etcd writes it first; a
 * tombstone's value holds only it).
 */
import { OTHER_KEYS } from '../model/census.js';
import { keyHash, type LedgerEntry } from './census-ledger.js';

export const REVISION_SEPARATOR = 0x5f; // '_'
const TOMBSTONE_MARK = 0x74; // 't'
const KEY_FIELD_TAG = 0x0a; // field 1, length-delimited
/**
 * How much of a value the census reads: the tag, the length and the user key. Kubernetes
 * keys are at most a few hundred bytes; a longer key is hashed by this prefix and its
 * length. (A value spanning overflow pages is copied this far, not whole.)
 */
export const VALUE_HEAD_BYTES = 4 * 1024;

/** Whether a bbolt key has the shape of an etcd revision (what the `key` bucket holds). */
export function isRevisionKey(key: Uint8Array, at = 0, size = key.length): boolean {
  if (size === 18) return key[at + 8] === REVISION_SEPARATOR && key[at + 17] === TOMBSTONE_MARK;
  return size === 17 && key[at + 8] === REVISION_SEPARATOR;
}

/** The entry from its revision key and the first bytes of its value (`valueSize` in all); undefined if etcd did not write it. */
export function keyRevisionEntry(key: Uint8Array, valueHead: Uint8Array, valueSize: number): LedgerEntry | undefined {
  return readKeyRevision(key, 0, key.length, valueHead, 0, valueHead.length, valueSize);
}

/**
 * The same, read in place: the key at `key[keyAt, keyAt + keySize)`, the value's first
 * `valueRead` bytes at `value[valueAt...]` (a whole page's buffer holds both, no copy).
 */
export function readKeyRevision(key: Uint8Array, keyAt: number, keySize: number, value: Uint8Array, valueAt: number, valueRead: number, valueSize: number): LedgerEntry | undefined {
  if (!isRevisionKey(key, keyAt, keySize) || valueRead < 2 || value[valueAt] !== KEY_FIELD_TAG) return undefined;
  let length = 0;
  let at = valueAt + 1;
  const readEnd = valueAt + valueRead;
  for (let shift = 0; ; shift += 7) {
    if (at >= readEnd || shift > 28) return undefined;
    const byte = value[at] as number;
    at += 1;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (at - valueAt + length > valueSize) return undefined;
  const end = Math.min(at + length, readEnd);
  const hash = keyHash(value, at, end);
  if (end < at + length) hash.hashLow = (hash.hashLow ^ Math.imul(length, 0x9e3779b1)) >>> 0;
  return { hashHigh: hash.hashHigh, hashLow: hash.hashLow, tombstone: keySize === 18, resource: resourceOfBytes(value, at, end) };
}

const REGISTRY = [...'/registry/'].map((c) => c.charCodeAt(0));
const SLASH = 0x2f;
const DOT = 0x2e;
const SERVICES = [...'services'].map((c) => c.charCodeAt(0));

/**
 * resourceOf (model/census.ts) on a key's bytes in place, without making the key a string:
 * the census reads one per key revision. The unit tests hold it to resourceOf's answers.
 */
export function resourceOfBytes(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= REGISTRY.length) return OTHER_KEYS;
  for (let index = 0; index < REGISTRY.length; index += 1) if (bytes[start + index] !== REGISTRY[index]) return OTHER_KEYS;
  const first = start + REGISTRY.length;
  const firstEnd = bytes.indexOf(SLASH, first);
  if (firstEnd === first || firstEnd < 0 || firstEnd >= end) return OTHER_KEYS;
  let twoLevels = firstEnd - first === SERVICES.length && SERVICES.every((c, i) => bytes[first + i] === c);
  for (let index = first; index < firstEnd && !twoLevels; index += 1) if (bytes[index] === DOT) twoLevels = true;
  if (!twoLevels) return latin1(bytes, first, firstEnd);
  const secondEnd = bytes.indexOf(SLASH, firstEnd + 1);
  if (secondEnd === firstEnd + 1 || secondEnd < 0 || secondEnd >= end) return OTHER_KEYS;
  return latin1(bytes, first, secondEnd);
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let index = start; index < end; index += 1) text += String.fromCharCode(bytes[index] as number);
  return text;
}
