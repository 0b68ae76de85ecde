import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DEFAULT_S3_ENDPOINT, type S3Settings } from './settings.js';

/** Where and as whom the agent talks to S3. */
export interface S3ClientOptions {
  /** host[:port], no scheme; always HTTPS. `s3.amazonaws.com` means AWS itself. */
  endpoint: string;
  region?: string;
  /** PEM text of a CA to trust in addition to the usual roots. */
  customCaPem?: string;
  /** Static keys; absent means the SDK's default chain (env, profile, the node's IAM role via instance metadata). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export const DEFAULT_S3_REGION = 'us-east-1';
export const CONNECTION_TIMEOUT_MS = 10_000;
/** A socket this long without a byte in either direction is dead (the whole request may take longer). */
export const SOCKET_IDLE_TIMEOUT_MS = 60_000;
export const MAX_ATTEMPTS = 3;
/** The upload sends up to 4 parts at once (agent/upload-send.ts); a little headroom for the HEAD calls. */
const MAX_SOCKETS = 8;

export function isAwsEndpoint(endpoint: string): boolean {
  return endpoint.toLowerCase() === DEFAULT_S3_ENDPOINT;
}

/** The system roots plus the given CA: a private endpoint's CA must not make AWS (or a proxy's chain) untrusted. */
export function httpsAgentOptions(customCaPem: string | undefined): HttpsAgentOptions {
  return {
    keepAlive: true,
    maxSockets: MAX_SOCKETS,
    ...(customCaPem === undefined ? {} : { ca: [...rootCertificates, customCaPem] }),
  };
}

/**
 * The client's configuration. AWS proper: the SDK's own endpoint resolution and
 * virtual-hosted-style addressing. Anything else: https://HOST[:PORT], path-style, and
 * checksums only where an operation requires them, because self-hosted servers such as
 * Ceph 16's radosgw refuse the SDK's default aws-chunked flexible checksums
 * (411 MissingContentLength). The upload is verified by its ETag instead (upload.ts).
 */
export function s3ClientConfig(options: S3ClientOptions): S3ClientConfig {
  const common: S3ClientConfig = {
    region: options.region ?? DEFAULT_S3_REGION,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      httpsAgent: new HttpsAgent(httpsAgentOptions(options.customCaPem)),
    }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
  };
  if (isAwsEndpoint(options.endpoint)) return { ...common, forcePathStyle: false };
  return {
    ...common,
    endpoint: `https://${options.endpoint}`,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client(s3ClientConfig(options));
}

/** A client on this machine for the run's S3 settings (--runtime ssh, snapshot-fetch, the Object Lock check): its keys, or the SDK's chain. */
export function createS3ClientFor(settings: S3Settings): S3Client {
  return createS3Client({
    endpoint: settings.endpoint,
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.customCa ? { customCaPem: settings.customCa } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
}
