/**
 * How the snapshot entry of NAME.zip is compressed. Always the deflate method, which
 * every zip reader (rke-tools' restore included) understands; the modes differ in
 * zlib level only. Deflate is the agent's bottleneck (it runs on one core), and on
 * etcd data level 1 costs a fraction of level 6's time for almost the same size:
 * docs/performance.md has the figures.
 */
export const COMPRESSION_LEVELS = {
  /** zlib level 1: the default. */
  fast: 1,
  /** zlib level 6, what RKE's zip (Go's default) writes: a few per cent smaller, several times slower. */
  standard: 6,
  /** zlib level 0: deflate's stored blocks, no compression; as fast as the disk. */
  none: 0,
} as const;

export type CompressionMode = keyof typeof COMPRESSION_LEVELS;

export const COMPRESSION_MODES = Object.keys(COMPRESSION_LEVELS) as CompressionMode[];
export const DEFAULT_COMPRESSION: CompressionMode = 'fast';

export function isCompressionMode(value: string): value is CompressionMode {
  return (COMPRESSION_MODES as string[]).includes(value);
}
