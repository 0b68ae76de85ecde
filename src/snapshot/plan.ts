/**
 * `snapshot-save --dry-run`: what a run would do, worked out from cluster.yml and the
 * flags alone. Nothing here touches a node, a registry or S3, and no secret is shown:
 * credentials are named by where they come from.
 */
import { COMPRESSION_DESCRIPTIONS, COMPRESSION_LEVELS, type CompressionMode } from '../model/compression.js';
import path from 'node:path';
import { NODE_SNAPSHOT_DIR, PKI_BUNDLE_FILE_NAME } from '../model/paths.js';
import type { ClusterConfig } from '../config/cluster.js';
import type { ImageSource } from '../docker/image.js';
import { IMAGE_PLATFORMS, type ImagePlatform } from '../docker/platform.js';
import { pkiBundleObjectKey, snapshotObjectKey } from '../s3/key.js';
import type { S3Settings } from '../s3/settings.js';
import { AGE_SUFFIX, describeProtection } from '../s3/protection.js';
import { chooseCredentialSource, type CredentialSource } from '../ssh/credentials.js';
import { nodeKubernetesDir } from './node-paths.js';
import type { RuntimeName } from './result.js';

export interface SavePlanRequest {
  cluster: ClusterConfig;
  clusterFile: string;
  name: string;
  /** Absent with --runtime ssh (no container). */
  image?: ImageSource;
  imageContract: string;
  sshAgentAuth: boolean;
  concurrency: number;
  overwrite: boolean;
  pkiBundle: boolean;
  compression: CompressionMode;
  s3?: S3Settings;
  /** --runtime; absent: docker. */
  runtime?: RuntimeName;
}

export interface SavePlan {
  schemaVersion: 1;
  command: 'snapshot-save';
  dryRun: true;
  name: string;
  clusterFile: string;
  stateFile: string;
  /** Absent with --runtime ssh. */
  image?: {
    /** The registry image; for the bundled agent, the linux/amd64 image's tag (see `platforms`). */
    reference: string;
    source: 'bundled' | 'registry';
    contract: string;
    login?: string;
    /** Bundled: the image per node architecture; each node gets the one for its engine's `docker info` Architecture. */
    platforms?: Partial<Record<ImagePlatform, string>>;
  };
  concurrency: number;
  snapshotTimeoutSeconds: number;
  overwrite: boolean;
  /** --compression: the zlib level of the snapshot entry (absent for `auto`, which chooses per block), and the method in words. */
  compression: { mode: CompressionMode; zlibLevel?: number; method: string };
  /** docker: the agent in a container on each node; ssh: agentless (etcd through an SSH tunnel, SFTP). */
  runtime: RuntimeName;
  bastion?: { address: string; port: number; user: string; credentials: string };
  nodes: PlannedNode[];
  s3?: PlannedUpload;
}

export interface PlannedNode {
  address: string;
  hostnameOverride?: string;
  ssh: string;
  credentials: string;
  dockerSocket: string;
  /** The image this node's engine would run (absent with --runtime ssh). */
  image?: string;
  etcdEndpoint: string;
  kubernetesDir: string;
  file: string;
  pkiBundle?: string;
}

export interface PlannedUpload {
  endpoint: string;
  bucket: string;
  region?: string;
  key: string;
  pkiBundleKey?: string;
  credentials: string;
  customCa: boolean;
  /** SPEC §7, as asked for (never the SSE-C key): e.g. "SSE aws:kms (key k)", "age for 2 recipient(s)". */
  protection?: string[];
}

export function planSave(request: SavePlanRequest): SavePlan {
  const { cluster } = request;
  const clusterSsh = { sshKeyPath: cluster.sshKeyPath, sshAgentAuth: cluster.sshAgentAuth, ...(cluster.sshCertPath ? { sshCertPath: cluster.sshCertPath } : {}) };
  const credentialsOf = (host: Parameters<typeof chooseCredentialSource>[0]) =>
    describeCredentialSource(chooseCredentialSource(host, clusterSsh, request.sshAgentAuth));
  const bastion = cluster.bastionHost;
  return {
    schemaVersion: 1,
    command: 'snapshot-save',
    dryRun: true,
    name: request.name,
    clusterFile: request.clusterFile,
    stateFile: cluster.stateFile,
    ...(request.image ? { image: describeImage(request.image, request.imageContract) } : {}),
    concurrency: request.concurrency,
    snapshotTimeoutSeconds: cluster.etcd.backupTimeoutSeconds,
    overwrite: request.overwrite,
    compression: describeCompression(request.compression),
    runtime: request.runtime ?? 'docker',
    ...(bastion
      ? { bastion: { address: bastion.address, port: bastion.port, user: bastion.user, credentials: credentialsOf({ ...bastion, fieldPrefix: 'bastion_host' }) } }
      : {}),
    nodes: cluster.etcdNodes.map((node) => ({
      address: node.address,
      ...(node.hostnameOverride ? { hostnameOverride: node.hostnameOverride } : {}),
      ssh: `${node.user}@${node.address}:${node.port}${bastion ? ` through bastion ${bastion.address}` : ''}`,
      credentials: credentialsOf({ ...node, fieldPrefix: node.field }),
      dockerSocket: node.dockerSocket,
      ...(request.image ? { image: nodeImage(request.image) } : {}),
      etcdEndpoint: `https://${node.internalAddress}:2379`,
      kubernetesDir: nodeKubernetesDir(cluster.prefixPath),
      file: path.posix.join(NODE_SNAPSHOT_DIR, `${request.name}.zip`),
      ...(request.pkiBundle ? { pkiBundle: path.posix.join(NODE_SNAPSHOT_DIR, PKI_BUNDLE_FILE_NAME) } : {}),
    })),
    ...(request.s3 ? { s3: planUpload(request.s3, request.name, request.pkiBundle, request.runtime ?? 'docker') } : {}),
  };
}

