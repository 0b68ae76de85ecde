import { Readable } from 'node:stream';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { OperatorError } from '../errors.js';
import { describeGrpcError, grpcCode } from './grpc-error.js';
import type { SnapshotResponse } from './messages.js';

/**
 * etcd sends 32 KiB messages: room for many, so that the call is not paused for each one
 * (the HTTP/2 window, client.ts, holds 4 MiB more). 1 MiB: 4 MiB held no faster, and
 * every byte held is a byte of the agent's peak memory (docs/performance.md).
 */
const DEFAULT_BUFFER_BYTES = 1024 * 1024;

/** The server stream of Maintenance.Snapshot: an object-mode Readable that can be cancelled. */
/** etcd streams a snapshot steadily; this long without a byte means it is stuck. */
export const DEFAULT_SNAPSHOT_IDLE_TIMEOUT_MS = 60_000;

export interface SnapshotCall extends Readable {
  cancel(): void;
}

/**
 * etcd's snapshot as a byte stream (the db followed by etcd's 32-byte SHA-256 trailer).
 * Fails when etcd sends nothing for `idleTimeoutMs` while we are waiting for data (not
 * while we hold it back because the disk is slower). Destroying the result cancels the call.
 */
export function snapshotStream(
  call: SnapshotCall,
  options: { endpoint: string; idleTimeoutMs: number; bufferBytes?: number },
): Readable {
  let idle: NodeJS.Timeout | undefined;
  const armIdleTimer = () => {
    if (idle !== undefined) idle.refresh();
    else idle = setTimeout(onIdle, options.idleTimeoutMs);
  };
  const disarmIdleTimer = () => {
    clearTimeout(idle);
    idle = undefined;
  };
  const onIdle = () => {
    fail(new OperatorError(`snapshot from ${options.endpoint} stalled: etcd sent no data for ${options.idleTimeoutMs / 1000} s`));
  };

  const output = new Readable({
    highWaterMark: options.bufferBytes ?? DEFAULT_BUFFER_BYTES,
    read() {
      armIdleTimer();
      call.resume();
    },
    destroy(error, callback) {
      disarmIdleTimer();
      call.cancel();
      callback(error);
    },
  });

  const fail = (error: Error) => {
    if (!output.destroyed) output.destroy(error);
  };

  let received = 0;
  call.on('data', (message: SnapshotResponse) => {
    received += message.blob.length;
    if (message.blob.length === 0 || output.push(message.blob)) {
      armIdleTimer();
    } else {
      disarmIdleTimer();
      call.pause();
    }
  });
  call.on('end', () => {
    disarmIdleTimer();
    output.push(null);
  });
  call.on('error', (error: Error) => {
    disarmIdleTimer();
    // Our own cancel() (after destroy) reports CANCELLED; the real cause is already set.
    if (grpcCode(error) === GrpcStatus.CANCELLED && output.destroyed) return;
    fail(new OperatorError(describeStreamFailure(error, options.endpoint, received), { cause: error }));
  });
  return output;
}

/**
 * The operator's words for a snapshot stream that broke: etcd going away mid-stream (killed,
 * restarted, its node rebooting) reaches grpc-js as UNAVAILABLE with the transport's reason.
 */
export function describeStreamFailure(error: unknown, endpoint: string, receivedBytes: number): string {
  if (grpcCode(error) !== GrpcStatus.UNAVAILABLE) return `snapshot from ${endpoint} failed: ${describeGrpcError(error)}`;
  const details = (error as { details?: string }).details ?? '';
  const how = /ECONNRESET|reset/i.test(details)
    ? 'connection reset'
    : /ECONNREFUSED/i.test(details)
      ? 'connection refused'
      : /GOAWAY|closed|dropped|ended|EPIPE/i.test(details)
        ? 'connection closed'
        : describeGrpcError(error);
  const mib = (receivedBytes / 1024 / 1024).toFixed(1);
  return `etcd at ${endpoint} stopped answering during the snapshot (${how} after ${mib} MiB received)`;
}
