/** How a part's bytes reach the socket: in pieces from reused buffers, unsigned (the part's Content-MD5 protects it). */
import type { PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { BuildMiddleware, DeserializeMiddleware, MiddlewareStack } from '@smithy/types';
import { Readable } from 'node:stream';

/** The pieces a part's bytes are handed to the socket in (see sendBodyInPieces). */
export const BODY_PIECE_SIZE = 256 * 1024;

/**
 * How a part's bytes go out.
 * - Node's TLS encrypts a Buffer body in one go: 8 MiB more per part in flight, which
 *   malloc then keeps (measured: 165 MiB peak against 117 MiB for 300 MiB at 8 MiB × 4).
 *   So the request's body becomes a stream of slices of the same buffer, encrypted as the
 *   socket drains. The swap is made on every attempt, after signing, so a retried request
 *   sends the whole part again.
 * - The signature does not cover the payload (UNSIGNED-PAYLOAD, as aws s3 cp does over
 *   HTTPS): hashing every byte once more for it costs CPU on the etcd node, and the
 *   part's Content-MD5, which the server checks, already covers it.
 */
export function sendBodyInPieces<C extends PutObjectCommand | UploadPartCommand>(command: C, body: Buffer, onPieceSent: () => void = () => undefined): C {
  const unsignedPayload: BuildMiddleware<object, object> = (next) => (args) => {
    (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    return next(args);
  };
  const swapBody: DeserializeMiddleware<object, object> = (next) => (args) => {
    const request = args.request as { body?: unknown };
    if (body.length > 0) request.body = Readable.from(slicesOf(body, BODY_PIECE_SIZE, onPieceSent), { objectMode: false });
    return next(args);
  };
  const stack = command.middlewareStack as unknown as MiddlewareStack<object, object>;
  stack.add(unsignedPayload, { step: 'build', name: 'unsignedPayload' });
  stack.add(swapBody, { step: 'deserialize', priority: 'low', name: 'sendBodyInPieces' });
  return command;
}

/** The pieces, each taken when the socket wants more: `onTaken` says the previous one went. */
function* slicesOf(buffer: Buffer, size: number, onTaken: () => void): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += size) {
    onTaken();
    yield buffer.subarray(offset, offset + size);
  }
}

/** A fixed set of part buffers: `take` waits until one is given back. */
export class BufferPool {
  readonly #free: Buffer[];
  readonly #waiting: Array<(buffer: Buffer) => void> = [];

  constructor(count: number, size: number) {
    this.#free = Array.from({ length: count }, () => Buffer.allocUnsafeSlow(size));
  }

  take(): Promise<Buffer> {
    const buffer = this.#free.pop();
    if (buffer !== undefined) return Promise.resolve(buffer);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.#waiting.shift();
    if (waiter === undefined) this.#free.push(buffer);
    else waiter(buffer);
  }
}
