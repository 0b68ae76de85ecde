import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeGrpcError } from './grpc-error.js';

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} X: ${details}`), { code, details });
}

test('names the transport cause and the status, on one line', () => {
  const error = grpcError(14, 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379 (2025-01-01T00:00:00.000Z)\n');
  assert.equal(
    describeGrpcError(error),
    'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379 (UNAVAILABLE)',
  );
});

test('OpenSSL error strings and empty resolution notes are reduced to their words', () => {
  const error = grpcError(
    14,
    'No connection established. Last error: 80AC67063E7F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-11-28T17:13:21.568Z). Resolution note: ',
  );
  assert.equal(describeGrpcError(error), 'No connection established. Last error: sslv3 alert bad certificate (UNAVAILABLE)');
});

test('a deadline becomes "no answer within N s"', () => {
  assert.equal(describeGrpcError(grpcError(4, 'Deadline exceeded after 5.001s'), 5000), 'no answer within 5 s (DEADLINE_EXCEEDED)');
});

test('non-gRPC errors keep their message', () => {
  assert.equal(describeGrpcError(new Error('boom')), 'boom');
});
