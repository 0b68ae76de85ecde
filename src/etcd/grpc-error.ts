import { status as GrpcStatus } from '@grpc/grpc-js';
import { messageOf, oneLine } from '../errors.js';

interface GrpcLikeError {
  code: number;
  details?: string;
}

function isGrpcError(error: unknown): error is GrpcLikeError {
  return error instanceof Error && typeof (error as Partial<GrpcLikeError>).code === 'number';
}

export function grpcCode(error: unknown): number | undefined {
  return isGrpcError(error) ? error.code : undefined;
}

/** A short, one-line cause for a failed etcd call: the server's or transport's words and the status name. */
export function describeGrpcError(error: unknown, deadlineMs?: number): string {
  if (!isGrpcError(error)) return messageOf(error);
  const name = GrpcStatus[error.code] ?? `code ${error.code}`;
  if (error.code === GrpcStatus.DEADLINE_EXCEEDED && deadlineMs !== undefined) {
    return `no answer within ${deadlineMs / 1000} s (${name})`;
  }
  const details = tidyDetails(error.details ?? '');
  return details === '' ? name : `${details} (${name})`;
}

/** grpc-js details carry timestamps, empty notes and raw OpenSSL error strings: keep the words. */
function tidyDetails(details: string): string {
  return oneLine(details)
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, '')
    .replace(/\.?\s*Resolution note:\s*$/, '')
    .replace(/Last error: Error: /g, 'Last error: ')
    .replace(/[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):\S+:\d+:(?:SSL alert number \d+)?/g, '$1')
    .trim();
}
