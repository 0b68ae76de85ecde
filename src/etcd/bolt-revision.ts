/**
 * The etcd revision a snapshot holds, read from its bbolt database in one forward pass
 * (a stream: inflated from a zip, downloaded from S3), without random access, without
 * holding the database, and without writing it anywhere.
 *
 * What `etcdctl snapshot status` prints as `revision` is the main revision of the last
 * key of the `key` bucket (bbolt iterates keys in order; etcd's keys there are an 8-byte
 * big-endian main revision, '_', an 8-byte sub revision, and 't' for a tombstone), or 0
 * when that bucket is empty. Finding it means: meta pages (0 and 1) → the root bucket's
 * tree → its leaf entry `key` → that bucket's tree → its rightmost non-empty leaf. The
 * pages of a tree come in any order in the file, so the pass keeps, per page, only what
 * the walk may need (branch pages: their children, a few per cent of the pages; leaf
 * pages: the main revision of their last key, 8 bytes; a leaf holding a `key` bucket
 * entry: where that bucket is), and the walk runs once the stream has ended.
 *
 * Memory: 1 byte per page (its kind; grown by doubling up to the meta page's page count),
 * 12 bytes per leaf page (page-rows.ts) and 4 bytes per branch element, plus the element
 * array of the page being read (16 bytes per element). An 8 GiB database of Secrets of a few
 * KiB (2.4 million pages, 0.5 million of them leaves) needs about 2.3 MiB for the kinds, 6 MiB
 * for the leaves and 2 MiB for the branches.
 *
 * With the `census` option the same pass also reads every leaf shaped like the `key`
 * bucket's (all keys revisions): each key revision's user key (hashed) and whether it is a
 * tombstone, kept per page in census-ledger.ts; after the stream, the leaves the bucket's
 * tree reaches, in order, give the live keys per resource. Pages outside the tree (freed,
 * with stale revisions) are never counted. A census that cannot be taken (a page of the
 * tree not etcd's, its memory bound) is reported as `censusProblem`; the revision stands.
 *
 * The on-disk format is bbolt's (bolt-format.ts; go.etcd.io/bbolt page.go, db.go, bucket.go), as written
 * on little-endian machines (amd64, arm64: every platform RKE runs etcd on).
 */

import { sortedResources, type Census } from '../model/census.js';
import { CensusLedger, type CensusCounts, type LedgerEntry } from './census-ledger.js';
import { ChunkedColumn, PageRows, Uint32List } from './page-rows.js';
import { readKeyRevision, REVISION_SEPARATOR, VALUE_HEAD_BYTES } from './mvcc-entry.js';
import {
  BRANCH_PAGE,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  Capture,
  ELEMENT_SIZE,
  LEAF_PAGE,
  leafElement,
  PAGE_HEADER_SIZE,
  META_SIZE,
  readMeta,
  type LeafElement,
  type Meta,
} from './bolt-format.js';

/** Far deeper than any bbolt tree (fan-out > 50): deeper means a cycle. */
const MAX_DEPTH = 64;
/** An inline bucket is at most a quarter page; anything bigger is not one. */
const MAX_INLINE_BUCKET = 256 * 1024;
const KEY_BUCKET = Buffer.from('key');

export interface BoltRevision {
  /** The main revision of the newest key in etcd's `key` bucket; 0 when it has none (what etcdctl prints). */
  revision: number;
  /** bbolt's page size and page count (the database is pageSize × pages bytes). */
  pageSize: number;
  pages: number;
  /** The bbolt transaction the database was written by. */
  txid: number;
}

/** What the census adds to the revision (`census` option): the live keys, or why they could not be counted. */
export interface BoltCensusResult extends BoltRevision {
  census?: Census;
  /** Why the census is absent (the revision was read): a page the walk reached is not etcd's, or its memory bound. */
  censusProblem?: string;
}

/** The database cannot be read: the message says what is wrong, for the operator. */
export class BoltFormatError extends Error {
  override name = 'BoltFormatError';
}

