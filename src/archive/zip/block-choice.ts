/**
 * `--compression auto`: how each block of the snapshot is encoded, chosen from a small sample
 * of it. Pure; the zlib calls are in block-deflate.ts.
 *
 * Measured on snapshots of the bench's four kinds of data (docs/performance.md): deflate level 1
 * is what manifests (JSON, protobuf) need, and on them it is also fast (it finds long matches).
 * On base64 of random bytes and on random bytes (Secrets encrypted at rest) matches gain
 * almost nothing, but etcd's 4 KiB pages leave runs of zeros after each value: zlib's Z_RLE
 * (Huffman codes plus runs) gets within about 1% of level 1's size at about three times its speed,
 * and Huffman coding alone, no faster, misses the runs (4–5% larger). On random bytes Huffman
 * codes gain nothing either, and the zeros are all there is: the bytes stored and only the runs
 * of zeros coded (zero-runs.ts) get as much as Z_RLE for a search and a copy. Bytes with nothing
 * to gain at all are stored, which costs no CPU.
 */
export type BlockMethod = 'deflate' | 'rle' | 'zeros' | 'stored';

export const BLOCK_METHODS: readonly BlockMethod[] = ['deflate', 'rle', 'zeros', 'stored'];

/** What a sample of a block compresses to with each zlib setting, as fractions of its size. */
export interface SampleRatios {
  /** Z_RLE: Huffman codes and runs of one byte. */
  rle: number;
  /** Deflate level 1. */
  deflate: number;
  /** Stored bytes with the runs of zeros coded (zero-runs.ts). */
  zeros: number;
}

/** Above this, nothing saves enough to be worth a CPU cycle: stored. */
export const STORED_ABOVE = 0.97;
/**
 * RLE is chosen when level 1's matches would save less than this (a fraction of the block).
 * The sample is small and overrates matches a little (it cuts through pages' headers); on
 * whole snapshots of base64 and of random values this left auto's zip about 1% above level
 * 1's, at 2.5 times its speed, where 1.5% deflated one block in four for nothing.
 */
export const RLE_WITHIN = 0.03;

/**
 * The zero runs are chosen when Huffman codes and matches would save less than this more: on
 * random bytes in etcd's pages Z_RLE's codes cost a little more than the bytes they code, and
 * the two come out within a fraction of a per cent of each other.
 */
export const ZEROS_WITHIN = 0.01;

export function chooseBlockMethod(ratios: SampleRatios): BlockMethod {
  const coded = Math.min(ratios.rle, ratios.deflate);
  if (Math.min(coded, ratios.zeros) > STORED_ABOVE) return 'stored';
  if (ratios.zeros - coded < ZEROS_WITHIN) return 'zeros';
  if (ratios.rle - ratios.deflate < RLE_WITHIN) return 'rle';
  return 'deflate';
}

export const SAMPLE_SLICES = 64;
export const SAMPLE_SLICE_BYTES = 512;

/**
 * Many small slices spread evenly over the block, 32 KiB in all; the whole of a small block.
 * etcd's database is made of 4 KiB pages: a value that does not fill its last page leaves a
 * run of zeros there, a tenth of the file or more with Secrets of a few KiB. A few large
 * slices can fall between those runs and take such a block for incompressible; 64 slices of
 * 512 bytes see them in proportion.
 */
export function sampleOf(block: Buffer): Buffer {
  if (block.length <= SAMPLE_SLICES * SAMPLE_SLICE_BYTES * 2) return block;
  const stride = Math.floor(block.length / SAMPLE_SLICES);
  const slices: Buffer[] = [];
  for (let slice = 0; slice < SAMPLE_SLICES; slice++) {
    // Not at one offset in each stride: strides of 16 KiB would put every slice at the same
    // place in its 4 KiB page (a page header each time, and the sample would overrate matches).
    const within = Math.floor(((slice * GOLDEN_RATIO) % 1) * (stride - SAMPLE_SLICE_BYTES));
    const start = slice * stride + within;
    slices.push(block.subarray(start, start + SAMPLE_SLICE_BYTES));
  }
  return Buffer.concat(slices);
}

const GOLDEN_RATIO = (Math.sqrt(5) - 1) / 2;
