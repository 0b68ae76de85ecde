/**
 * A server that stops answering mid-upload (a frozen process, a dropped network) leaves
 * our requests open until the socket's idle timeout, per attempt, per part. The upload
 * instead fails once nothing has moved for UPLOAD_STALL_MS: no piece of a body taken by the
 * socket and no part accepted.
 */
import { OperatorError } from '../../errors.js';
import { objectUrl, type UploadTarget } from './target.js';

export const UPLOAD_STALL_MS = 30_000;

export class UploadStalled extends OperatorError {}

/**
 * The requests of one upload (a PUT, or the parts and completion of a multipart upload): one
 * signal that aborts them when the run is interrupted, when `cancel` is called (a part failed),
 * or when nothing has moved for `stallMs`. `close` when done.
 */
export class UploadRequests {
  readonly #controller = new AbortController();
  readonly #stall: NodeJS.Timeout;
  readonly #onRunAbort = () => this.#controller.abort(this.target.signal?.reason);

  constructor(
    private readonly target: UploadTarget,
    stallMs = UPLOAD_STALL_MS,
  ) {
    this.#stall = setTimeout(() => {
      this.#controller.abort(
        new UploadStalled(
          `S3 endpoint ${target.endpoint} stopped answering during the upload of ${objectUrl(target)}: ` +
            `nothing was accepted for ${stallMs / 1000} s; check that the server is up and reachable from this node`,
        ),
      );
    }, stallMs);
    target.signal?.addEventListener('abort', this.#onRunAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Something moved: a body piece was sent, a part accepted. */
  readonly touch = (): void => {
    this.#stall.refresh();
  };

  /** No more stall bound (the completion of a large object may take the server a while; the client's timeouts bound it). */
  stopStallWatch(): void {
    clearTimeout(this.#stall);
  }

  cancel(): void {
    this.#controller.abort();
  }

  /** What ended the requests: the stall when it cancelled them (not the requests' AbortError), else `error`. */
  causeOf(error: unknown): unknown {
    return this.signal.aborted && this.signal.reason instanceof UploadStalled ? this.signal.reason : error;
  }

  close(): void {
    clearTimeout(this.#stall);
    this.target.signal?.removeEventListener('abort', this.#onRunAbort);
  }
}
