/**
 * A steady client of one etcd member, as the bench uses it to see what a snapshot does to
 * etcd's request latency: a small put (through raft) then a serializable get (the member
 * alone), every INTERVAL_MS, each timed, until stopped.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { EtcdTls } from '../test/support/cluster-data.js';

const PROTO = fileURLToPath(new URL('../../test/support/etcd-kv.proto', import.meta.url));
const INTERVAL_MS = 20;
const VALUE = Buffer.alloc(100, 'x');

type KvClient = grpc.Client & {
  Put(request: { key: Buffer; value: Buffer }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
  Range(request: { key: Buffer; serializable: boolean }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): void;
};

export interface LatencySamples {
  /** Milliseconds per request. */
  puts: number[];
  gets: number[];
  errors: number;
}

export interface LatencyProbe {
  /** Stops the loop after its current request; resolves with what it measured. */
  stop(): Promise<LatencySamples>;
}

export function startLatencyProbe(tls: EtcdTls): LatencyProbe {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const KV = (grpc.loadPackageDefinition(definition) as any).etcdserverpb.KV as grpc.ServiceClientConstructor;
  const credentials = grpc.credentials.createSsl(readFileSync(tls.ca), readFileSync(tls.key), readFileSync(tls.cert));
  const client = new KV(tls.endpoint, credentials) as unknown as KvClient;
  const samples: LatencySamples = { puts: [], gets: [], errors: 0 };
  const key = Buffer.from('/bench/latency-probe');
  let stopping = false;
  const timed = (call: (done: (error: grpc.ServiceError | null) => void) => void, into: number[]) =>
    new Promise<void>((resolve) => {
      const started = process.hrtime.bigint();
      call((error) => {
        if (error) samples.errors++;
        else into.push(Number(process.hrtime.bigint() - started) / 1e6);
        resolve();
      });
    });
  const loop = (async () => {
    while (!stopping) {
      const next = Date.now() + INTERVAL_MS;
      const deadline = { deadline: Date.now() + 10_000 };
      await timed((done) => client.Put({ key, value: VALUE }, deadline, done), samples.puts);
      await timed((done) => client.Range({ key, serializable: true }, deadline, done), samples.gets);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      client.close();
      return samples;
    },
  };
}
