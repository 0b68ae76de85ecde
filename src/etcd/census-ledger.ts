/**
 * The census's memory: what each leaf page of etcd's `key` bucket says, kept small until
 * the bbolt walk knows which leaves are the tree's (bolt-revision.ts).
 *
 * A snapshot's pages come in any order, and freed pages keep stale content (a deleted
 * key's old revisions, a split leaf's old copy), so a leaf cannot be counted when it is
 * read: only leaves reachable from the bucket's root count, and that is known once the
 * stream has ended. Until then each key revision costs 10 bytes: a 64-bit hash of its user
 * key and a 16-bit tag (resource index, tombstone bit), in fixed-size typed-array chunks,
 * plus 10 bytes per such leaf (its page id, where its entries start, how many; other pages
 * cost nothing: a database of large values is mostly overflow pages; page-rows.ts). After the walk the leaves are
 * read in tree order (= revision order) backwards: the first time a key is met is its
 * latest revision, live unless a tombstone. The set of keys met is an open-addressing table
 * of at most 2^18 slots (2 MiB; fewer for fewer keys), filled once per partition of the hash space, so it
 * never grows with the database.
 */

import { ChunkedColumn, PageRows, Uint32List } from './page-rows.js';

const CHUNK_ENTRIES = 1 << 16;
/** Keys per partition of the resolution: the table holds twice as many slots (2 MiB). */
const PARTITION_ENTRIES = 1 << 17;
const TOMBSTONE = 0x8000;
const MAX_RESOURCES = 0x7fff;
/** The census gives up (it never fails a snapshot) past this many key revisions: 10 bytes each. */
export const DEFAULT_MAX_KEY_REVISIONS = 2_000_000;
/** A page's count when it could not be read as etcd key revisions. */
const UNREADABLE = 0xffff;

export interface CensusCounts {
  keys: number;
  /** Live keys per resource (model/census.ts resourceOf). */
  resources: Record<string, number>;
}

export class CensusLedger {
  readonly #maxEntries: number;
  #hashHigh: Uint32Array[] = [];
  #hashLow: Uint32Array[] = [];
  #tags: Uint16Array[] = [];
  #entries = 0;
  /** The leaves recorded, in the order they were read, and for each its first entry and entry count. */
  readonly #pages = new PageRows();
  readonly #pageStart = new ChunkedColumn((length) => new Uint32Array(length));
  readonly #pageCount = new ChunkedColumn((length) => new Uint16Array(length));
  readonly #resourceIndex = new Map<string, number>();
  readonly #resourceNames: string[] = [];
  #overflow: string | undefined;

  constructor(options: { maxKeyRevisions?: number } = {}) {
    this.#maxEntries = options.maxKeyRevisions ?? DEFAULT_MAX_KEY_REVISIONS;
  }

  /** Why the census cannot be taken whatever the tree holds (its memory bound), if so. */
  get overflow(): string | undefined {
    return this.#overflow;
  }

