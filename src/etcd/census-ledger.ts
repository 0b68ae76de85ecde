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
 * cost nothing: a database of large values is mostly overflow pages). After the walk the leaves are
 * read in tree order (= revision order) backwards: the first time a key is met is its
 * latest revision, live unless a tombstone. The set of keys met is an open-addressing table
 * of at most 2^19 slots (4 MiB; fewer for fewer keys), filled once per partition of the hash space, so it
 * never grows with the database.
 */

const CHUNK_ENTRIES = 1 << 16;
/** Keys per partition of the resolution: the table holds twice as many slots. */
const PARTITION_ENTRIES = 1 << 18;
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
  /** The leaves recorded, in the order they were read (page ids mostly ascending): id, first entry, entry count. */
  #pageIds = new Uint32Array(1024);
  #pageStart = new Uint32Array(1024);
  #pageCount = new Uint16Array(1024);
  #pages = 0;
  /** Positions in the arrays above, by page id (made when the walk first asks). */
  #byId: Uint32Array | undefined;
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

  /** What a page holds: undefined (not recorded), 'unreadable', or its number of key revisions. */
  pageEntries(pgid: number): number | 'unreadable' | undefined {
    const position = this.#position(pgid);
    if (position === undefined) return undefined;
    const count = this.#pageCount[position] as number;
    return count === UNREADABLE ? 'unreadable' : count;
  }

  /** Live keys in the tree whose leaves are `leaves` (page ids), in tree order; every leaf must have been added. */
  resolve(leafIds: readonly number[]): CensusCounts {
    if (this.#overflow !== undefined) throw new Error(this.#overflow);
    const leaves = leafIds.map((pgid) => {
      const position = this.#position(pgid);
      if (position === undefined || this.#pageCount[position] === UNREADABLE) throw new Error(`page ${pgid} was not read as a leaf of key revisions`);
      return position;
    });
    let total = 0;
    for (const leaf of leaves) total += this.#pageCount[leaf] as number;
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

  #recordPage(pgid: number, count: number): void {
    if (this.#pages === this.#pageIds.length) {
      const grow = <T extends Uint16Array | Uint32Array>(old: T, make: (n: number) => T): T => {
        const next = make(old.length * 2);
        next.set(old);
        return next;
      };
      this.#pageIds = grow(this.#pageIds, (n) => new Uint32Array(n));
      this.#pageStart = grow(this.#pageStart, (n) => new Uint32Array(n));
      this.#pageCount = grow(this.#pageCount, (n) => new Uint16Array(n));
    }
    this.#pageIds[this.#pages] = pgid;
    this.#pageStart[this.#pages] = this.#entries;
    this.#pageCount[this.#pages] = count;
    this.#pages += 1;
    this.#byId = undefined;
  }

  /** Where page `pgid` is in the arrays: a binary search over the positions sorted by page id. */
  #position(pgid: number): number | undefined {
    if (this.#byId === undefined) {
      const ids = this.#pageIds;
      this.#byId = Uint32Array.from({ length: this.#pages }, (_, index) => index).sort((a, b) => (ids[a] as number) - (ids[b] as number));
    }
    const byId = this.#byId;
    let low = 0;
    let high = byId.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const position = byId[middle] as number;
      const id = this.#pageIds[position] as number;
      if (id === pgid) return position;
      if (id < pgid) low = middle + 1;
      else high = middle - 1;
    }
    return undefined;
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
