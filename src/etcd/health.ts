import { status as GrpcStatus } from '@grpc/grpc-js';
import { OperatorError } from '../errors.js';
import { describeGrpcError, grpcCode } from './grpc-error.js';
import type { RangeRequest, RangeResponse } from './messages.js';

/** The part of EtcdClient the health check needs. */
export interface RangeClient {
  endpoint: { url: string };
  range(request: RangeRequest, deadlineMs: number, signal?: AbortSignal): Promise<RangeResponse>;
}

/**
 * Like `etcdctl endpoint health`: a linearizable read of the key "health" must complete
 * within the deadline, which needs a leader and a quorum. Permission denied still
 * counts as healthy: the request went through consensus to be refused.
 */
export async function checkEtcdHealth(client: RangeClient, deadlineMs: number, signal?: AbortSignal): Promise<void> {
  try {
    await client.range({ key: Buffer.from('health'), serializable: false }, deadlineMs, signal);
  } catch (error) {
    if (grpcCode(error) === GrpcStatus.PERMISSION_DENIED) return;
    throw new OperatorError(`etcd at ${client.endpoint.url} is not healthy: ${describeGrpcError(error, deadlineMs)}`, {
      cause: error,
    });
  }
}
