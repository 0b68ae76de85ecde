/**
 * `--compression auto`'s cheapest encoding: the block's bytes as deflate stored blocks, except
 * runs of zeros, each coded in a small fixed-Huffman block (one literal 0, then copies of the
 * byte before, 258 at a time). For bytes nothing compresses (Secrets encrypted at rest) this
 * gets what Z_RLE gets, the zeros etcd's 4 KiB pages leave after each value, at the cost of a
 * search and a copy instead of Huffman coding every byte. Pure and synchronous (RFC 1951).
 *
 * Like zlib's Z_SYNC_FLUSH, the output ends on a byte boundary with an empty stored block, and
 * only that block is final when `last`: the blocks of a stream join by concatenation.
 */

/** Shorter runs of zeros stay in the stored bytes: a fixed block and a new stored header cost ~10 bytes. */
export const MIN_ZERO_RUN = 64;
const MAX_STORED = 65_535;
const MAX_MATCH = 258;
const ZEROS = Buffer.alloc(MIN_ZERO_RUN);

/** The deflate encoding of `block` (see above). */
export function encodeZeroRuns(block: Buffer, last: boolean): Buffer {
  // Worst case: every byte stored (5 bytes a 64 KiB block, and one header after each run), plus the end.
  const writer = new BitWriter(block.length + Math.ceil(block.length / MAX_STORED) * 5 + Math.ceil(block.length / MIN_ZERO_RUN) * 8 + 16);
  let position = 0;
  for (let run = block.indexOf(ZEROS); run >= 0; run = block.indexOf(ZEROS, position)) {
    let end = run + MIN_ZERO_RUN;
    while (end < block.length && block[end] === 0) end += 1;
    writer.stored(block, position, run);
    writer.zeros(end - run);
    position = end;
  }
  writer.stored(block, position, block.length);
  writer.emptyStored(last);
  return writer.result();
}

/** The encoded size of `sample`, for the block method's choice. */
export function zeroRunsSize(sample: Buffer): number {
  return encodeZeroRuns(sample, false).length;
}

/** Length codes 257..284: the first length of each (RFC 1951 3.2.5); 285 is 258 with no extra bits. */
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5];

/** Deflate's bits, least significant first, into a buffer sized in advance. */
class BitWriter {
  readonly #out: Buffer;
  #length = 0;
  #bits = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#out = Buffer.allocUnsafe(capacity);
  }

  /** `data[start, end)` as stored blocks, none final (none at all when empty). */
  stored(data: Buffer, start: number, end: number): void {
    for (let from = start; from < end; from += MAX_STORED) {
      const to = Math.min(end, from + MAX_STORED);
      this.#storedHeader(false, to - from);
      data.copy(this.#out, this.#length, from, to);
      this.#length += to - from;
    }
  }

  emptyStored(final: boolean): void {
    this.#storedHeader(final, 0);
  }

  /** A fixed-Huffman block of `count` (≥ 1) zeros: a literal 0, then matches at distance 1. */
  zeros(count: number): void {
    this.#write(0, 1); // not final
    this.#write(1, 2); // BTYPE 01: fixed Huffman codes
    this.#code(0x30, 8); // literal 0
    let left = count - 1;
    while (left >= 3) {
      const length = Math.min(left, MAX_MATCH);
      this.#matchLength(length);
      this.#code(0, 5); // distance code 0: distance 1
      left -= length;
    }
    for (; left > 0; left -= 1) this.#code(0x30, 8);
    this.#code(0, 7); // end of block (256)
  }

  result(): Buffer {
    return this.#out.subarray(0, this.#length);
  }

  #storedHeader(final: boolean, size: number): void {
    this.#write(final ? 1 : 0, 1);
    this.#write(0, 2); // BTYPE 00: stored
    this.#align();
    this.#out.writeUInt16LE(size, this.#length);
    this.#out.writeUInt16LE(size ^ 0xffff, this.#length + 2);
    this.#length += 4;
  }

  #matchLength(length: number): void {
    if (length === MAX_MATCH) {
      this.#code(0xc5, 8); // 285: 11000101
      return;
    }
    let index = LENGTH_BASE.length - 1;
    while ((LENGTH_BASE[index] as number) > length) index -= 1;
    const symbol = 257 + index;
    // Fixed codes: 256–279 are 7 bits (0000000 + n), 280–287 are 8 bits (11000000 + n).
    if (symbol <= 279) this.#code(symbol - 256, 7);
    else this.#code(0xc0 + (symbol - 280), 8);
    this.#write(length - (LENGTH_BASE[index] as number), LENGTH_EXTRA[index] as number);
  }

  /** A Huffman code: its bits go most significant first. */
  #code(code: number, bits: number): void {
    let reversed = 0;
    for (let bit = 0; bit < bits; bit += 1) reversed |= ((code >>> bit) & 1) << (bits - 1 - bit);
    this.#write(reversed, bits);
  }

  #write(value: number, bits: number): void {
    this.#bits |= value << this.#count;
    this.#count += bits;
    while (this.#count >= 8) {
      this.#out[this.#length++] = this.#bits & 0xff;
      this.#bits >>>= 8;
      this.#count -= 8;
    }
  }

  #align(): void {
    if (this.#count > 0) this.#write(0, 8 - this.#count);
  }
}
