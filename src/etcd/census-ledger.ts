/**
 * The census's memory: what each leaf page of etcd's `key` bucket says, kept small until
 * the bbolt walk knows which leaves are the tree's (bolt-revision.ts).
 *
 * A snapshot's pages come in any order, and freed pages keep stale content (a deleted
 * key's old revisions, a split leaf's old copy), so a leaf cannot be counted when it is
 * read: only leaves reachable from the bucket's root count, and that is known once the
 * stream has ended. Until then each key revision costs 10 bytes: a 64-bit hash of its user
 * key and a 16-bit tag (resource index, tombstone bit), in fixed-size typed-array chunks,
 * plus 6 bytes per page (where its entries start, how many). After the walk the leaves are
 * read in tree order (= revision order) backwards: the first time a key is met is its
 * latest revision, live unless a tombstone. The set of keys met is an open-addressing table
 * of at most TABLE_SLOTS slots (4 MiB), filled once per partition of the hash space, so it
 * never grows with the database.
 */

const CHUNK_ENTRIES = 1 << 16;
/** Keys per partition of the resolution: the table holds twice as many slots. */
const PARTITION_ENTRIES = 1 << 18;
const TABLE_SLOTS = PARTITION_ENTRIES * 2;
const TOMBSTONE = 0x8000;
const MAX_RESOURCES = 0x7fff;
/** The census gives up (it never fails a snapshot) past this many key revisions: 10 bytes each. */
export const DEFAULT_MAX_KEY_REVISIONS = 2_500_000;
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
  #pageStart = new Uint32Array(0);
  #pageCount = new Uint16Array(0);
  #pageSeen = new Uint8Array(0);
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

  /** Starts page `pgid`'s entries (a page read again replaces nothing: its first reading stays). */
  addPage(pgid: number, entries: ReadonlyArray<LedgerEntry>): void {
    if (this.#overflow !== undefined) return;
    this.#slot(pgid);
    if (this.#pageSeen[pgid] === 1) return;
    if (this.#entries + entries.length > this.#maxEntries) {
      this.#overflow = `the snapshot holds more than ${this.#maxEntries} key revisions, the census's memory bound (10 bytes each)`;
      this.#hashHigh = [];
      this.#hashLow = [];
      this.#tags = [];
      return;
    }
    this.#pageSeen[pgid] = 1;
    this.#pageStart[pgid] = this.#entries;
    this.#pageCount[pgid] = entries.length;
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
    this.#slot(pgid);
    if (this.#pageSeen[pgid] === 1) return;
    this.#pageSeen[pgid] = 1;
    this.#pageCount[pgid] = UNREADABLE;
  }

  /** What a page holds: undefined (not recorded), 'unreadable', or its number of key revisions. */
  pageEntries(pgid: number): number | 'unreadable' | undefined {
    if (pgid >= this.#pageSeen.length || this.#pageSeen[pgid] !== 1) return undefined;
    const count = this.#pageCount[pgid] as number;
    return count === UNREADABLE ? 'unreadable' : count;
  }

  /** Live keys in the tree whose leaves are `leaves`, in tree order; every leaf must have been added. */
  resolve(leaves: readonly number[]): CensusCounts {
    if (this.#overflow !== undefined) throw new Error(this.#overflow);
    let total = 0;
    for (const leaf of leaves) total += this.#pageCount[leaf] as number;
    const partitions = Math.max(1, Math.ceil(total / PARTITION_ENTRIES));
    const counts = new Float64Array(this.#resourceNames.length);
    const tableHigh = new Uint32Array(TABLE_SLOTS);
    const tableLow = new Uint32Array(TABLE_SLOTS);
    const mask = TABLE_SLOTS - 1;
    let keys = 0;
    for (let partition = 0; partition < partitions; partition += 1) {
      if (partition > 0) {
        tableHigh.fill(0);
        tableLow.fill(0);
      }
      for (let index = leaves.length - 1; index >= 0; index -= 1) {
        const leaf = leaves[index] as number;
        const start = this.#pageStart[leaf] as number;
        for (let entry = start + (this.#pageCount[leaf] as number) - 1; entry >= start; entry -= 1) {
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

  #slot(pgid: number): void {
    if (pgid < this.#pageSeen.length) return;
    let size = Math.max(1024, this.#pageSeen.length * 2);
    while (size <= pgid) size *= 2;
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.#pageSeen = grow(this.#pageSeen, (n) => new Uint8Array(n));
    this.#pageCount = grow(this.#pageCount, (n) => new Uint16Array(n));
    this.#pageStart = grow(this.#pageStart, (n) => new Uint32Array(n));
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