  /** Page `pgid`'s key revisions, in its order (each page is read once, as the stream passes it). */
  addPage(pgid: number, entries: ReadonlyArray<LedgerEntry>): void {
    if (this.#overflow !== undefined) return;
    if (this.#entries + entries.length > this.#maxEntries) {
      this.#overflow = `the snapshot holds more than ${this.#maxEntries} key revisions, the census's memory bound (10 bytes each)`;
      this.#hashHigh = [];
      this.#hashLow = [];
      this.#tags = [];
      return;
    }
    this.#recordPage(pgid, entries.length);
    for (const entry of entries) {
      const resource = this.#resource(entry.resource);
      if (resource === undefined) return;
      const chunk = Math.floor(this.#entries / CHUNK_ENTRIES);
      const at = this.#entries % CHUNK_ENTRIES;
      if (chunk === this.#tags.length) {
        this.#hashHigh.push(new Uint32Array(CHUNK_ENTRIES));
        this.#hashLow.push(new Uint32Array(CHUNK_ENTRIES));
        this.#tags.push(new Uint16Array(CHUNK_ENTRIES));
      }
      (this.#hashHigh[chunk] as Uint32Array)[at] = entry.hashHigh;
      (this.#hashLow[chunk] as Uint32Array)[at] = entry.hashLow;
      (this.#tags[chunk] as Uint16Array)[at] = resource | (entry.tombstone ? TOMBSTONE : 0);
      this.#entries += 1;
    }
  }

  /** Page `pgid` looked like a `key` bucket leaf but is not one etcd wrote (said if the walk reaches it). */
  addUnreadablePage(pgid: number): void {
    if (this.#overflow === undefined) this.#recordPage(pgid, UNREADABLE);
  }

  /** Where page `pgid` was recorded (a row for resolveRows), or undefined. */
  pageRow(pgid: number): number | undefined {
    return this.#pages.find(pgid);
  }

  /** What a recorded page holds: 'unreadable', or its number of key revisions. */
  rowEntries(row: number): number | 'unreadable' {
    const count = this.#pageCount.get(row);
    return count === UNREADABLE ? 'unreadable' : count;
  }

  /** Live keys in the tree whose leaves are `leafIds` (page ids), in tree order; every leaf must have been added. */
  resolve(leafIds: readonly number[]): CensusCounts {
    const rows = new Uint32List();
    for (const pgid of leafIds) {
      const row = this.pageRow(pgid);
      if (row === undefined || this.rowEntries(row) === 'unreadable') throw new Error(`page ${pgid} was not read as a leaf of key revisions`);
      rows.push(row);
    }
    return this.resolveRows(rows);
  }

  /** resolve, for leaves given as rows (pageRow) of pages that hold key revisions: 4 bytes a leaf. */
  resolveRows(leaves: Uint32List): CensusCounts {
    if (this.#overflow !== undefined) throw new Error(this.#overflow);
    let total = 0;
    for (let index = 0; index < leaves.length; index += 1) total += this.#pageCount.get(leaves.at(index));
    const partitions = Math.max(1, Math.ceil(total / PARTITION_ENTRIES));
    const counts = new Float64Array(this.#resourceNames.length);
    // At most half full: twice as many slots as the keys a partition may hold (a small database needs a small table).
    let slots = 1024;
    while (slots < 2 * Math.min(total, PARTITION_ENTRIES)) slots *= 2;
    const tableHigh = new Uint32Array(slots);
    const tableLow = new Uint32Array(slots);
    const mask = slots - 1;
    let keys = 0;
    for (let partition = 0; partition < partitions; partition += 1) {
      if (partition > 0) {
        tableHigh.fill(0);
        tableLow.fill(0);
      }
      for (let index = leaves.length - 1; index >= 0; index -= 1) {
        const leaf = leaves.at(index);
        const start = this.#pageStart.get(leaf);
        for (let entry = start + this.#pageCount.get(leaf) - 1; entry >= start; entry -= 1) {
          const chunk = Math.floor(entry / CHUNK_ENTRIES);
          const at = entry % CHUNK_ENTRIES;
          const high = (this.#hashHigh[chunk] as Uint32Array)[at] as number;
          if (high % partitions !== partition) continue;
          const low = (((this.#hashLow[chunk] as Uint32Array)[at] as number) | 1) >>> 0; // never 0: 0 marks an empty slot
          let slot = low & mask;
          for (;;) {
            const found = tableLow[slot] as number;
            if (found === 0) break;
            if (found === low && tableHigh[slot] === high) break;
            slot = (slot + 1) & mask;
          }
          if (tableLow[slot] !== 0) continue; // a later revision of this key was met first
          tableLow[slot] = low;
          tableHigh[slot] = high;
          const tag = (this.#tags[chunk] as Uint16Array)[at] as number;
          if ((tag & TOMBSTONE) === 0) {
            counts[tag] = (counts[tag] as number) + 1;
            keys += 1;
          }
        }
      }
    }
    const resources: Record<string, number> = {};
    this.#resourceNames.forEach((name, index) => {
      if ((counts[index] as number) > 0) resources[name] = counts[index] as number;
    });
    return { keys, resources };
  }

  #resource(name: string): number | undefined {
    let index = this.#resourceIndex.get(name);
    if (index === undefined) {
      if (this.#resourceNames.length >= MAX_RESOURCES) {
        this.#overflow = `the snapshot's keys name more than ${MAX_RESOURCES} resources`;
        return undefined;
      }
      index = this.#resourceNames.length;
      this.#resourceNames.push(name);
      this.#resourceIndex.set(name, index);
    }
    return index;
  }

  #recordPage(pgid: number, count: number): void {
    const row = this.#pages.add(pgid);
    this.#pageStart.set(row, this.#entries);
    this.#pageCount.set(row, count);
  }
}

/** One key revision of a leaf, as the ledger keeps it. */
export interface LedgerEntry {
  hashHigh: number;
  hashLow: number;
  tombstone: boolean;
  resource: string;
}

/**
 * A 64-bit hash of `bytes[start, end)` as two 32-bit halves (cyrb53's two multiply lanes,
 * both kept): fast in JavaScript, and far from colliding for millions of keys (two
 * distinct keys share a hash with a chance of about n²/2^65).
 */
export function keyHash(bytes: Uint8Array, start: number, end: number): { hashHigh: number; hashLow: number } {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let index = start; index < end; index += 1) {
    const byte = bytes[index] as number;
    h1 = Math.imul(h1 ^ byte, 2654435761);
    h2 = Math.imul(h2 ^ byte, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return { hashHigh: h2 >>> 0, hashLow: h1 >>> 0 };
}
