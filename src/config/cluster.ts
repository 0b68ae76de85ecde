import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { type Document, parseAllDocuments } from 'yaml';
import { OperatorError, messageOf } from '../errors.js';

/** One entry of `nodes:`. Paths have `~` expanded. */
export interface NodeConfig {
  address: string;
  port: number;
  /** `internal_address`, or `address` when absent: where etcd listens. */
  internalAddress: string;
  roles: string[];
  user: string;
  hostnameOverride?: string;
  dockerSocket: string;
  sshKey?: string;
  /** Undefined when the node has none: the consumer falls back to ClusterConfig.sshKeyPath. */
  sshKeyPath?: string;
  sshCert?: string;
  sshCertPath?: string;
  /** The node's `ssh_agent_auth` or the cluster's (RKE uses the cluster's for every node). */
  sshAgentAuth: boolean;
  /** "nodes[2] (10.0.0.3)" for messages */
  label: string;
  /** "nodes[2]": the node's path in cluster.yml, to name its fields in messages. */
  field: string;
}

export interface BastionConfig {
  address: string;
  port: number;
  user: string;
  sshKey?: string;
  /** Undefined when absent: the consumer falls back to ClusterConfig.sshKeyPath, as RKE does. */
  sshKeyPath?: string;
  sshCert?: string;
  sshCertPath?: string;
  sshAgentAuth: boolean;
}

export interface S3BackupConfig {
  accessKey?: string;
  secretKey?: string;
  bucketName?: string;
  region?: string;
  endpoint?: string;
  /** PEM text */
  customCa?: string;
  folder?: string;
}

export interface PrivateRegistry {
  url: string;
  user?: string;
  password?: string;
  isDefault: boolean;
  /** Whether `ecr_credential_plugin` is set (its keys are not read: not supported). */
  ecrCredentialPlugin: boolean;
}

export interface ClusterConfig {
  /** absolute */
  file: string;
  /** <file without extension>.rkestate, beside the file */
  stateFile: string;
  nodes: NodeConfig[];
  etcdNodes: NodeConfig[];
  /** ~ expanded; default ~/.ssh/id_rsa */
  sshKeyPath: string;
  sshCertPath?: string;
  sshAgentAuth: boolean;
  bastionHost?: BastionConfig;
  ignoreDockerVersion: boolean;
  kubernetesVersion?: string;
  /** default "/" */
  prefixPath: string;
  systemImages: Record<string, string>;
  privateRegistries: PrivateRegistry[];
  etcd: {
    extraEnv: string[];
    /** default 300 */
    backupTimeoutSeconds: number;
    s3?: S3BackupConfig;
  };
}

export const VALID_ROLES = ['etcd', 'controlplane', 'worker'] as const;

// RKE's defaults (rancher/rke cluster/defaults.go, docker/docker.go).
const DEFAULT_SSH_PORT = 22;
const DEFAULT_SSH_KEY_PATH = '~/.ssh/id_rsa';
const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const DEFAULT_PREFIX_PATH = '/';
const DEFAULT_BACKUP_TIMEOUT_SECONDS = 300;
const DEFAULT_REGISTRY_URL = 'docker.io';

/** Reads and parses a cluster file; errors name the path as the operator gave it. */
export async function loadClusterConfig(file: string): Promise<ClusterConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OperatorError(`cannot read cluster file ${file}: ${readFailure(error)}`, { cause: error });
  }
  return parseClusterConfig(text, file);
}

function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file (give another one with --config or RKE_CONFIG)';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return messageOf(error);
}

/**
 * Parses RKE's cluster.yml. `file` is used in messages as given and resolved to an
 * absolute path for ClusterConfig.file/stateFile. Unknown fields are ignored.
 */