// Per-page kinds recorded during the pass.
const UNSEEN = 0;
const BRANCH = 1;
const LEAF = 2;
const CORRUPT = 3;
const OTHER = 4;
// Leaf summaries (leafLast): a main revision ≥ 0, or one of these.
const EMPTY_LEAF = -1;
const NOT_A_REVISION = -2;
const MAX_UINT32 = 0xffffffff;
const NO_CHILDREN = new Uint32Array(0);

interface KeyBucketRef {
  /** The bucket's root page, or 0 for an inline bucket. */
  root: number;
  /** For an inline bucket: its last key's main revision, EMPTY_LEAF or NOT_A_REVISION. */
  inlineLast: number;
  /** For an inline bucket, with the census: its key revisions (undefined: not etcd's). */
  inlineEntries?: LedgerEntry[] | undefined;
}

/**
 * Push parser: `push` every byte of the database in order (chunks of any size; bytes past
 * the database's last page, such as etcd's 32-byte SHA-256 trailer, are ignored), then
 * `finish`. Pure: no I/O; `BoltRevisionTap` (bolt-revision-stream.ts) wraps it as a stream.
 */
export class BoltRevisionScanner {
  /** With the census: every leaf that looks like a `key` bucket leaf, kept until the walk (census-ledger.ts). */
  readonly ledger: CensusLedger | undefined;
  #offset = 0;
  /** The first two pages' starts, until the meta is chosen. */
  #head: Buffer[] = [];
  #headLength = 0;
  #headNeeded = PAGE_HEADER_SIZE + META_SIZE;
  #meta: Meta | undefined;
  #collectors: PageCollector[] = [];
  #kinds = new Uint8Array(0);
  /** Leaf pages, and the summary of each one's last key (leafLast). */
  readonly #leaves = new PageRows();
  readonly #leafLast = new ChunkedColumn((length) => new Float64Array(length));
  readonly #branches = new Map<number, Uint32Array>();
  readonly #corrupt = new Map<number, string>();
  readonly #keyBuckets = new Map<number, KeyBucketRef>();

  /** census: also count the live keys (memory: census-ledger.ts); maxKeyRevisions bounds it. */
  constructor(options: { census?: boolean; maxKeyRevisions?: number } = {}) {
    this.ledger = options.census ? new CensusLedger(options.maxKeyRevisions === undefined ? {} : { maxKeyRevisions: options.maxKeyRevisions }) : undefined;
  }

  push(chunk: Uint8Array): void {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#meta === undefined) {
      data = this.#takeHead(data);
      if (this.#meta === undefined) return;
    }
    this.#scan(data);
  }

  /** Call once every byte was pushed: walks the trees recorded. Throws BoltFormatError. */
  finish(): BoltCensusResult {
    const meta = this.#meta;
    if (meta === undefined) throw new BoltFormatError(`it is not a bbolt database: it ends after ${this.#offset} bytes, before its meta pages`);
    const end = meta.pages * meta.pageSize;
    if (this.#offset < end) {
      throw new BoltFormatError(`the database is truncated: it ends at byte ${this.#offset}, its meta page says ${meta.pages} pages of ${meta.pageSize} bytes`);
    }
    const keyBucket = this.#findKeyBucket(meta.root);
    if (keyBucket === undefined) throw new BoltFormatError('the database has no "key" bucket: it is not an etcd v3 database');
    const last = keyBucket.root === 0 ? keyBucket.inlineLast : this.#lastInTree(keyBucket.root, 'the "key" bucket', 0);
    if (last === NOT_A_REVISION) throw new BoltFormatError('the last key of the "key" bucket is not an etcd revision (17 or 18 bytes with "_" at byte 8)');
    const read: BoltRevision = { revision: last === undefined || last === EMPTY_LEAF ? 0 : last, pageSize: meta.pageSize, pages: meta.pages, txid: meta.txid };
    if (this.ledger === undefined) return read;
    try {
      const counts = this.#census(this.ledger, keyBucket);
      return { ...read, census: { revision: read.revision, keys: counts.keys, resources: sortedResources(counts.resources) } };
    } catch (error) {
      return { ...read, censusProblem: `no census: ${(error as Error).message}` };
    }
  }