function planUpload(s3: S3Settings, name: string, pkiBundle: boolean, runtime: RuntimeName): PlannedUpload {
  return {
    endpoint: s3.endpoint,
    bucket: s3.bucketName,
    ...(s3.region ? { region: s3.region } : {}),
    key: snapshotObjectKey(s3.folder, name) + (s3.protection?.recipients ? AGE_SUFFIX : ''),
    ...(pkiBundle ? { pkiBundleKey: pkiBundleObjectKey(s3.folder, name) } : {}),
    credentials: s3.credentials
      ? 'static keys (from the flags or s3backupconfig)'
      : runtime === 'ssh'
        ? "this machine's default AWS credential chain (--runtime ssh uploads from here)"
        : "the uploading node's default AWS credential chain (instance metadata / IAM role)",
    customCa: s3.customCa !== undefined,
    ...(s3.protection || s3.sseCustomerKey ? { protection: describeProtection(s3.protection, s3.sseCustomerKey !== undefined) } : {}),
  };
}

function describeImage(image: ImageSource, contract: string): SavePlan['image'] {
  if (image.kind === 'bundled') {
    const platforms: Partial<Record<ImagePlatform, string>> = {};
    for (const platform of IMAGE_PLATFORMS) {
      const tag = image.images[platform]?.tag;
      if (tag !== undefined) platforms[platform] = tag;
    }
    const reference = platforms.amd64 ?? Object.values(platforms)[0] ?? '';
    return { reference, source: 'bundled', contract: contract === 'auto' ? 'native' : contract, platforms };
  }
  return {
    reference: image.image.reference,
    source: 'registry',
    contract,
    ...(image.image.registry ? { login: image.image.registry.field } : {}),
  };
}

/** What one node's engine would run: the registry image, or the bundled image for its architecture, read when the run connects. */
function nodeImage(image: ImageSource): string {
  if (image.kind === 'registry') return image.image.reference;
  const choices = IMAGE_PLATFORMS.flatMap((platform) => {
    const tag = image.images[platform]?.tag;
    return tag === undefined ? [] : [`${tag} if its engine is linux/${platform}`];
  });
  return `${choices.join(', ')} (docker info's Architecture; any other is refused)`;
}

/** Where a host's SSH credentials come from, never what they are. */
export function describeCredentialSource(source: CredentialSource): string {
  if (source.kind === 'agent') return 'the ssh-agent (SSH_AUTH_SOCK)';
  const key = source.kind === 'inline-key' ? `the inline key in ${source.field}` : `key file ${source.path} (${source.field})`;
  if (source.certificate === undefined) return key;
  const certificate =
    source.certificate.kind === 'inline-cert' ? `the inline certificate in ${source.certificate.field}` : `certificate ${source.certificate.path} (${source.certificate.field})`;
  return `${key} with ${certificate}`;
}

function describeCompression(mode: CompressionMode): SavePlan['compression'] {
  const level = COMPRESSION_LEVELS[mode];
  return { mode, ...(level === 'auto' ? {} : { zlibLevel: level }), method: COMPRESSION_DESCRIPTIONS[mode] };
}

/** The plan as text for a terminal. */
export function formatPlan(plan: SavePlan): string {
  const lines = [
    `Dry run: nothing was contacted and nothing was written.`,
    `snapshot ${plan.name} from ${plan.clusterFile} (state file ${plan.stateFile})`,
    plan.image === undefined
      ? 'runtime ssh: no container; etcd through an SSH tunnel, the zip written over SFTP, any upload from this machine'
      : `image ${plan.image.platforms ? Object.entries(plan.image.platforms).map(([platform, tag]) => `${tag} (linux/${platform})`).join(', ') : plan.image.reference} (${plan.image.source}, ${plan.image.contract} contract${plan.image.login ? `, login from ${plan.image.login}` : ''})`,
    `${plan.nodes.length} etcd node(s), ${plan.concurrency} at a time, each within ${plan.snapshotTimeoutSeconds} s${plan.overwrite ? '; an existing file is replaced' : ''}`,
    `compression ${plan.compression.mode} (${plan.compression.method})`,
  ];
  if (plan.bastion) lines.push(`through bastion ${plan.bastion.user}@${plan.bastion.address}:${plan.bastion.port} with ${plan.bastion.credentials}`);
  for (const node of plan.nodes) {
    const name = node.hostnameOverride ? `${node.address} (${node.hostnameOverride})` : node.address;
    const docker = plan.runtime === 'ssh' ? '' : `; docker ${node.dockerSocket}`;
    lines.push(`  ${name}: ssh ${node.ssh} with ${node.credentials}${docker}; etcd ${node.etcdEndpoint}; certificates ${node.kubernetesDir}/ssl`);
    if (node.image !== undefined) lines.push(`    image ${node.image}`);
    lines.push(`    writes ${node.file}${node.pkiBundle ? ` and ${node.pkiBundle}` : ''}`);
  }
  if (plan.s3) {
    const region = plan.s3.region ? `, region ${plan.s3.region}` : '';
    lines.push(`one copy to s3://${plan.s3.bucket}/${plan.s3.key} at ${plan.s3.endpoint}${region}, with ${plan.s3.credentials}${plan.s3.customCa ? ', custom CA' : ''}`);
    if (plan.s3.pkiBundleKey) lines.push(`  and the PKI bundle to s3://${plan.s3.bucket}/${plan.s3.pkiBundleKey}`);
    if (plan.s3.protection?.length) lines.push(`  protected by: ${plan.s3.protection.join(', ')}`);
  }
  return lines.join('\n');
}
