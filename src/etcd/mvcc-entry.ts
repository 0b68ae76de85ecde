/**
 * One entry of etcd's `key` bucket, as the census reads it: the bbolt key is the revision
 * (8-byte big-endian main, '_', 8-byte big-endian sub, and 't' for a tombstone), the value
 * an mvccpb.KeyValue protobuf whose field 1 is the user key (etcd writes it first; a
 * tombstone's value holds only it).
 */
import { resourceOf } from '../model/census.js';
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
export function isRevisionKey(key: Uint8Array): boolean {
  if (key.length === 18) return key[8] === REVISION_SEPARATOR && key[17] === TOMBSTONE_MARK;
  return key.length === 17 && key[8] === REVISION_SEPARATOR;
}

/** The entry from its revision key and the first bytes of its value (`valueSize` in all); undefined if etcd did not write it. */
export function keyRevisionEntry(key: Uint8Array, valueHead: Uint8Array, valueSize: number): LedgerEntry | undefined {
  if (!isRevisionKey(key) || valueHead.length < 2 || valueHead[0] !== KEY_FIELD_TAG) return undefined;
  let length = 0;
  let at = 1;
  for (let shift = 0; ; shift += 7) {
    if (at >= valueHead.length || shift > 28) return undefined;
    const byte = valueHead[at] as number;
    at += 1;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (at + length > valueSize) return undefined;
  const end = Math.min(at + length, valueHead.length);
  const hash = keyHash(valueHead, at, end);
  if (end < at + length) hash.hashLow = (hash.hashLow ^ Math.imul(length, 0x9e3779b1)) >>> 0;
  return { ...hash, tombstone: key.length === 18, resource: resourceOf(valueHead.subarray(at, end)) };
}
