import path from 'node:path';
import { CONTAINER_KUBERNETES_DIR, CONTAINER_SSL_DIR } from '../model/paths.js';

/** Where a node keeps what the agent sees as /etc/kubernetes: `<prefix_path>/etc/kubernetes`. */
export function nodeKubernetesDir(prefixPath: string): string {
  return path.posix.join(prefixPath, CONTAINER_KUBERNETES_DIR);
}

/** The node's <prefix_path>/etc/kubernetes/ssl: the certificates the agent sees as /etc/kubernetes/ssl. */
export function nodeSslDir(prefixPath: string): string {
  return path.posix.join(prefixPath, CONTAINER_SSL_DIR);
}

/**
 * The agent names files as the container sees them; the operator looks for them on the
 * node. Rewrites container paths under /etc/kubernetes into the node's paths when
 * prefix_path moves that directory.
 */
export function withNodePaths(agentMessage: string, prefixPath: string): string {
  const nodeDir = nodeKubernetesDir(prefixPath);
  if (nodeDir === CONTAINER_KUBERNETES_DIR) return agentMessage;
  return agentMessage.replace(/(^|[\s'"(=])\/etc\/kubernetes(?=\/|$|[\s'"),:])/g, (_match, before: string) => `${before}${nodeDir}`);
}
