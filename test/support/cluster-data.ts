/**
 * The kinds of cluster data that issue #18 measures and tests `--compression auto` on, as
 * etcd keys and values (the bench fills etcd with them: bench/etcd-fill.ts):
 *
 * - json: Kubernetes-like JSON manifests (Pods with managedFields, env, labels): compress 6–8:1;
 * - protobuf: the same objects in Kubernetes' protobuf encoding (`k8s\0` envelope, field
 *   numbers instead of names, varints): binary, compresses less than the JSON;
 * - base64: Secrets, a small manifest around base64 of random bytes (deflate gets about 0.75);
 * - random: Secrets encrypted at rest (`k8s:enc:aescbc:v1:key1:` + random bytes): incompressible.
 *
 * The values are built from a seeded generator, so two runs write the same bytes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
export const DATASETS = ['json', 'protobuf', 'base64', 'random'] as const;
export type Dataset = (typeof DATASETS)[number];

export function isDataset(value: string): value is Dataset {
  return (DATASETS as readonly string[]).includes(value);
}

export const DATASET_TITLES: Record<Dataset, string> = {
  json: 'Kubernetes-like JSON',
  protobuf: 'protobuf-like binary objects',
  base64: 'base64 of random bytes',
  random: 'raw random bytes (encrypted at rest)',
};

/** xorshift32: cheap, seeded bytes (crypto's randomBytes would make runs differ). */
class Bytes {
  #state: number;
  constructor(seed: number) {
    this.#state = (seed * 2654435761) >>> 0 || 1;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }
  fill(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i + 4 <= length; i += 4) out.writeUInt32LE(this.next(), i);
    for (let i = length - (length % 4); i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }
  hex(bytes: number): string {
    return this.fill(bytes).toString('hex');
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/** The key an object of that kind is stored under (the resource matches the data), below `root`. */
export function keyOf(dataset: Dataset, index: number, root = '/registry'): string {
  const resource = dataset === 'json' || dataset === 'protobuf' ? 'pods' : 'secrets';
  return `${root}/${resource}/namespace-${index % 64}/object-${index}`;
}

/** One object of that kind. */
export function valueOf(dataset: Dataset, index: number): Buffer {
  const bytes = new Bytes(index + 1);
  switch (dataset) {
    case 'json':
      return jsonPod(index, bytes);
    case 'protobuf':
      return protobufObject(index, bytes);
    case 'base64':
      return Buffer.from(
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `object-${index}`, namespace: `namespace-${index % 64}`, uid: bytes.hex(16) },
          data: { payload: bytes.fill(12 * 1024).toString('base64') },
          type: 'Opaque',
        }),
      );
    case 'random':
      return Buffer.concat([Buffer.from('k8s:enc:aescbc:v1:key1:'), bytes.fill(16 * 1024)]);
  }
}

