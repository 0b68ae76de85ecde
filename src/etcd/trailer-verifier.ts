import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OperatorError } from '../errors.js';

/** etcd ends every snapshot stream with the SHA-256 of everything before it. */
export const ETCD_TRAILER_LENGTH = 32;

export interface VerifiedSnapshot {
  /** Size of the db, without the trailer. */
  snapshotSize: number;
  /** SHA-256 (hex) of the db, without the trailer. */
  snapshotSha256: string;
}

/**
 * Passes etcd's snapshot stream through unchanged (trailer included: that is what
 * `etcdctl snapshot save` writes and what `etcdctl snapshot restore` checks) and,
 * at the end, checks the trailer against the SHA-256 of the bytes before it.
 */
export class SnapshotTrailerVerifier extends Transform {
  readonly #endpoint: string;
  readonly #hash: Hash = createHash('sha256');
  /** The last (up to) 32 bytes seen: the trailer candidate, not yet hashed. */
  #tail: Buffer = Buffer.alloc(0);
  #total = 0;
  #verified: VerifiedSnapshot | undefined;

  constructor(endpoint: string) {
    super();
    this.#endpoint = endpoint;
  }

  /** Available once the stream has ended without error. */
  get verified(): VerifiedSnapshot {
    if (this.#verified === undefined) throw new Error('the snapshot stream has not been verified yet');
    return this.#verified;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#total += chunk.length;
    this.#holdBackTrailer(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const expected = this.#hash.digest();
    if (this.#tail.length !== ETCD_TRAILER_LENGTH || !timingSafeEqual(expected, this.#tail)) {
      callback(
        new OperatorError(
          `snapshot from ${this.#endpoint} failed its SHA-256 check (etcd's trailer does not match): it is corrupt or truncated`,
        ),
      );
      return;
    }
    this.#verified = { snapshotSize: this.#total - ETCD_TRAILER_LENGTH, snapshotSha256: expected.toString('hex') };
    callback();
  }

  #holdBackTrailer(chunk: Buffer): void {
    if (chunk.length >= ETCD_TRAILER_LENGTH) {
      this.#hash.update(this.#tail);
      this.#hash.update(chunk.subarray(0, chunk.length - ETCD_TRAILER_LENGTH));
      this.#tail = Buffer.from(chunk.subarray(chunk.length - ETCD_TRAILER_LENGTH));
      return;
    }
    const combined = Buffer.concat([this.#tail, chunk]);
    const hashable = Math.max(0, combined.length - ETCD_TRAILER_LENGTH);
    this.#hash.update(combined.subarray(0, hashable));
    this.#tail = combined.subarray(hashable);
  }
}
