/**
 * `--compression auto`: how each block of the snapshot is encoded, chosen from a small sample
 * of it. Pure; the zlib calls are in block-deflate.ts.
 *
 * Measured on the bench's four kinds of data (docs/performance.md): deflate level 1 is what
 * manifests (JSON, protobuf) need, and on them it is also fast (it finds long matches);
 * base64 of random bytes gains almost nothing from matches, so Huffman coding alone gets
 * within 1% of level 1's size at about four times its speed; random bytes (Secrets encrypted
 * at rest) gain nothing from either, and stored blocks cost no CPU at all.
 */
export type BlockMethod = 'deflate' | 'huffman' | 'stored';

export const BLOCK_METHODS: readonly BlockMethod[] = ['deflate', 'huffman', 'stored'];

/** What a sample of a block compresses to, as fractions of its size. */
export interface SampleRatios {
  /** Order-0 entropy / 8 (what Huffman coding alone gets, give or take its tables). */
  huffman: number;
  /** Deflate level 1 of the sample. */
  deflate: number;
}

/** Above this, neither Huffman nor matches save enough to be worth a CPU cycle: stored. */
export const STORED_ABOVE = 0.97;
/** Huffman alone is chosen when matches would save less than this (a fraction of the block). */
export const HUFFMAN_WITHIN = 0.015;

export function chooseBlockMethod(ratios: SampleRatios): BlockMethod {
  if (Math.min(ratios.huffman, ratios.deflate) > STORED_ABOVE) return 'stored';
  if (ratios.huffman - ratios.deflate < HUFFMAN_WITHIN) return 'huffman';
  return 'deflate';
}

/** Huffman codes cost a little over the entropy (whole bits per symbol, the code tables). */
const HUFFMAN_OVERHEAD = 0.005;

/** Order-0 entropy of `bytes` in bits per byte / 8: about what Z_HUFFMAN_ONLY gets. */
export function huffmanRatio(bytes: Uint8Array): number {
  if (bytes.length === 0) return 1;
  const counts = new Uint32Array(256);
  for (let index = 0; index < bytes.length; index++) counts[bytes[index]!]!++;
  let bits = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / bytes.length;
    bits -= p * Math.log2(p);
  }
  return Math.min(1, bits / 8 + HUFFMAN_OVERHEAD);
}

export const SAMPLE_SLICES = 4;
export const SAMPLE_SLICE_BYTES = 8 * 1024;

/**
 * A few slices spread over the block (etcd's database is in 4 KiB pages of whatever kind,
 * so one slice could fall on a page unlike the rest); the whole block when it is small.
 */
export function sampleOf(block: Buffer): Buffer {
  if (block.length <= SAMPLE_SLICES * SAMPLE_SLICE_BYTES * 2) return block;
  const stride = Math.floor(block.length / SAMPLE_SLICES);
  const slices: Buffer[] = [];
  for (let slice = 0; slice < SAMPLE_SLICES; slice++) {
    const start = slice * stride + Math.floor((stride - SAMPLE_SLICE_BYTES) / 2);
    slices.push(block.subarray(start, start + SAMPLE_SLICE_BYTES));
  }
  return Buffer.concat(slices);
}