  /** Live keys of the tree under the `key` bucket: its leaves in order, as the ledger recorded them. */
  #census(ledger: CensusLedger, ref: KeyBucketRef): CensusCounts {
    if (ledger.overflow !== undefined) throw new Error(ledger.overflow);
    if (ref.root === 0) {
      if (ref.inlineEntries === undefined) throw new Error('the inline "key" bucket holds an entry etcd did not write');
      const inline = new CensusLedger();
      inline.addPage(0, ref.inlineEntries);
      return inline.resolve([0]);
    }
    const leaves = new Uint32List();
    const visit = (pgid: number, referrer: string, depth: number): void => {
      if (depth > MAX_DEPTH) throw new BoltFormatError(`the database is corrupt: the "key" bucket's tree is deeper than ${MAX_DEPTH} levels`);
      if (this.#page(pgid, referrer) === BRANCH) {
        for (const child of this.#branches.get(pgid) ?? []) visit(child, `child of branch page ${pgid}`, depth + 1);
        return;
      }
      const row = ledger.pageRow(pgid);
      if (row !== undefined && ledger.rowEntries(row) === 'unreadable') throw new Error(`page ${pgid} of the "key" bucket holds an entry etcd did not write (not a revision and a key-value record)`);
      if (row === undefined && this.#lastOfLeaf(pgid) !== EMPTY_LEAF) throw new Error(`page ${pgid} of the "key" bucket holds keys that are not etcd revisions`);
      if (row !== undefined) leaves.push(row);
    };
    visit(ref.root, 'the "key" bucket', 0);
    return ledger.resolveRows(leaves);
  }

  /** Collects pages 0 and 1's meta; returns what is left of `data` once the meta is chosen. */
  #takeHead(data: Buffer): Buffer {
    const take = Math.min(data.length, this.#headNeeded - this.#headLength);
    this.#head.push(data.subarray(0, take));
    this.#headLength += take;
    this.#offset += take;
    if (this.#headLength < this.#headNeeded) return data.subarray(take);
    const head = Buffer.concat(this.#head);
    const first = readMeta(head, 0);
    const pageSize = first.meta?.pageSize ?? 4096;
    if (this.#headNeeded < 2 * pageSize) {
      // Now that the page size is known: read up to the end of page 1 (the scan starts at page 2).
      this.#head = [head];
      this.#headNeeded = 2 * pageSize;
      return this.#takeHead(data.subarray(take));
    }
    this.#head = [];
    const second = readMeta(head, pageSize);
    const candidates = [first.meta, second.meta].filter((meta): meta is Meta => meta !== undefined && meta.pageSize === pageSize);
    if (candidates.length === 0) {
      throw new BoltFormatError(`it is not a bbolt database, or both its meta pages are damaged (page 0: ${first.problem ?? 'other page size'}; page 1: ${second.problem ?? 'other page size'})`);
    }
    this.#meta = candidates.reduce((best, meta) => (meta.txid > best.txid ? meta : best));
    return data.subarray(take);
  }

  #scan(data: Buffer): void {
    const meta = this.#meta as Meta;
    const { pageSize, pages } = meta;
    let position = 0;
    while (position < data.length) {
      const pgid = Math.floor(this.#offset / pageSize);
      if (pgid >= pages) {
        this.#offset += data.length - position; // past the database: etcd's trailer, a file's unused tail
        return;
      }
      const inPage = this.#offset % pageSize;
      const length = Math.min(data.length - position, pageSize - inPage);
      if (inPage === 0) this.#collectors.push(new PageCollector(pgid, this.#offset, pageSize, pages, this));
      const segment = data.subarray(position, position + length);
      this.#collectors = this.#collectors.filter((collector) => collector.feed(this.#offset, segment));
      this.#offset += length;
      position += length;
    }
  }

  #slot(pgid: number): void {
    if (pgid < this.#kinds.length) return;
    // Doubling, but never past the meta page's page count (pgid < pages here): the array ends
    // the exact size of the database instead of up to twice it (1 byte a page).
    let size = Math.max(1024, this.#kinds.length * 2);
    while (size <= pgid) size *= 2;
    size = Math.min(size, (this.#meta as Meta).pages);
    const kinds = new Uint8Array(size);
    kinds.set(this.#kinds);
    this.#kinds = kinds;
  }

  /** A leaf page's summary of its last key (recordLeaf). */
  #lastOfLeaf(pgid: number): number {
    const row = this.#leaves.find(pgid);
    return row === undefined ? EMPTY_LEAF : this.#leafLast.get(row);
  }

  /** @internal PageCollector's results. */
  recordOther(pgid: number): void {
    this.#slot(pgid);
    this.#kinds[pgid] = OTHER;
  }

  /** @internal */
  recordCorrupt(pgid: number, problem: string): void {
    this.#slot(pgid);
    this.#kinds[pgid] = CORRUPT;
    this.#corrupt.set(pgid, problem);
  }

  /** @internal */
  recordBranch(pgid: number, children: Uint32Array): void {
    this.#slot(pgid);
    this.#kinds[pgid] = BRANCH;
    this.#branches.set(pgid, children);
  }

  /** @internal A leaf that looks like the `key` bucket's: its key revisions, or undefined when etcd did not write it. */
  recordKeyRevisions(pgid: number, entries: LedgerEntry[] | undefined): void {
    if (entries === undefined) this.ledger?.addUnreadablePage(pgid);
    else this.ledger?.addPage(pgid, entries);
  }

  /** @internal */
  recordLeaf(pgid: number, last: number, keyBucket: KeyBucketRef | undefined): void {
    this.#slot(pgid);
    this.#kinds[pgid] = LEAF;
    this.#leafLast.set(this.#leaves.add(pgid), last);
    if (keyBucket !== undefined) this.#keyBuckets.set(pgid, keyBucket);
    else this.#keyBuckets.delete(pgid);
  }

  #page(pgid: number, referrer: string): number {
    const meta = this.#meta as Meta;
    if (!Number.isSafeInteger(pgid) || pgid < 2 || pgid >= meta.pages) {
      throw new BoltFormatError(`the database is corrupt: ${referrer} points to page ${pgid}, outside pages 2..${meta.pages - 1}`);
    }
    const kind = pgid < this.#kinds.length ? (this.#kinds[pgid] as number) : UNSEEN;
    if (kind === CORRUPT) throw new BoltFormatError(`the database is corrupt: page ${pgid} (${referrer}) ${this.#corrupt.get(pgid) ?? 'is damaged'}`);
    if (kind !== BRANCH && kind !== LEAF) {
      throw new BoltFormatError(`the database is corrupt: page ${pgid} (${referrer}) is not a branch or leaf page (its header is damaged)`);
    }
    return kind;
  }

  /** The `key` entry of the root bucket (the tree under the meta's root). */
  #findKeyBucket(root: number): KeyBucketRef | undefined {
    const visit = (pgid: number, referrer: string, depth: number): KeyBucketRef | undefined => {
      if (depth > MAX_DEPTH) throw new BoltFormatError(`the database is corrupt: the root bucket's tree is deeper than ${MAX_DEPTH} levels`);
      if (this.#page(pgid, referrer) === LEAF) return this.#keyBuckets.get(pgid);
      for (const child of this.#branches.get(pgid) ?? []) {
        const found = visit(child, `child of branch page ${pgid}`, depth + 1);
        if (found !== undefined) return found;
      }
      return undefined;
    };
    return visit(root, "the meta page's root bucket", 0);
  }

  /** The last key's summary in the tree under `pgid`: its rightmost non-empty leaf. */
  #lastInTree(pgid: number, referrer: string, depth: number): number | undefined {
    if (depth > MAX_DEPTH) throw new BoltFormatError(`the database is corrupt: the "key" bucket's tree is deeper than ${MAX_DEPTH} levels`);
    if (this.#page(pgid, referrer) === LEAF) {
      const last = this.#lastOfLeaf(pgid);
      return last === EMPTY_LEAF ? undefined : last;
    }
    const children = this.#branches.get(pgid) ?? NO_CHILDREN;
    for (let index = children.length - 1; index >= 0; index -= 1) {
      const last = this.#lastInTree(children[index] as number, `child of branch page ${pgid}`, depth + 1);
      if (last !== undefined) return last;
    }
    return undefined;
  }
}

/**
 * Reads one page as the stream passes it: its header, then its element array, then only
 * the keys and values needed (a leaf's last key; a bucket entry named `key`). Every page
 * boundary starts one, since a free page's stale header cannot be trusted to skip over
 * the pages that follow it; one whose header does not name its own page id is dropped.
 */
class PageCollector {
  #stage: 'header' | 'elements' | 'keys' = 'header';
  #captures: Capture[];
  #end: number;
  #flags = 0;
  #count = 0;
  #lastKey: Capture | undefined;
  #bucketEntries: Array<{ key: Capture; value: Capture }> = [];
  /** Census: a leaf shaped like the `key` bucket's; its elements, and what of them was captured. */
  #keyRevisionLeaf: KeyRevisionLeaf | undefined;

  constructor(
    readonly pgid: number,
    readonly start: number,
    readonly pageSize: number,
    readonly pages: number,
    readonly scanner: BoltRevisionScanner,
  ) {
    this.#captures = [new Capture(start, PAGE_HEADER_SIZE)];
    this.#end = start + pageSize;
  }

  /** Feeds the bytes at `offset`; returns false once the page is read (or dropped). */
  feed(offset: number, bytes: Buffer): boolean {
    for (;;) {
      for (const capture of this.#captures) if (!capture.done) capture.feed(offset, bytes);
      if (!this.#captures.every((capture) => capture.done)) {
        if (offset + bytes.length >= this.#end) {
          this.scanner.recordCorrupt(this.pgid, 'ends before its data does');
          return false;
        }
        return true;
      }
      try {
        if (!this.#advance()) return false;
      } catch (error) {
        this.scanner.recordCorrupt(this.pgid, (error as Error).message);
        return false;
      }
    }
  }

  /** The stage's captures are complete: move on; false when the page is done. */
  #advance(): boolean {
    if (this.#stage === 'header') return this.#readHeader((this.#captures[0] as Capture).buffer);
    if (this.#stage === 'elements') return this.#readElements((this.#captures[0] as Capture).buffer);
    this.#readKeys();
    return false;
  }

  #readHeader(header: Buffer): boolean {
    const id = Number(header.readBigUInt64LE(0));
    this.#flags = header.readUInt16LE(8);
    this.#count = header.readUInt16LE(10);
    const overflow = header.readUInt32LE(12);
    if (id !== this.pgid || (this.#flags !== BRANCH_PAGE && this.#flags !== LEAF_PAGE)) {
      // Overflow data of a large page, a freelist page, or a damaged header: reported only if the walk reaches it.
      this.scanner.recordOther(this.pgid);
      return false;
    }
    if (this.pgid + overflow + 1 > this.pages) throw new Error(`runs past the database's last page (${overflow} overflow pages)`);
    this.#end = this.start + (overflow + 1) * this.pageSize;
    const elementsEnd = this.start + PAGE_HEADER_SIZE + this.#count * ELEMENT_SIZE;
    if (elementsEnd > this.#end) throw new Error(`cannot hold its ${this.#count} elements`);
    if (this.#count === 0) {
      if (this.#flags === BRANCH_PAGE) throw new Error('is a branch page without elements');
      this.scanner.recordLeaf(this.pgid, EMPTY_LEAF, undefined);
      return false;
    }
    this.#stage = 'elements';
    this.#captures = [new Capture(this.start + PAGE_HEADER_SIZE, this.#count * ELEMENT_SIZE)];
    return true;
  }

  #readElements(elements: Buffer): boolean {
    if (this.#flags === BRANCH_PAGE) {
      // 4 bytes a child: every page of the database is some branch's child. A pgid past 2^32 - 1 (a
      // 16 TiB database: a corrupt element) is kept as 2^32 - 1, which the walk refuses as outside the file.
      const children = new Uint32Array(this.#count);
      for (let index = 0; index < this.#count; index += 1) children[index] = Math.min(Number(elements.readBigUInt64LE(index * ELEMENT_SIZE + 8)), MAX_UINT32);
      this.scanner.recordBranch(this.pgid, children);
      return false;
    }
    const dataStart = this.start + PAGE_HEADER_SIZE + this.#count * ELEMENT_SIZE;
    const leafElements: LeafElement[] = [];
    for (let index = 0; index < this.#count; index += 1) {
      const element = leafElement(elements, index, this.start);
      if (element.keyStart < dataStart || element.keyStart + element.ksize + element.vsize > this.#end) {
        throw new Error(`has a leaf element (${index}) that points outside the page`);
      }
      leafElements.push(element);
    }
    if (this.scanner.ledger !== undefined && leafElements.every((e) => e.flags === 0 && (e.ksize === 17 || e.ksize === 18))) {
      return this.#captureKeyRevisions(leafElements, dataStart);
    }
    const captures: Capture[] = [];
    for (const [index, element] of leafElements.entries()) {
      const { keyStart } = element;
      if (index === this.#count - 1 && (element.ksize === 17 || element.ksize === 18)) {
        this.#lastKey = new Capture(keyStart, element.ksize);
        captures.push(this.#lastKey);
      }
      if ((element.flags & BUCKET_LEAF_FLAG) !== 0 && element.ksize === KEY_BUCKET.length) {
        if (element.vsize < BUCKET_HEADER_SIZE) throw new Error(`has a bucket entry (${index}) too short for a bucket header`);
        const valueLength = element.vsize <= MAX_INLINE_BUCKET ? element.vsize : BUCKET_HEADER_SIZE;
        const entry = { key: new Capture(keyStart, element.ksize), value: new Capture(keyStart + element.ksize, valueLength) };
        this.#bucketEntries.push(entry);
        captures.push(entry.key, entry.value);
      }
    }
    if (captures.length === 0) {
      this.#readKeys();
      return false;
    }
    this.#stage = 'keys';
    this.#captures = captures;
    return true;
  }

  /**
   * Census: every key and the head of every value. A leaf without overflow pages is read
   * whole (one capture of its data); one with overflow (a large value) element by element.
   */
  #captureKeyRevisions(elements: LeafElement[], dataStart: number): boolean {
    const leaf: KeyRevisionLeaf = { elements };
    if (this.#end === this.start + this.pageSize) {
      leaf.page = new Capture(dataStart, this.#end - dataStart);
      this.#captures = [leaf.page];
    } else {
      leaf.heads = elements.map((e) => ({ key: new Capture(e.keyStart, e.ksize), value: new Capture(e.keyStart + e.ksize, Math.min(e.vsize, VALUE_HEAD_BYTES)) }));
      this.#captures = leaf.heads.flatMap((head) => [head.key, head.value]);
    }
    this.#keyRevisionLeaf = leaf;
    this.#stage = 'keys';
    return true;
  }

  #readKeyRevisions(leaf: KeyRevisionLeaf): void {
    const entries: LedgerEntry[] = [];
    for (const [index, element] of leaf.elements.entries()) {
      let entry: LedgerEntry | undefined;
      if (leaf.page !== undefined) {
        const page = leaf.page.buffer;
        const at = element.keyStart - leaf.page.start;
        entry = readKeyRevision(page, at, element.ksize, page, at + element.ksize, Math.min(element.vsize, VALUE_HEAD_BYTES), element.vsize);
      } else {
        const head = (leaf.heads as Array<{ key: Capture; value: Capture }>)[index] as { key: Capture; value: Capture };
        entry = readKeyRevision(head.key.buffer, 0, element.ksize, head.value.buffer, 0, head.value.buffer.length, element.vsize);
      }
      if (entry === undefined) {
        entries.length = 0;
        break;
      }
      entries.push(entry);
    }
    this.scanner.recordKeyRevisions(this.pgid, entries.length === leaf.elements.length ? entries : undefined);
    const lastIndex = leaf.elements.length - 1;
    const last = leaf.elements[lastIndex] as LeafElement;
    const lastKey = leaf.page
      ? leaf.page.buffer.subarray(last.keyStart - leaf.page.start, last.keyStart - leaf.page.start + last.ksize)
      : ((leaf.heads as Array<{ key: Capture }>)[lastIndex] as { key: Capture }).key.buffer;
    this.scanner.recordLeaf(this.pgid, revisionOf(lastKey), undefined);
  }

  #readKeys(): void {
    if (this.#keyRevisionLeaf !== undefined) {
      this.#readKeyRevisions(this.#keyRevisionLeaf);
      return;
    }
    const last = this.#lastKey === undefined ? NOT_A_REVISION : revisionOf(this.#lastKey.buffer);
    let keyBucket: KeyBucketRef | undefined;
    for (const entry of this.#bucketEntries) {
      if (!entry.key.buffer.equals(KEY_BUCKET)) continue;
      keyBucket = bucketRef(entry.value.buffer, this.scanner.ledger !== undefined);
    }
    this.scanner.recordLeaf(this.pgid, last, keyBucket);
  }
}

/** Census: a leaf shaped like the `key` bucket's, its elements, and what of them is captured (the whole page, or each key and value head). */
interface KeyRevisionLeaf {
  elements: LeafElement[];
  page?: Capture;
  heads?: Array<{ key: Capture; value: Capture }>;
}

/** A `key` bucket key's main revision, or NOT_A_REVISION. */
function revisionOf(key: Buffer): number {
  if ((key.length !== 17 && key.length !== 18) || key[8] !== REVISION_SEPARATOR) return NOT_A_REVISION;
  if (key.length === 18 && key[17] !== 0x74) return NOT_A_REVISION; // 't': a tombstone
  const main = key.readBigInt64BE(0);
  if (main < 0n || main > BigInt(Number.MAX_SAFE_INTEGER)) return NOT_A_REVISION;
  return Number(main);
}

/** A bucket entry's value: its header (root page, sequence), then for an inline bucket (root 0) its one leaf page. */
function bucketRef(value: Buffer, census: boolean): KeyBucketRef {
  const root = Number(value.readBigUInt64LE(0));
  if (root !== 0) return { root, inlineLast: EMPTY_LEAF };
  const page = value.subarray(BUCKET_HEADER_SIZE);
  if (page.length < PAGE_HEADER_SIZE || page.readUInt16LE(8) !== LEAF_PAGE) throw new Error('holds an inline "key" bucket that is not a leaf page');
  const count = page.readUInt16LE(10);
  if (count === 0) return { root: 0, inlineLast: EMPTY_LEAF, inlineEntries: [] };
  if (PAGE_HEADER_SIZE + count * ELEMENT_SIZE > page.length) throw new Error('holds an inline "key" bucket too short for its elements');
  const elements = page.subarray(PAGE_HEADER_SIZE, PAGE_HEADER_SIZE + count * ELEMENT_SIZE);
  const element = leafElement(elements, count - 1);
  const { keyStart } = element;
  if (keyStart + element.ksize > page.length) throw new Error('holds an inline "key" bucket whose last key lies outside it');
  const inlineLast = revisionOf(page.subarray(keyStart, keyStart + element.ksize));
  return census ? { root: 0, inlineLast, inlineEntries: inlineKeyRevisions(page, elements, count) } : { root: 0, inlineLast };
}

/** The census of an inline `key` bucket: every element's entry, or undefined if one is not etcd's. */
function inlineKeyRevisions(page: Buffer, elements: Buffer, count: number): LedgerEntry[] | undefined {
  const entries: LedgerEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    const element = leafElement(elements, index);
    const valueStart = element.keyStart + element.ksize;
    if (element.flags !== 0 || valueStart + element.vsize > page.length) return undefined;
    const entry = readKeyRevision(page, element.keyStart, element.ksize, page, valueStart, element.vsize, element.vsize);
    if (entry === undefined) return undefined;
    entries.push(entry);
  }
  return entries;
}
