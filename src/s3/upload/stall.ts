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

export interface StallWatch {
  /** Something moved: a body piece was sent, a part accepted. */
  touch(): void;
  stop(): void;
}

/** Calls `onStall` with an UploadStalled once nothing has moved for `stallMs`. */
export function watchForStall(target: UploadTarget, onStall: (stalled: UploadStalled) => void, stallMs = UPLOAD_STALL_MS): StallWatch {
  const timer = setTimeout(() => {
    onStall(
      new UploadStalled(
        `S3 endpoint ${target.endpoint} stopped answering during the upload of ${objectUrl(target)}: ` +
          `nothing was accepted for ${stallMs / 1000} s; check that the server is up and reachable from this node`,
      ),
    );
  }, stallMs);
  return { touch: () => timer.refresh(), stop: () => clearTimeout(timer) };
}
