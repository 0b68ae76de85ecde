import { readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { OperatorError, messageOf } from '../errors.js';
import { CertificateError, certificateProblem, parseCertificate, type SshCertificate } from './certificate.js';

/** How to authenticate to one host. `description` names the source in messages, never the key. */
export type SshCredentials =
  | { kind: 'key'; privateKey: Buffer; description: string; certificate?: LoadedCertificate }
  | { kind: 'agent'; agentSocket: string; description: string };

/** An OpenSSH user certificate for the key, checked against it. */
export interface LoadedCertificate {
  certificate: SshCertificate;
  /** "certificate /root/.ssh/id-cert.pub (nodes[0].ssh_cert_path)" */
  description: string;
}

/** Where the certificate for a key comes from. */
export type CertificateSource = { kind: 'inline-cert'; text: string; field: string } | { kind: 'cert-file'; path: string; field: string };

/** Where a host's credentials come from, decided from cluster.yml and flags alone. */
export type CredentialSource =
  | { kind: 'agent' }
  | { kind: 'inline-key'; key: string; field: string; certificate?: CertificateSource }
  | { kind: 'key-file'; path: string; field: string; certificate?: CertificateSource };

/** A node's, or the bastion's, own SSH settings. */
export interface NodeSshSettings {
  sshKey?: string;
  sshKeyPath?: string;
  sshCert?: string;
  sshCertPath?: string;
  sshAgentAuth: boolean;
  /** e.g. "nodes[0]" or "bastion_host", used to name the field in messages. */
  fieldPrefix: string;
}

export interface ClusterSshSettings {
  sshKeyPath: string;
  sshCertPath?: string;
  sshAgentAuth: boolean;
}

/**
 * RKE's order: the agent when asked for anywhere (certificates are then not used), else
 * the host's inline key, its key path, the cluster's key path; with it the host's
 * inline certificate, its certificate path, else the cluster's `ssh_cert_path`.
 */
export function chooseCredentialSource(
  node: NodeSshSettings,
  cluster: ClusterSshSettings,
  agentAuthFlag: boolean,
): CredentialSource {
  if (agentAuthFlag || cluster.sshAgentAuth || node.sshAgentAuth) return { kind: 'agent' };
  const certificate = chooseCertificate(node, cluster);
  const withCertificate = certificate === undefined ? {} : { certificate };
  if (node.sshKey !== undefined && node.sshKey.trim() !== '') {
    return { kind: 'inline-key', key: node.sshKey, field: `${node.fieldPrefix}.ssh_key`, ...withCertificate };
  }
  if (node.sshKeyPath !== undefined && node.sshKeyPath !== '') {
    return { kind: 'key-file', path: node.sshKeyPath, field: `${node.fieldPrefix}.ssh_key_path`, ...withCertificate };
  }
  return { kind: 'key-file', path: cluster.sshKeyPath, field: 'ssh_key_path', ...withCertificate };
}

function chooseCertificate(node: NodeSshSettings, cluster: ClusterSshSettings): CertificateSource | undefined {
  if (node.sshCert !== undefined && node.sshCert.trim() !== '') {
    return { kind: 'inline-cert', text: node.sshCert, field: `${node.fieldPrefix}.ssh_cert` };
  }
  if (node.sshCertPath !== undefined && node.sshCertPath !== '') {
    return { kind: 'cert-file', path: node.sshCertPath, field: `${node.fieldPrefix}.ssh_cert_path` };
  }
  if (cluster.sshCertPath !== undefined && cluster.sshCertPath !== '') {
    return { kind: 'cert-file', path: cluster.sshCertPath, field: 'ssh_cert_path' };
  }
  return undefined;
}

export async function loadCredentials(
  source: CredentialSource,
  env: { SSH_AUTH_SOCK?: string } = process.env,
  now: () => number = Date.now,
): Promise<SshCredentials> {
  switch (source.kind) {
    case 'agent': {
      const socket = env.SSH_AUTH_SOCK;
      if (socket === undefined || socket === '') {
        throw new OperatorError('--ssh-agent-auth: SSH_AUTH_SOCK is not set; start ssh-agent and add your key (ssh-add)');
      }
      await checkAgentSocket(socket);
      return { kind: 'agent', agentSocket: socket, description: `the ssh-agent at ${socket}` };
    }
    case 'inline-key':
    case 'key-file': {
      const key = source.kind === 'inline-key' ? checkedKey(Buffer.from(source.key), `the inline key in ${source.field}`) : await readKeyFile(source);
      if (source.certificate === undefined) return key;
      return { ...key, certificate: await loadCertificate(source.certificate, key, now() / 1000) };
    }
  }
}

async function readKeyFile(source: { path: string; field: string }): Promise<SshCredentials & { kind: 'key' }> {
  let key: Buffer;
  try {
    key = await readFile(source.path);
  } catch (error) {
    throw new OperatorError(`cannot read ssh key ${source.path} (${source.field}): ${messageOf(error)}`);
  }
  return checkedKey(key, `key ${source.path} (${source.field})`);
}

/** Read, parse and check the certificate against its key and the clock: each problem is its own message. */
async function loadCertificate(
  source: CertificateSource,
  key: SshCredentials & { kind: 'key' },
  nowSeconds: number,
): Promise<LoadedCertificate> {
  let text: string;
  let description: string;
  if (source.kind === 'inline-cert') {
    text = source.text;
    description = `the inline certificate in ${source.field}`;
  } else {
    description = `certificate ${source.path} (${source.field})`;
    try {
      text = await readFile(source.path, 'utf8');
    } catch (error) {
      throw new OperatorError(`cannot read ssh ${description}: ${messageOf(error)}`);
    }
  }
  let certificate: SshCertificate;
  try {
    certificate = parseCertificate(text);
  } catch (error) {
    if (error instanceof CertificateError) throw new OperatorError(`ssh ${description} ${error.message}`);
    throw error;
  }
  const parsedKey = ssh2.utils.parseKey(key.privateKey);
  if (parsedKey instanceof Error) throw new OperatorError(`ssh ${key.description} is not a private key ssh can use`);
  const problem = certificateProblem(certificate, parsedKey.getPublicSSH(), nowSeconds);
  if (problem !== undefined) throw new OperatorError(`ssh ${description} ${problem} (key: ${key.description})`);
  return { certificate, description };
}

/** A dead agent otherwise surfaces as an obscure connect error on every node. */
async function checkAgentSocket(socket: string): Promise<void> {
  const dead = (why: string) =>
    new OperatorError(`--ssh-agent-auth: SSH_AUTH_SOCK=${socket} ${why}; is ssh-agent running? (eval "$(ssh-agent)" && ssh-add)`);
  let info;
  try {
    info = await stat(socket);
  } catch {
    throw dead('does not exist');
  }
  if (!info.isSocket()) throw dead('is not a socket');
}

/** Parse the key now, so that a bad or encrypted key is a clear message, not a handshake failure. */
function checkedKey(privateKey: Buffer, description: string): SshCredentials & { kind: 'key' } {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) {
    if (/encrypted/i.test(parsed.message) || /passphrase/i.test(parsed.message)) {
      throw new OperatorError(
        `ssh ${description} is encrypted with a passphrase: add it to ssh-agent (ssh-add) and pass --ssh-agent-auth`,
      );
    }
    throw new OperatorError(`ssh ${description} is not a private key ssh can use: ${messageOf(parsed)}`);
  }
  return { kind: 'key', privateKey, description };
}

/**
 * Certificate fields that will not be used because the agent authenticates that host
 * (RKE ignores them the same way), for one warning before the run.
 */
export function certificatesIgnoredForAgent(hosts: NodeSshSettings[], cluster: ClusterSshSettings, agentAuthFlag: boolean): string[] {
  const ignored: string[] = [];
  for (const host of hosts) {
    if (chooseCredentialSource(host, cluster, agentAuthFlag).kind !== 'agent') continue;
    if (host.sshCert !== undefined && host.sshCert.trim() !== '') ignored.push(`${host.fieldPrefix}.ssh_cert`);
    if (host.sshCertPath !== undefined && host.sshCertPath !== '') ignored.push(`${host.fieldPrefix}.ssh_cert_path`);
  }
  const agentForAll = agentAuthFlag || cluster.sshAgentAuth;
  if (agentForAll && cluster.sshCertPath !== undefined && cluster.sshCertPath !== '') ignored.unshift('ssh_cert_path');
  return ignored;
}
