/**
 * Fills the lab's etcd with Kubernetes-like objects until its database reaches a size:
 * JSON metadata that compresses well plus base64 payloads that compress like Secrets
 * do, so deflate sees data shaped like a real cluster's (about 45% of the size at level 1).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../../bench/etcd-put.proto', import.meta.url));
const VALUE_BYTES = 64 * 1024;
const IN_FLIGHT = 8;

export interface EtcdTls {
  endpoint: string; // host:port
  ca: string;
  cert: string;
  key: string;
}

type PutClient = grpc.Client & {
  Put(request: { key: Buffer; value: Buffer }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
};

function putClient(tls: EtcdTls): PutClient {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const KV = (grpc.loadPackageDefinition(definition) as any).etcdserverpb.KV as grpc.ServiceClientConstructor;
  const credentials = grpc.credentials.createSsl(readFileSync(tls.ca), readFileSync(tls.key), readFileSync(tls.cert));
  return new KV(tls.endpoint, credentials, { 'grpc.max_send_message_length': 4 * 1024 * 1024 }) as unknown as PutClient;
}

/** One object of about VALUE_BYTES: a manifest with managedFields, and a data payload. */
export function kubernetesLikeValue(index: number): Buffer {
  const managedFields = Array.from({ length: 12 }, (_, k) => ({
    manager: k % 2 ? 'kube-controller-manager' : 'kubectl-client-side-apply',
    operation: 'Update',
    apiVersion: 'v1',
    time: '2026-11-28T00:00:00Z',
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {}, [`f:shard-${k}`]: {} } } },
  }));
  const metadata = {
    name: `object-${index}`,
    namespace: `namespace-${index % 64}`,
    uid: randomBytes(16).toString('hex'),
    resourceVersion: String(index),
    labels: { app: `app-${index % 16}`, tier: 'backend' },
    managedFields,
  };
  const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata });
  const payloadBytes = Math.max(0, Math.floor(((VALUE_BYTES - manifest.length * 4) * 3) / 4));
  const data = randomBytes(payloadBytes).toString('base64');
  return Buffer.from(manifest.repeat(4) + JSON.stringify({ data: { payload: data } }));
}

/** Puts objects until `bytes` have been written; returns how many. */
export async function putObjects(tls: EtcdTls, firstIndex: number, bytes: number): Promise<number> {
  const client = putClient(tls);
  let index = firstIndex;
  let written = 0;
  const put = (key: string, value: Buffer) =>
    new Promise<void>((resolve, reject) => {
      client.Put({ key: Buffer.from(key), value }, { deadline: Date.now() + 60_000 }, (error) => (error ? reject(error) : resolve()));
    });
  const worker = async () => {
    while (written < bytes) {
      const value = kubernetesLikeValue(index);
      const key = `/registry/secrets/namespace-${index % 64}/object-${index}`;
      index++;
      written += value.length;
      await put(key, value);
    }
  };
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  } finally {
    client.close();
  }
  return index - firstIndex;
}
