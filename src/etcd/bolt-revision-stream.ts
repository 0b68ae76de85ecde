import { Transform, type TransformCallback } from 'node:stream';
import type { Census } from '../model/census.js';
import { BoltFormatError, BoltRevisionScanner, type BoltCensusResult } from './bolt-revision.js';

/**
 * A pass-through stream that reads the etcd revision of the bbolt database flowing
 * through it (bolt-revision.ts): put it after the inflate / trailer check of a snapshot
 * entry, or on an S3 object's body; with `census`, also the live keys per resource. Fails the stream at its end (or as soon as the meta
 * pages are unreadable) with a BoltFormatError whose message starts "cannot read ...".
 */
export class BoltRevisionTap extends Transform {
  readonly #scanner: BoltRevisionScanner;
  readonly #lenient: boolean;
  #result: BoltCensusResult | undefined;
  #failed = false;
  /** lenient: a database it cannot read does not fail the stream (the bytes still pass); see `problem`. */
  #problem: string | undefined;

  constructor(options: { lenient?: boolean; census?: boolean } = {}) {
    super();
    this.#lenient = options.lenient ?? false;
    this.#scanner = new BoltRevisionScanner({ census: options.census ?? false });
  }

  /** With `lenient`, why the revision could not be read (after the stream ended). */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** The result, or undefined (lenient, when it could not be read). */
  get resultIfRead(): BoltCensusResult | undefined {
    return this.#result;
  }

  /** Available once the stream has ended without error. */
  get result(): BoltCensusResult {
    if (this.#result === undefined) throw new Error('the database stream has not been read to its end yet');
    return this.#result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#failed) {
      try {
        this.#scanner.push(chunk);
      } catch (error) {
        if (!this.#fail(error)) {
          callback(describe(error));
          return;
        }
      }
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#failed) {
      try {
        this.#result = this.#scanner.finish();
      } catch (error) {
        if (!this.#fail(error)) {
          callback(describe(error));
          return;
        }
      }
    }
    callback();
  }

  /** Lenient: remember the problem and let the bytes flow; returns false when the stream must fail. */
  #fail(error: unknown): boolean {
    if (!this.#lenient) return false;
    this.#failed = true;
    this.#problem = describe(error).message;
    return true;
  }
}

/** A census-taking read's census, or why there is none (the form the copy's findings carry). */
export function censusFindings(read: BoltCensusResult): { census: Census } | { censusProblem: string } {
  return read.census ? { census: read.census } : { censusProblem: read.censusProblem ?? 'no census' };
}

/** Reads a whole database stream (any async iterable of bytes) for its revision. */
export async function readBoltRevision(source: AsyncIterable<Uint8Array>, options: { census?: boolean } = {}): Promise<BoltCensusResult> {
  const scanner = new BoltRevisionScanner(options);
  try {
    for await (const chunk of source) scanner.push(chunk);
    return scanner.finish();
  } catch (error) {
    throw describe(error);
  }
}

function describe(error: unknown): Error {
  if (error instanceof BoltFormatError) return new BoltFormatError(`cannot read the snapshot's etcd revision: ${error.message}`);
  return error instanceof Error ? error : new Error(String(error));
}
