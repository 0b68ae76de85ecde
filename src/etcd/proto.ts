import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ETCD_PROTO_FILE = 'etcd.proto';

/**
 * Where etcd.proto is at run time: beside this module in the bundled agent image, or
 * in the source tree when running from tsc's dist/ (tsc does not copy .proto files).
 */
export function etcdProtoPath(): string {
  const candidates = [
    new URL(`./${ETCD_PROTO_FILE}`, import.meta.url),
    new URL(`../../../src/etcd/${ETCD_PROTO_FILE}`, import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) throw new Error(`${ETCD_PROTO_FILE} not found (looked in ${candidates.join(', ')})`);
  return found;
}

export interface EtcdServices {
  KV: grpc.ServiceClientConstructor;
  Maintenance: grpc.ServiceClientConstructor;
}

let services: EtcdServices | undefined;

export function etcdServices(): EtcdServices {
  if (services !== undefined) return services;
  const definition = protoLoader.loadSync(etcdProtoPath(), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { etcdserverpb: EtcdServices };
  services = loaded.etcdserverpb;
  return services;
}
