import { createHash } from 'node:crypto';

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
 * How many parts the upload (agent/upload-send.ts) makes of `size` bytes with
 * `partSize`-byte parts: the last part may be exactly `partSize` long, an empty body is
 * one (empty) part, and one part means a single PUT (no multipart upload at all).
 */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

export interface UploadDigest {
  size: number;
  sha256: string;
  /** Binary MD5 of each part, in order (see partCount). */
  partMd5s: Buffer[];
  etag: string;
}

/** SHA-256 of everything and the MD5 of each part, fed one whole part at a time, in order. */
export class PartDigester {
  readonly #sha256 = createHash('sha256');
  readonly #partMd5s: Buffer[] = [];
  #size = 0;

  /** Returns the part's MD5 (S3's Content-MD5 of the part). */
  addPart(part: Buffer): Buffer {
    const md5 = createHash('md5').update(part).digest();
    this.#sha256.update(part);
    this.#size += part.length;
    this.#partMd5s.push(md5);
    return md5;
  }

  /** Call once, after the last part. */
  finish(): UploadDigest {
    if (this.#partMd5s.length === 0) this.addPart(Buffer.alloc(0)); // an empty body is one empty part
    return { size: this.#size, sha256: this.#sha256.digest('hex'), partMd5s: this.#partMd5s, etag: expectedEtag(this.#partMd5s) };
  }
}
