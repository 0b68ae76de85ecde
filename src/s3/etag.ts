import { createHash, type Hash } from 'node:crypto';

/**
 * The ETag S3 gives an object, computed on our side to check an upload:
 * a single PUT gets the MD5 (hex) of the bytes; a multipart upload gets the MD5 of the
 * concatenated binary MD5s of its parts, then `-N` (N parts).
 */
export function expectedEtag(partMd5s: readonly Buffer[]): string {
  if (partMd5s.length === 0) throw new Error('expectedEtag: no parts');
  if (partMd5s.length === 1) return partMd5s[0]!.toString('hex');
  return `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
}

/** S3 sends ETags quoted ("..."); compare without the quotes. */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^"(.*)"$/s, '$1');
}

/**
 * Whether an ETag can be the MD5 of the content (plain or multipart form). With SSE-KMS
 * or SSE-C the ETag is not an MD5 even though it may look like one: see upload-verify.ts.
 */
export function isMd5StyleEtag(etag: string): boolean {
  return /^[0-9a-f]{32}(-[1-9][0-9]*)?$/.test(unquoteEtag(etag));
}

/**
 * How many parts lib-storage makes of `size` bytes with `partSize`-byte parts: it cuts
 * a part only when more than `partSize` bytes are buffered, so the last part may be
 * exactly `partSize` long, an empty body is one (empty) part, and one part means a
 * single PUT (no multipart upload at all).
 */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

export interface UploadDigest {
  size: number;
  sha256: string;
  /** Binary MD5 of each part, in order, cut like lib-storage cuts them (see partCount). */
  partMd5s: Buffer[];
  etag: string;
}

/** SHA-256 of everything, MD5 of each `partSize`-byte part; fed chunk by chunk. */
export class PartDigester {
  readonly #partSize: number;
  readonly #sha256 = createHash('sha256');
  readonly #partMd5s: Buffer[] = [];
  #md5: Hash | undefined;
  #inPart = 0;
  #size = 0;

  constructor(partSize: number) {
    if (!(Number.isInteger(partSize) && partSize > 0)) throw new Error(`PartDigester: bad part size ${partSize}`);
    this.#partSize = partSize;
  }

  update(chunk: Buffer): void {
    this.#sha256.update(chunk);
    this.#size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#md5 === undefined || this.#inPart === this.#partSize) this.#startPart();
      const take = Math.min(chunk.length - offset, this.#partSize - this.#inPart);
      this.#md5!.update(chunk.subarray(offset, offset + take));
      this.#inPart += take;
      offset += take;
    }
  }

  /** Call once, after the last chunk. */
  finish(): UploadDigest {
    if (this.#md5 === undefined) this.#startPart(); // an empty body is one empty part
    this.#partMd5s.push(this.#md5!.digest());
    this.#md5 = undefined;
    return { size: this.#size, sha256: this.#sha256.digest('hex'), partMd5s: this.#partMd5s, etag: expectedEtag(this.#partMd5s) };
  }

  #startPart(): void {
    if (this.#md5 !== undefined) this.#partMd5s.push(this.#md5.digest());
    this.#md5 = createHash('md5');
    this.#inPart = 0;
  }
}
