/**
 * Where snapshots live on a node, and where the agent's container sees the node's
 * directories (the binds the CLI makes; the agent relies on them).
 */

/** Where the node keeps snapshots (RKE's fixed path). */
export const NODE_SNAPSHOT_DIR = '/opt/rke/etcd-snapshots';

/** `--pki-bundle`: RKE v0.1.x's certificate bundle beside the snapshots (one per node, replaced on every run). */
export const PKI_BUNDLE_FILE_NAME = 'pki.bundle.tar.gz';

/** Where the container sees the node's directories. */
export const CONTAINER_BACKUP_DIR = '/backup';
export const CONTAINER_KUBERNETES_DIR = '/etc/kubernetes';
export const CONTAINER_SSL_DIR = '/etc/kubernetes/ssl';
