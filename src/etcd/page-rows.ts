/**
 * Rows kept per bbolt page while a snapshot streams past (bolt-revision.ts, census-ledger.ts),
 * sized by the pages that need a row rather than by the database: an 8 GiB database has
 * about 2.4 million pages, of which only the leaves (a fifth of them with Secrets of a few
 * KiB) need a row. Columns grow by fixed chunks, never by doubling, so growing one never
 * holds two copies and never leaves up to half of it unused.
 */

const CHUNK_SHIFT = 16;
const CHUNK_ROWS = 1 << CHUNK_SHIFT;
const ROW_IN_CHUNK = CHUNK_ROWS - 1;

type TypedArray = Uint16Array | Uint32Array | Float64Array;

/** One value per row, in chunks of 65 536 values. */
export class ChunkedColumn<T extends TypedArray> {
  readonly #chunks: T[] = [];

  constructor(readonly make: (length: number) => T) {}

  set(row: number, value: number): void {
    const chunk = row >>> CHUNK_SHIFT;
    while (this.#chunks.length <= chunk) this.#chunks.push(this.make(CHUNK_ROWS));
    (this.#chunks[chunk] as T)[row & ROW_IN_CHUNK] = value;
  }

  get(row: number): number {
    return (this.#chunks[row >>> CHUNK_SHIFT] as T)[row & ROW_IN_CHUNK] as number;
  }
}

/**
 * Page ids, one row each in the order they were added, found again by id. Pages are read in
 * file order, so ids come in ascending order and a binary search over them needs nothing
 * more; should one come out of order (a damaged file's overflow data that looks like a page),
 * a sorted index (4 bytes a row) is made the first time a row is looked up.
 */
export class PageRows {
  readonly #ids = new ChunkedColumn((length) => new Uint32Array(length));
  #rows = 0;
  #ascending = true;
  #byId: Uint32Array | undefined;

  get size(): number {
    return this.#rows;
  }

  /** Adds page `pgid` (< 2^32) and returns its row. */
  add(pgid: number): number {
    if (this.#rows > 0 && pgid <= this.#ids.get(this.#rows - 1)) this.#ascending = false;
    this.#ids.set(this.#rows, pgid);
    this.#byId = undefined;
    return this.#rows++;
  }

  /** The row of page `pgid` (the last one added, if it was added twice), or undefined. */
  find(pgid: number): number | undefined {
    const rowAt = this.#ascending ? (position: number) => position : this.#sortedIndex();
    let low = 0;
    let high = this.#rows - 1;
    let found: number | undefined;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const row = rowAt(middle);
      const id = this.#ids.get(row);
      if (id <= pgid) {
        if (id === pgid) found = row;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  #sortedIndex(): (position: number) => number {
    if (this.#byId === undefined) {
      const index = new Uint32Array(this.#rows);
      for (let row = 0; row < this.#rows; row += 1) index[row] = row;
      // Stable: rows of one id stay in the order they were added, so the search finds the last.
      this.#byId = index.sort((a, b) => this.#ids.get(a) - this.#ids.get(b) || a - b);
    }
    const byId = this.#byId;
    return (position) => byId[position] as number;
  }
}

/** Numbers below 2^32 appended in chunks: 4 bytes each, where a JavaScript array of half a million takes 8 and copies itself as it grows. */
export class Uint32List {
  readonly #values = new ChunkedColumn((length) => new Uint32Array(length));
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(value: number): void {
    this.#values.set(this.#length++, value);
  }

  at(index: number): number {
    return this.#values.get(index);
  }
}
