import { readFile } from 'node:fs/promises';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { OperatorError, messageOf } from '../errors.js';
import { parseEtcdEndpoint, type EtcdEndpoint } from './endpoint.js';
import type { RangeRequest, RangeResponse, SnapshotResponse, StatusResponse } from './messages.js';
import { etcdServices } from './proto.js';

/** Paths of the PEM files the client authenticates with (RKE: kube-ca.pem, kube-node.pem, kube-node-key.pem). */
export interface EtcdTlsFiles {
  cacert: string;
  cert: string;
  key: string;
}

type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Response) => void,
) => grpc.ClientUnaryCall;

type StreamMethod<Request, Response> = (request: Request, options: grpc.CallOptions) => grpc.ClientReadableStream<Response>;

interface KVStub extends grpc.Client {
  Range: UnaryMethod<RangeRequest, RangeResponse>;
}

interface MaintenanceStub extends grpc.Client {
  Status: UnaryMethod<Record<string, never>, StatusResponse>;
  Snapshot: StreamMethod<Record<string, never>, SnapshotResponse>;
}

/**
 * HTTP/2's default 64 KiB flow-control window lets etcd send two of its 32 KiB snapshot
 * chunks before it must wait for our WINDOW_UPDATE; a larger window keeps the stream
 * going while the agent deflates (the bytes in flight stay bounded by the window).
 */
const CHANNEL_OPTIONS = { 'grpc-node.flow_control_window': 4 * 1024 * 1024 };

/** One TLS connection to one etcd member. Every call takes a deadline; close() when done. */
export class EtcdClient {
  readonly endpoint: EtcdEndpoint;
  readonly #kv: KVStub;
  readonly #maintenance: MaintenanceStub;

  /** `target`: where the gRPC channel connects (default the endpoint's host:port; a tunnel's `unix:` socket). */
  constructor(endpoint: EtcdEndpoint, credentials: grpc.ChannelCredentials, target = endpoint.target, options: grpc.ChannelOptions = {}) {
    this.endpoint = endpoint;
    const { KV, Maintenance } = etcdServices();
    this.#kv = new KV(target, credentials, { ...CHANNEL_OPTIONS, ...options }) as unknown as KVStub;
    // Share the KV client's channel rather than opening a second connection.
    this.#maintenance = new Maintenance(target, credentials, {
      channelOverride: this.#kv.getChannel(),
    }) as unknown as MaintenanceStub;
  }

  range(request: RangeRequest, deadlineMs: number, signal?: AbortSignal): Promise<RangeResponse> {
    return unary(this.#kv, this.#kv.Range, request, deadlineMs, signal);
  }

  status(deadlineMs: number, signal?: AbortSignal): Promise<StatusResponse> {
    return unary(this.#maintenance, this.#maintenance.Status, {}, deadlineMs, signal);
  }

  /** The raw server stream; see snapshotStream() for bytes with an idle timeout. */
  snapshotCall(): grpc.ClientReadableStream<SnapshotResponse> {
    return this.#maintenance.Snapshot.call(this.#maintenance, {}, {});
  }

  /** Closes the one shared channel. */
  close(): void {
    this.#kv.close();
  }
}

function unary<Request, Response>(
  stub: grpc.Client,
  method: UnaryMethod<Request, Response>,
  request: Request,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const call = method.call(stub, request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => {
      signal?.removeEventListener('abort', cancel);
      if (error !== null) reject(error);
      else resolve(response as Response);
    });
    const cancel = () => call.cancel();
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
  });
}

export async function connectEtcd(url: string, files: EtcdTlsFiles): Promise<EtcdClient> {
  const endpoint = parseEtcdEndpoint(url);
  const [ca, cert, key] = await Promise.all([
    readPem(files.cacert, 'CA certificate'),
    readPem(files.cert, 'client certificate'),
    readPem(files.key, 'client key'),
  ]);
  return createEtcdClient(endpoint, { ca, cert, key }, { filesForMessages: `${files.cacert}, ${files.cert}, ${files.key}` });
}

/** The PEM contents (never written anywhere: the key stays in this process's memory). */
export interface EtcdTlsPems {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface EtcdClientOptions {
  /** How the PEMs are named in errors (paths; never their contents). */
  filesForMessages: string;
  /**
   * A gRPC target that carries the bytes to the endpoint (a local tunnel, `unix:/path`).
   * The server's certificate is still checked against the endpoint's host, as if
   * connected to it directly.
   */
  via?: string;
}

export function createEtcdClient(endpoint: EtcdEndpoint, pems: EtcdTlsPems, options: EtcdClientOptions): EtcdClient {
  const host = endpointHost(endpoint);
  let credentials: grpc.ChannelCredentials;
  try {
    credentials = grpc.credentials.createSsl(
      pems.ca,
      pems.key,
      pems.cert,
      options.via === undefined ? {} : { checkServerIdentity: (_servername: string, peer: PeerCertificate) => checkServerIdentity(host, peer) },
    );
  } catch (error) {
    throw new OperatorError(`cannot use the etcd TLS files ${options.filesForMessages}: ${messageOf(error)}`);
  }
  if (options.via === undefined) return new EtcdClient(endpoint, credentials);
  return new EtcdClient(endpoint, credentials, options.via, { 'grpc.default_authority': endpoint.target });
}

/** The endpoint's host as its certificate names it (an IPv6 address without brackets). */
export function endpointHost(endpoint: EtcdEndpoint): string {
  return new URL(endpoint.url).hostname.replace(/^\[(.*)\]$/, '$1');
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? messageOf(error);
    throw new OperatorError(`cannot read the etcd ${what} ${path}: ${code}`);
  }
}
