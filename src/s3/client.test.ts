import assert from 'node:assert/strict';
import { rootCertificates } from 'node:tls';
import { test } from 'node:test';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DEFAULT_S3_REGION, MAX_ATTEMPTS, httpsAgentOptions, isAwsEndpoint, s3ClientConfig } from './client.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBlabCA\n-----END CERTIFICATE-----\n';

test('s3.amazonaws.com is AWS itself: SDK endpoint resolution, virtual-hosted style, default checksums', () => {
  const config = s3ClientConfig({ endpoint: 's3.amazonaws.com' });
  assert.equal(config.endpoint, undefined);
  assert.equal(config.forcePathStyle, false);
  assert.equal(config.region, DEFAULT_S3_REGION);
  assert.equal(config.requestChecksumCalculation, undefined);
  assert.equal(config.responseChecksumValidation, undefined);
  assert.equal(config.maxAttempts, MAX_ATTEMPTS);
  assert.ok(config.requestHandler instanceof NodeHttpHandler);
  assert.equal(s3ClientConfig({ endpoint: 'S3.AmazonAWS.com', region: 'eu-west-1' }).region, 'eu-west-1');
  assert.ok(isAwsEndpoint('S3.amazonaws.com'));
});

test('any other endpoint: https://HOST[:PORT], path style, checksums only when required (Ceph 16 refuses aws-chunked)', () => {
  const config = s3ClientConfig({ endpoint: '127.0.3.1:7480' });
  assert.equal(config.endpoint, 'https://127.0.3.1:7480');
  assert.equal(config.forcePathStyle, true);
  assert.equal(config.region, 'us-east-1');
  assert.equal(config.requestChecksumCalculation, 'WHEN_REQUIRED');
  assert.equal(config.responseChecksumValidation, 'WHEN_REQUIRED');
  assert.equal(s3ClientConfig({ endpoint: 'minio.example:9000', region: 'eu-central-1' }).region, 'eu-central-1');
  assert.equal(s3ClientConfig({ endpoint: 's3.eu-west-1.amazonaws.com' }).forcePathStyle, true);
});

test('a custom CA is trusted in addition to the system roots, not instead of them', () => {
  const options = httpsAgentOptions(CA);
  assert.ok(Array.isArray(options.ca));
  const ca = options.ca as string[];
  assert.equal(ca.length, rootCertificates.length + 1);
  assert.equal(ca.at(-1), CA);
  assert.deepEqual(ca.slice(0, -1), [...rootCertificates]);
  assert.equal(httpsAgentOptions(undefined).ca, undefined);
  assert.equal(httpsAgentOptions(undefined).keepAlive, true);
});

test('static keys only when given; otherwise the default chain (no credentials field)', () => {
  const keys = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret/value' };
  assert.deepEqual(s3ClientConfig({ endpoint: 'h:1', credentials: keys }).credentials, keys);
  assert.equal('credentials' in s3ClientConfig({ endpoint: 'h:1' }), false);
});
