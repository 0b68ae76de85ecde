import { OperatorError } from '../errors.js';

/**
 * An etcd client URL as the CLI passes it (`https://10.0.0.1:2379`), and the gRPC
 * target it maps to (`10.0.0.1:2379`; IPv6 keeps its brackets).
 */
export interface EtcdEndpoint {
  url: string;
  target: string;
}

export function parseEtcdEndpoint(url: string): EtcdEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OperatorError(`etcd endpoint ${JSON.stringify(url)} is not a URL (expected https://HOST:PORT)`);
  }
  if (parsed.protocol !== 'https:') {
    throw new OperatorError(`etcd endpoint ${url} must use https:// (the agent authenticates with client certificates)`);
  }
  if (parsed.pathname !== '/' && parsed.pathname !== '') {
    throw new OperatorError(`etcd endpoint ${url} must not have a path`);
  }
  const port = parsed.port === '' ? '2379' : parsed.port;
  return { url, target: `${parsed.hostname}:${port}` };
}