export function parseClusterConfig(text: string, file: string, env: { home: string } = { home: homedir() }): ClusterConfig {
  const at = new Where(file);
  const root = parseYamlMapping(text, at);
  const clusterAgentAuth = readBoolean(root, 'ssh_agent_auth', at, false);
  const nodes = readNodes(root, at, { home: env.home, clusterAgentAuth });
  const absolute = path.resolve(file);
  return {
    file: absolute,
    stateFile: stateFilePath(absolute),
    nodes,
    etcdNodes: etcdNodesOf(nodes, at),
    sshKeyPath: expandHome(readString(root, 'ssh_key_path', at) ?? DEFAULT_SSH_KEY_PATH, env.home),
    sshCertPath: readPath(root, 'ssh_cert_path', at, env.home),
    sshAgentAuth: clusterAgentAuth,
    bastionHost: readBastion(root, at, { home: env.home, clusterAgentAuth }),
    ignoreDockerVersion: readBoolean(root, 'ignore_docker_version', at, false),
    kubernetesVersion: readKubernetesVersion(root, at),
    prefixPath: readString(root, 'prefix_path', at) ?? DEFAULT_PREFIX_PATH,
    systemImages: readStringMap(root, 'system_images', at),
    privateRegistries: readRegistries(root, at),
    etcd: readEtcd(root, at),
  };
}

/** RKE's GetStateFilePath: the config path with its extension replaced by ".rkestate". */
export function stateFilePath(configFile: string): string {
  const base = path.basename(configFile);
  // Go's filepath.Ext: from the last dot of the base name, even a leading one.
  const dot = base.lastIndexOf('.');
  const stem = dot >= 0 ? base.slice(0, dot) : base;
  return path.join(path.dirname(configFile), `${stem}.rkestate`);
}

// ---- where a value is, for messages ----

class Where {
  constructor(
    readonly file: string,
    readonly fieldPath = '',
    readonly node?: string,
  ) {}

  field(key: string): Where {
    return new Where(this.file, this.fieldPath === '' ? key : `${this.fieldPath}.${key}`, this.node);
  }

  index(i: number): Where {
    return new Where(this.file, `${this.fieldPath}[${i}]`, this.node);
  }

  forNode(address: string): Where {
    return new Where(this.file, this.fieldPath, address);
  }

  /** `<file>: <field>: <problem> (node <address>)[; <hint>]` */
  error(problem: string, hint?: string): OperatorError {
    const field = this.fieldPath === '' ? '' : ` ${this.fieldPath}:`;
    const node = this.node === undefined ? '' : ` (node ${this.node})`;
    return new OperatorError(`${this.file}:${field} ${problem}${node}${hint === undefined ? '' : `; ${hint}`}`);
  }
}

// ---- YAML ----

type Mapping = Record<string, unknown>;

function parseYamlMapping(text: string, at: Where): Mapping {
  // merge: yaml.v2, which RKE uses, honours `<<` merge keys.
  const documents: Document.Parsed[] = parseAllDocuments(text, { merge: true, prettyErrors: true });
  for (const document of documents) {
    const error = document.errors[0];
    if (error !== undefined) throw at.error(`is not valid YAML: ${firstLine(error.message)}`);
  }
  const content = documents.filter((document) => document.contents !== null);
  if (content.length > 1) throw at.error(`holds ${content.length} YAML documents (separated by "---"); expected one`);
  const value = toPlainValue(content[0], at);
  if (!isMapping(value)) throw at.error(`must be a YAML mapping of cluster settings, found ${describe(value)}`);
  return value;
}

/** Resolving aliases can fail too (unknown anchor, alias bomb); those have no line. */
function toPlainValue(document: Document.Parsed | undefined, at: Where): unknown {
  try {
    return document?.toJS({ maxAliasCount: 1000 }) ?? null;
  } catch (error) {
    throw at.error(`is not valid YAML: ${firstLine(messageOf(error))}`);
  }
}

