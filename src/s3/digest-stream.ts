import { Transform, type TransformCallback } from 'node:stream';
import { PartDigester, type UploadDigest } from './etag.js';

/**
 * A pass-through put in front of the uploader: it digests exactly the bytes the
 * uploader reads (SHA-256 of all, MD5 per part), so the expected ETag describes what
 * was sent, not what the file held at some other moment.
 */
export class DigestStream extends Transform {
  readonly #digester: PartDigester;
  #digest: UploadDigest | undefined;

  constructor(partSize: number, highWaterMark?: number) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this.#digester = new PartDigester(partSize);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#digester.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#digester.finish();
    callback();
  }

  /** The digest of everything that passed; throws if the stream has not ended. */
  digest(): UploadDigest {
    if (this.#digest === undefined) throw new Error('DigestStream: the stream has not ended');
    return this.#digest;
  }
}
