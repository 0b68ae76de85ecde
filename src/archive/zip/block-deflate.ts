import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { chooseBlockMethod, sampleOf, type BlockMethod } from './block-choice.js';
import { encodeZeroRuns, zeroRunsSize } from './zero-runs.js';

const deflateRaw = promisify(zlib.deflateRaw) as (buffer: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

/** Blocks of 1 MiB: small enough to hold a few in flight, large enough that the per-block cost (a sync marker, new Huffman tables, the sample) is lost in the noise. */
export const BLOCK_BYTES = 1024 * 1024;
/** Deflate's window: each deflated block is primed with the previous block's last 32 KiB, so matches reach across the join as in one stream. */
const WINDOW_BYTES = 32 * 1024;
const OUTPUT_CHUNK_BYTES = 256 * 1024;
/** A sample is 32 KiB: its output fits one 64 KiB buffer (incompressible data grows by a few bytes per 16 KiB). */
const SAMPLE_OUTPUT_BYTES = 64 * 1024;
/** The empty last block that ends a stream: stored, with nothing to sample. */
const STORED: Promise<BlockMethod> = Promise.resolve('stored');
/**
 * The method is chosen from a sample of the first block of each group of this many: a block's
 * data is much like its neighbours', and each sample costs two more zlib runs whose set-up is on
 * the main thread, the stream's bottleneck (on 423 MiB of JSON: 0.1 s less of the main thread's
 * time and 0.25 s less CPU; the zip's size unchanged on the bench's four kinds of data).
 */
export const SAMPLED_EVERY = 4;

/**
 * How many blocks are compressed at once, on libuv's thread pool: half the node's cores,
 * at least 2 (so compression overlaps with reading etcd's stream on the main thread) and
 * at most 3 (the pool has 4 threads, and file writes need one). The agent container's CPU
 * weight (512, half of etcd's) makes these threads yield to etcd under contention, and
 * `--agent-cpus` caps them outright (docs/performance.md).
 */
export function blocksInFlight(cores: number): number {
  return Math.min(3, Math.max(2, Math.floor(cores / 2)));
}

export type BlockCounts = Record<BlockMethod, number>;

export interface BlockDeflateOptions {
  blockBytes?: number;
  inFlight?: number;
  /** The method is chosen from the first block of each group of this many (default SAMPLED_EVERY). */
  sampledEvery?: number;
}

/**
 * `--compression auto`: raw deflate of the stream, cut into blocks that are compressed in
 * parallel on the thread pool, each with the method its group's sample calls for (block-choice.ts),
 * and joined into ONE deflate stream as pigz does: every block but the last ends with a sync
 * flush (an empty stored block, so it ends on a byte boundary and is not final), the last one
 * with Z_FINISH. Any inflater reads the result as one entry; the CRC-32 is counted on the
 * input before this stage, as for the other modes.
 */
export class BlockDeflate extends Transform {
  readonly counts: BlockCounts = { deflate: 0, rle: 0, zeros: 0, stored: 0 };
  readonly #blockBytes: number;
  readonly #inFlight: number;
  readonly #sampledEvery: number;
  #pieces: Buffer[] = [];
  #pending = 0;
  #window: Buffer | undefined;
  #blocks = 0;
  #groupChoice: Promise<BlockMethod> | undefined;
  readonly #queue: Promise<Buffer>[] = [];
  /** Whole-block buffers whose block is compressed, for the next blocks (see #take). */
  readonly #spare: Buffer[] = [];

  constructor(options: BlockDeflateOptions = {}) {
    super({ highWaterMark: OUTPUT_CHUNK_BYTES });
    this.#blockBytes = options.blockBytes ?? BLOCK_BYTES;
    this.#inFlight = options.inFlight ?? blocksInFlight(availableParallelism());
    this.#sampledEvery = options.sampledEvery ?? SAMPLED_EVERY;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pieces.push(chunk);
    this.#pending += chunk.length;
    this.#drain(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#drain(true).then(() => callback(), callback);
  }

  /** Starts every whole block (and, at the end, the last one), emitting finished blocks in order while too many are in flight. */
  async #drain(last: boolean): Promise<void> {
    while (this.#pending >= this.#blockBytes) {
      this.#start(this.#take(this.#blockBytes), false);
      while (this.#queue.length >= this.#inFlight) await this.#emitOldest();
    }
    if (!last) return;
    this.#start(this.#take(this.#pending), true);
    while (this.#queue.length > 0) await this.#emitOldest();
  }

  /**
   * The next `bytes` of input as one buffer. Pieces are copied into a whole-block buffer that
   * is reused once its block is compressed (#start): a new 1 MiB buffer per block was garbage
   * until V8 next collected, which kept tens of MiB of dead blocks in the agent's memory.
   */
  #take(bytes: number): { block: Buffer; reusable: boolean } {
    const first = this.#pieces[0];
    if (this.#pieces.length === 1 && first !== undefined) {
      this.#pieces = bytes < first.length ? [first.subarray(bytes)] : [];
      this.#pending -= bytes;
      return { block: first.subarray(0, bytes), reusable: false };
    }
    const reusable = bytes === this.#blockBytes;
    const block = reusable ? (this.#spare.pop() ?? Buffer.allocUnsafeSlow(bytes)) : Buffer.allocUnsafe(bytes);
    const rest: Buffer[] = [];
    let filled = 0;
    for (const piece of this.#pieces) {
      const used = Math.min(piece.length, bytes - filled);
      if (used > 0) piece.copy(block, filled, 0, used);
      filled += used;
      if (used < piece.length) rest.push(piece.subarray(used));
    }
    this.#pieces = rest;
    this.#pending -= bytes;
    return { block, reusable };
  }

  #start({ block, reusable }: { block: Buffer; reusable: boolean }, last: boolean): void {
    const window = this.#window;
    // A copy: the block's buffer is reused once it is compressed, the window lives one block longer.
    if (block.length > 0) this.#window = Buffer.from(block.subarray(Math.max(0, block.length - WINDOW_BYTES)));
    const choice = block.length === 0 ? STORED : this.#groupChoiceFor(block);
    const job = this.#compress(block, choice, window, last);
    // Awaited in order by #emitOldest; the catch keeps a later block's failure from going unhandled meanwhile.
    job.then(() => reusable && this.#spare.length < this.#inFlight && this.#spare.push(block), () => undefined);
    this.#queue.push(job);
  }

  async #compress(block: Buffer, choice: Promise<BlockMethod>, window: Buffer | undefined, last: boolean): Promise<Buffer> {
    const finishFlush = last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH;
    const method = await choice;
    this.counts[method]++;
    // On the main thread: a search for runs and a copy, cheaper than handing the block to zlib.
    if (method === 'zeros') return encodeZeroRuns(block, last);
    const settings: zlib.ZlibOptions =
      method === 'deflate'
        ? { level: 1, ...(window ? { dictionary: window } : {}) }
        : method === 'rle'
          ? { level: 1, strategy: zlib.constants.Z_RLE }
          : { level: 0 };
    return deflateRaw(block, { ...settings, finishFlush, chunkSize: OUTPUT_CHUNK_BYTES });
  }

  /** The method of the group `block` belongs to: its own sample's when it is the group's first. */
  #groupChoiceFor(block: Buffer): Promise<BlockMethod> {
    if (this.#blocks++ % this.#sampledEvery === 0 || this.#groupChoice === undefined) this.#groupChoice = this.#choose(block);
    return this.#groupChoice;
  }

  async #choose(block: Buffer): Promise<BlockMethod> {
    const sample = sampleOf(block);
    const [deflated, rle] = await Promise.all([
      deflateRaw(sample, { level: 1, chunkSize: SAMPLE_OUTPUT_BYTES }),
      deflateRaw(sample, { level: 1, strategy: zlib.constants.Z_RLE, chunkSize: SAMPLE_OUTPUT_BYTES }),
    ]);
    return chooseBlockMethod({ rle: rle.length / sample.length, deflate: deflated.length / sample.length, zeros: zeroRunsSize(sample) / sample.length });
  }

  async #emitOldest(): Promise<void> {
    const output = await this.#queue.shift()!;
    this.push(output);
  }
}

/** e.g. "1024 blocks of up to 1 MiB: 1000 deflated, 20 RLE, 2 zero runs, 2 stored". */
export function describeBlocks(counts: BlockCounts): string {
  const total = counts.deflate + counts.rle + counts.zeros + counts.stored;
  return `${total} blocks of up to ${BLOCK_BYTES / 1024 / 1024} MiB: ${counts.deflate} deflated, ${counts.rle} RLE, ${counts.zeros} zero runs, ${counts.stored} stored`;
}