/** The yaml library's message without its source excerpt: "... at line 3, column 5". */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:\s*$/, '');
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (isMapping(value)) return 'a mapping';
  if (typeof value === 'string') return `the text ${quoteText(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
}

const QUOTED_TEXT_MAX_CHARS = 60;
// JSON.stringify leaves DEL, C1 and line/paragraph separators raw; a terminal may act on them.
const UNSAFE_FOR_TERMINAL = /[\u007f-\u009f\u2028\u2029]/g;

function quoteText(text: string): string {
  const shown = text.length > QUOTED_TEXT_MAX_CHARS ? `${text.slice(0, QUOTED_TEXT_MAX_CHARS)}…` : text;
  return JSON.stringify(shown).replace(UNSAFE_FOR_TERMINAL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// ---- typed field readers: absent or null → undefined / the default ----

function readMapping(parent: Mapping, key: string, at: Where): Mapping | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isMapping(value)) throw at.field(key).error(`must be a mapping, found ${describe(value)}`);
  return value;
}

function readList(parent: Mapping, key: string, at: Where): unknown[] | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw at.field(key).error(`must be a list, found ${describe(value)}`);
  return value;
}

/** A scalar as text, as yaml.v2 fills a Go string field (`port: 22` is "22"); "" counts as absent. */
function readString(parent: Mapping, key: string, at: Where): string | undefined {
  return scalarText(parent[key], at.field(key));
}

function scalarText(value: unknown, at: Where): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw at.error(`must be text, found ${describe(value)}`);
}

/**
 * A host name or IP address (as RKE's `address`/`internal_address`). Whitespace, control
 * characters, slashes and the like would reach SSH, TLS and messages; refused here.
 */
function readHost(parent: Mapping, key: string, at: Where): string | undefined {
  const value = readString(parent, key, at);
  if (value === undefined) return undefined;
  if (value.length > HOST_MAX_CHARS || !HOST_PATTERN.test(value)) {
    throw at.field(key).error(`${quoteText(value)} is not a host name or IP address`);
  }
  return value;
}

function readRequiredHost(parent: Mapping, key: string, at: Where): string {
  const value = readHost(parent, key, at);
  if (value === undefined) throw at.field(key).error('is required');
  return value;
}

// Names, IPv4, IPv6 (with an optional %zone); 253 is DNS's limit for a name.
const HOST_PATTERN = /^[A-Za-z0-9_]([A-Za-z0-9._:%-]*[A-Za-z0-9_.])?$/;
const HOST_MAX_CHARS = 253;

/** A login name: what sshd would accept, nothing a terminal or a log could misread. */
function readUser(parent: Mapping, key: string, at: Where): string | undefined {
  const value = readString(parent, key, at);
  if (value !== undefined && (value.length > USER_MAX_CHARS || !USER_PATTERN.test(value))) {
    throw at.field(key).error(`${quoteText(value)} is not a user name`);
  }
  return value;
}

const USER_PATTERN = /^[A-Za-z0-9_.@-][A-Za-z0-9_.@$\\-]*$/;
const USER_MAX_CHARS = 256;

function readRequiredString(parent: Mapping, key: string, at: Where): string {
  const value = readString(parent, key, at);
  if (value === undefined || value.trim() === '') throw at.field(key).error('is required');
  return value;
}

function readPath(parent: Mapping, key: string, at: Where, home: string): string | undefined {
  const value = readString(parent, key, at);
  return value === undefined ? undefined : expandHome(value, home);
}

export function expandHome(file: string, home: string): string {
  if (file === '~') return home;
  if (file.startsWith('~/')) return path.join(home, file.slice(2));
  return file;
}

// YAML 1.1 spellings, which RKE's yaml.v2 reads as booleans.
const TRUE_WORDS = new Set(['true', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['false', 'no', 'n', 'off']);

function readBoolean(parent: Mapping, key: string, at: Where, fallback: boolean): boolean {
  const value = parent[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && TRUE_WORDS.has(value.toLowerCase())) return true;
  if (typeof value === 'string' && FALSE_WORDS.has(value.toLowerCase())) return false;
  throw at.field(key).error(`must be true or false, found ${describe(value)}`);
}

/** RKE keeps ports as text, so `port: "22"` is as good as `port: 22`. */
function readPort(parent: Mapping, key: string, at: Where): number {
  const value = parent[key];
  if (value === undefined || value === null || value === '') return DEFAULT_SSH_PORT;
  const port = typeof value === 'string' && /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw at.field(key).error('must be a number from 1 to 65535');
  }
  return port;
}

// ---- nodes ----

interface SshDefaults {
  home: string;
  clusterAgentAuth: boolean;
}

function readNodes(root: Mapping, at: Where, defaults: SshDefaults): NodeConfig[] {
  const entries = readList(root, 'nodes', at) ?? [];
  if (entries.length === 0) throw at.field('nodes').error('no nodes are listed', 'snapshot-save needs at least one etcd node');
  const nodes = entries.map((entry, i) => readNode(entry, at.field('nodes').index(i), i, defaults));
  rejectDuplicateAddresses(nodes, at);
  return nodes;
}

function readNode(entry: unknown, at: Where, index: number, defaults: SshDefaults): NodeConfig {
  if (!isMapping(entry)) throw at.error(`must be a mapping of node settings, found ${describe(entry)}`);
  const address = readRequiredHost(entry, 'address', at);
  const atNode = at.forNode(address);
  return {
    address,
    port: readPort(entry, 'port', atNode),
    internalAddress: readHost(entry, 'internal_address', atNode) ?? address,
    roles: readRoles(entry, atNode),
    user: readUser(entry, 'user', atNode) ?? readRequiredString(entry, 'user', atNode),
    hostnameOverride: readString(entry, 'hostname_override', atNode),
    dockerSocket: readString(entry, 'docker_socket', atNode) ?? DEFAULT_DOCKER_SOCKET,
    sshKey: readString(entry, 'ssh_key', atNode),
    sshKeyPath: readPath(entry, 'ssh_key_path', atNode, defaults.home),
    sshCert: readString(entry, 'ssh_cert', atNode),
    sshCertPath: readPath(entry, 'ssh_cert_path', atNode, defaults.home),
    sshAgentAuth: readBoolean(entry, 'ssh_agent_auth', atNode, false) || defaults.clusterAgentAuth,
    label: `nodes[${index}] (${address})`,
    field: `nodes[${index}]`,
  };
}

function readRoles(node: Mapping, at: Where): string[] {
  const where = at.field('role');
  const roles = node['role'];
  const hint = `list one or more of ${VALID_ROLES.join(', ')}, e.g. role: [etcd, controlplane]`;
  if (roles === undefined || roles === null || (Array.isArray(roles) && roles.length === 0)) throw where.error('is required', hint);
  if (!Array.isArray(roles)) throw where.error(`must be a list of roles, found ${describe(roles)}`, hint);
  return roles.map((role, i) => {
    if (typeof role !== 'string') throw where.index(i).error(`must be a role name, found ${describe(role)}`, hint);
    if (!(VALID_ROLES as readonly string[]).includes(role)) {
      throw where.error(`unknown role ${quoteText(role)}`, `valid roles are ${VALID_ROLES.join(', ')}`);
    }
    return role;
  });
}

function rejectDuplicateAddresses(nodes: NodeConfig[], at: Where): void {
  const firstIndex = new Map<string, number>();
  nodes.forEach((node, i) => {
    const earlier = firstIndex.get(node.address);
    if (earlier !== undefined) {
      throw at.field('nodes').index(i).field('address').error(`${node.address} is listed twice (also nodes[${earlier}])`);
    }
    firstIndex.set(node.address, i);
  });
}

function etcdNodesOf(nodes: NodeConfig[], at: Where): NodeConfig[] {
  const etcdNodes = nodes.filter((node) => node.roles.includes('etcd'));
  if (etcdNodes.length === 0) throw at.error('no node has the etcd role', 'snapshot-save needs at least one etcd node');
  return etcdNodes;
}

// ---- bastion, registries, etcd service ----

function readBastion(root: Mapping, at: Where, defaults: SshDefaults): BastionConfig | undefined {
  const bastion = readMapping(root, 'bastion_host', at);
  const where = at.field('bastion_host');
  // RKE uses a bastion only when its address is set.
  const address = bastion === undefined ? undefined : readHost(bastion, 'address', where);
  if (bastion === undefined || address === undefined) return undefined;
  const atBastion = where.forNode(address);
  const user = readUser(bastion, 'user', atBastion);
  if (user === undefined) throw atBastion.field('user').error('is required when bastion_host.address is set');
  return {
    address,
    port: readPort(bastion, 'port', atBastion),
    user,
    sshKey: readString(bastion, 'ssh_key', atBastion),
    sshKeyPath: readPath(bastion, 'ssh_key_path', atBastion, defaults.home),
    sshCert: readString(bastion, 'ssh_cert', atBastion),
    sshCertPath: readPath(bastion, 'ssh_cert_path', atBastion, defaults.home),
    sshAgentAuth: readBoolean(bastion, 'ssh_agent_auth', atBastion, false) || defaults.clusterAgentAuth,
  };
}

// go-semver's rules, which RKE applies to kubernetes_version (an optional "v" first).
const KUBERNETES_VERSION = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

function readKubernetesVersion(root: Mapping, at: Where): string | undefined {
  const version = readString(root, 'kubernetes_version', at);
  if (version !== undefined && !KUBERNETES_VERSION.test(version)) {
    throw at.field('kubernetes_version').error(`${quoteText(version)} is not a version like v1.28.15-rancher1-1`);
  }
  return version;
}

function readStringMap(root: Mapping, key: string, at: Where): Record<string, string> {
  const mapping = readMapping(root, key, at) ?? {};
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(mapping)) {
    const text = scalarText(value, at.field(key).field(name));
    if (text !== undefined) result[name] = text;
  }
  return result;
}

function readRegistries(root: Mapping, at: Where): PrivateRegistry[] {
  const entries = readList(root, 'private_registries', at) ?? [];
  return entries.map((entry, i) => {
    const where = at.field('private_registries').index(i);
    if (!isMapping(entry)) throw where.error(`must be a mapping with url, user and password, found ${describe(entry)}`);
    return {
      url: readString(entry, 'url', where) ?? DEFAULT_REGISTRY_URL,
      user: readString(entry, 'user', where),
      password: readString(entry, 'password', where),
      isDefault: readBoolean(entry, 'is_default', where, false),
      ecrCredentialPlugin: readMapping(entry, 'ecr_credential_plugin', where) !== undefined,
    };
  });
}

function readEtcd(root: Mapping, at: Where): ClusterConfig['etcd'] {
  const whereServices = at.field('services');
  const services = readMapping(root, 'services', at);
  const etcd = services === undefined ? undefined : readMapping(services, 'etcd', whereServices);
  const whereEtcd = whereServices.field('etcd');
  const backup = etcd === undefined ? undefined : readMapping(etcd, 'backup_config', whereEtcd);
  const whereBackup = whereEtcd.field('backup_config');
  return {
    extraEnv: etcd === undefined ? [] : readExtraEnv(etcd, whereEtcd),
    backupTimeoutSeconds: backup === undefined ? DEFAULT_BACKUP_TIMEOUT_SECONDS : readTimeout(backup, whereBackup),
    s3: backup === undefined ? undefined : readS3(backup, whereBackup),
  };
}

function readExtraEnv(etcd: Mapping, at: Where): string[] {
  const entries = readList(etcd, 'extra_env', at) ?? [];
  return entries.map((entry, i) => {
    const where = at.field('extra_env').index(i);
    if (typeof entry !== 'string') throw where.error(`must be a KEY=VALUE string, found ${describe(entry)}`);
    // The value may be a secret: name only the key, never the text.
    if (!/^[^=]+=/.test(entry)) throw where.error('must be KEY=VALUE with a name before "="');
    return entry;
  });
}

/** RKE treats 0 (and absence) as "use the default". */
function readTimeout(backup: Mapping, at: Where): number {
  const value = backup['timeout'];
  if (value === undefined || value === null || value === 0 || value === '0') return DEFAULT_BACKUP_TIMEOUT_SECONDS;
  const seconds = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 1) {
    throw at.field('timeout').error(`must be a whole number of seconds greater than 0, found ${describe(value)}`);
  }
  return seconds;
}

function readS3(backup: Mapping, at: Where): S3BackupConfig | undefined {
  // RKE's Go field has no yaml name, so yaml.v2 reads the lower-cased field name.
  const s3 = readMapping(backup, 's3backupconfig', at);
  if (s3 === undefined) return undefined;
  const where = at.field('s3backupconfig');
  return {
    accessKey: readString(s3, 'access_key', where),
    secretKey: readString(s3, 'secret_key', where),
    bucketName: readString(s3, 'bucket_name', where),
    region: readString(s3, 'region', where),
    endpoint: readString(s3, 'endpoint', where),
    customCa: readString(s3, 'custom_ca', where),
    folder: readString(s3, 'folder', where),
  };
}
