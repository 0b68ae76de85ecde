/**
 * bbolt's on-disk format as the snapshot readers need it (go.etcd.io/bbolt page.go, db.go,
 * bucket.go; little-endian, as on every platform RKE runs etcd on): page and element
 * layouts, the meta page, and a capture of byte ranges at stream offsets.
 */

export const PAGE_HEADER_SIZE = 16;
export const ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;
export const META_SIZE = 64;
const META_CHECKSUMMED = 56;
export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const BUCKET_LEAF_FLAG = 0x01;
const MAGIC = 0xed0cdaed;
const VERSION = 2;
/** bbolt refuses page sizes it cannot map; we accept what any platform's bbolt may write. */
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 1 << 20;

export interface Meta {
  pageSize: number;
  root: number;
  pages: number;
  txid: number;
}

export function readMeta(head: Buffer, offset: number): { meta?: Meta; problem?: string } {
  if (head.length < offset + PAGE_HEADER_SIZE + META_SIZE) return { problem: 'missing' };
  const data = offset + PAGE_HEADER_SIZE;
  if (head.readUInt32LE(data) !== MAGIC) return { problem: 'no bbolt magic number' };
  if (head.readUInt32LE(data + 4) !== VERSION) return { problem: `bbolt format version ${head.readUInt32LE(data + 4)}, not ${VERSION}` };
  const checksum = head.readBigUInt64LE(data + META_CHECKSUMMED);
  if (fnv64a(head.subarray(data, data + META_CHECKSUMMED)) !== checksum) return { problem: 'checksum mismatch' };
  const pageSize = head.readUInt32LE(data + 8);
  if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) return { problem: `page size ${pageSize}` };
  const root = Number(head.readBigUInt64LE(data + 16));
  const pages = Number(head.readBigUInt64LE(data + 40));
  const txid = Number(head.readBigUInt64LE(data + 48));
  if (pages < 3) return { problem: `page count ${pages}` };
  return { meta: { pageSize, root, pages, txid } };
}

function fnv64a(bytes: Buffer): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash;
}

/** A range of a page's bytes wanted, at absolute stream offsets. */
export class Capture {
  readonly buffer: Buffer;
  #got = 0;
  constructor(readonly start: number, length: number) {
    this.buffer = Buffer.alloc(length);
  }
  get done(): boolean {
    return this.#got === this.buffer.length;
  }
  feed(offset: number, bytes: Buffer): void {
    const from = Math.max(this.start, offset);
    const to = Math.min(this.start + this.buffer.length, offset + bytes.length);
    if (to <= from) return;
    bytes.copy(this.buffer, from - this.start, from - offset, to - offset);
    this.#got += to - from;
  }
}

export interface LeafElement {
  flags: number;
  pos: number;
  ksize: number;
  vsize: number;
  /** Where its key starts, as an offset of the stream. */
  keyStart: number;
}

/** Element `index` of a leaf page's element array; `keyStart` counted from `pageStart` (the page's offset in the stream, or 0). */
export function leafElement(elements: Buffer, index: number, pageStart = 0): LeafElement {
  const at = index * ELEMENT_SIZE;
  const pos = elements.readUInt32LE(at + 4);
  return {
    flags: elements.readUInt32LE(at),
    pos,
    ksize: elements.readUInt32LE(at + 8),
    vsize: elements.readUInt32LE(at + 12),
    keyStart: pageStart + PAGE_HEADER_SIZE + index * ELEMENT_SIZE + pos,
  };
}
