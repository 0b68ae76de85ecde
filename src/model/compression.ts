/**
 * How the snapshot entry of NAME.zip is compressed. Always the deflate method, one deflate
 * stream per entry, which every zip reader (rke-tools' restore included) understands.
 * `fast`, `standard` and `none` are one zlib level for the whole entry; `auto` (the default)
 * chooses per 1 MiB block between deflate level 1, zlib's run-length strategy (Z_RLE) and stored blocks,
 * from a sample of the block, and compresses a few blocks at once (src/archive/zip/block-deflate.ts).
 * Deflate on one core was the agent's bottleneck on data that compresses poorly:
 * docs/performance.md has the figures.
 */
export const COMPRESSION_LEVELS = {
  /** Per block: deflate level 1, Z_RLE or stored, whichever the block's sample calls for; the default. */
  auto: 'auto',
  /** zlib level 1 for the whole entry. */
  fast: 1,
  /** zlib level 6, what RKE's zip (Go's default) writes: a few per cent smaller, several times slower. */
  standard: 6,
  /** zlib level 0: deflate's stored blocks, no compression; as fast as the disk. */
  none: 0,
} as const;

export type CompressionMode = keyof typeof COMPRESSION_LEVELS;
/** A zlib level for the whole entry, or `auto`'s per-block choice. */
export type DeflateSetting = (typeof COMPRESSION_LEVELS)[CompressionMode];

export const COMPRESSION_MODES = Object.keys(COMPRESSION_LEVELS) as CompressionMode[];
export const DEFAULT_COMPRESSION: CompressionMode = 'auto';

/** One line per mode, for --help, the dry run and the docs' wording. */
export const COMPRESSION_DESCRIPTIONS: Record<CompressionMode, string> = {
  auto: 'per 1 MiB block: deflate level 1, run-length (Z_RLE), zero runs or stored, from a sample of the block; blocks compressed in parallel',
  fast: 'deflate level 1',
  standard: 'deflate level 6, as RKE',
  none: 'stored, no compression',
};

export function isCompressionMode(value: string): value is CompressionMode {
  return (COMPRESSION_MODES as string[]).includes(value);
}