function jsonPod(index: number, bytes: Bytes): Buffer {
  const app = `app-${index % 40}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-${bytes.hex(5)}-${bytes.hex(3)}`,
      namespace: `namespace-${index % 64}`,
      uid: bytes.hex(16),
      resourceVersion: String(100_000 + index),
      creationTimestamp: `2026-11-${String(1 + bytes.below(28)).padStart(2, '0')}T${String(bytes.below(24)).padStart(2, '0')}:${String(bytes.below(60)).padStart(2, '0')}:00Z`,
      labels: { app, 'pod-template-hash': bytes.hex(5) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${bytes.hex(5)}`, uid: bytes.hex(16), controller: true }],
      managedFields: ['kube-controller-manager', 'kubelet'].map((manager) => ({
        manager,
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-11-28T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:lastProbeTime': {}, 'f:status': {} } }, 'f:podIP': {} } },
      })),
    },
    spec: {
      containers: [
        {
          name: app,
          image: `registry.example.com/team-${index % 7}/${app}:v1.${bytes.below(30)}.${bytes.below(10)}`,
          env: Array.from({ length: 4 + bytes.below(8) }, (_, k) => ({ name: `SETTING_${k}`, value: bytes.hex(4 + bytes.below(12)) })),
          resources: { limits: { cpu: `${100 * (1 + bytes.below(9))}m`, memory: `${64 << bytes.below(5)}Mi` } },
        },
      ],
      nodeName: `node-${bytes.below(50)}`,
    },
    status: { phase: 'Running', podIP: `10.42.${bytes.below(256)}.${bytes.below(256)}`, startTime: '2026-11-28T00:00:00Z' },
  };
  return Buffer.from(JSON.stringify(pod));
}

/**
 * The same Pod as `json`, encoded as Kubernetes stores built-in resources: the `k8s\0` envelope
 * around protobuf messages, where field numbers replace the field names (so the repetitive
 * part shrinks and the identifiers, hashes and addresses weigh more), varints for numbers,
 * and managedFields' FieldsV1 kept as raw JSON bytes, as the API server does.
 */
function protobufObject(index: number, bytes: Bytes): Buffer {
  const pod = JSON.parse(jsonPod(index, bytes).toString()) as Record<string, unknown>;
  for (const fields of (pod.metadata as { managedFields: Array<{ fieldsV1: unknown }> }).managedFields) fields.fieldsV1 = JSON.stringify(fields.fieldsV1);
  return Buffer.concat([Buffer.from('k8s\0'), protobufMessage(pod)]);
}

function protobufMessage(message: Record<string, unknown>): Buffer {
  const parts: Buffer[] = [];
  Object.entries(message).forEach(([, value], position) => {
    const field = position + 1;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'number' || typeof item === 'boolean') parts.push(varint(field << 3), varint(Number(item)));
      else {
        const body = typeof item === 'string' ? Buffer.from(item) : protobufMessage(item as Record<string, unknown>);
        parts.push(varint((field << 3) | 2), varint(body.length), body);
      }
    }
  });
  return Buffer.concat(parts);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}


const PROTO = fileURLToPath(new URL('../../../test/support/etcd-kv.proto', import.meta.url));
const IN_FLIGHT = 4;

export interface EtcdTls {
  endpoint: string; // host:port
  ca: string;
  cert: string;
  key: string;
}

type PutClient = grpc.Client & {
  Put(request: { key: Buffer; value: Buffer }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
  Txn(request: { success: Array<{ request_put: { key: Buffer; value: Buffer } }> }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
};

/** Per transaction: well under etcd's default request limit (1.5 MiB) and operation limit (128). */
const BATCH_BYTES = 512 * 1024;
const BATCH_OPS = 100;

function putClient(tls: EtcdTls): PutClient {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const KV = (grpc.loadPackageDefinition(definition) as any).etcdserverpb.KV as grpc.ServiceClientConstructor;
  const credentials = grpc.credentials.createSsl(readFileSync(tls.ca), readFileSync(tls.key), readFileSync(tls.cert));
  return new KV(tls.endpoint, credentials, { 'grpc.max_send_message_length': 4 * 1024 * 1024 }) as unknown as PutClient;
}

/** Puts objects of `dataset` (keys below `root`) until `bytes` have been written, in batches (one transaction each); returns how many. */
export async function putObjects(tls: EtcdTls, dataset: Dataset, firstIndex: number, bytes: number, root?: string): Promise<number> {
  const client = putClient(tls);
  let index = firstIndex;
  let written = 0;
  const txn = (success: Array<{ request_put: { key: Buffer; value: Buffer } }>) =>
    new Promise<void>((resolve, reject) => {
      client.Txn({ success }, { deadline: Date.now() + 60_000 }, (error) => (error ? reject(error) : resolve()));
    });
  const worker = async () => {
    while (written < bytes) {
      const batch: Array<{ request_put: { key: Buffer; value: Buffer } }> = [];
      let batchBytes = 0;
      while (batch.length < BATCH_OPS && batchBytes < BATCH_BYTES && written + batchBytes < bytes) {
        const value = valueOf(dataset, index);
        const key = Buffer.from(keyOf(dataset, index, root));
        index++;
        batch.push({ request_put: { key, value } });
        batchBytes += key.length + value.length;
      }
      written += batchBytes;
      await txn(batch);
    }
  };
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  } finally {
    client.close();
  }
  return index - firstIndex;
}
