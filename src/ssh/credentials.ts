import { readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { OperatorError, messageOf } from '../errors.js';

/** How to authenticate to one node. `description` names the source in messages, never the key. */
export type SshCredentials =
  | { kind: 'key'; privateKey: Buffer; description: string }
  | { kind: 'agent'; agentSocket: string; description: string };

/** Where a node's credentials come from, decided from cluster.yml and flags alone. */
export type CredentialSource =
  | { kind: 'agent' }
  | { kind: 'inline-key'; key: string; field: string }
  | { kind: 'key-file'; path: string; field: string };

export interface NodeSshSettings {
  sshKey?: string;
  sshKeyPath?: string;
  sshAgentAuth: boolean;
  /** e.g. "nodes[0]", used to name the field in messages. */
  fieldPrefix: string;
}

export interface ClusterSshSettings {
  sshKeyPath: string;
  sshAgentAuth: boolean;
}

/** RKE's order: the agent when asked for anywhere, else the node's inline key, its key path, the cluster's key path. */
export function chooseCredentialSource(
  node: NodeSshSettings,
  cluster: ClusterSshSettings,
  agentAuthFlag: boolean,
): CredentialSource {
  if (agentAuthFlag || cluster.sshAgentAuth || node.sshAgentAuth) return { kind: 'agent' };
  if (node.sshKey !== undefined && node.sshKey.trim() !== '') {
    return { kind: 'inline-key', key: node.sshKey, field: `${node.fieldPrefix}.ssh_key` };
  }
  if (node.sshKeyPath !== undefined && node.sshKeyPath !== '') {
    return { kind: 'key-file', path: node.sshKeyPath, field: `${node.fieldPrefix}.ssh_key_path` };
  }
  return { kind: 'key-file', path: cluster.sshKeyPath, field: 'ssh_key_path' };
}

export async function loadCredentials(
  source: CredentialSource,
  env: { SSH_AUTH_SOCK?: string } = process.env,
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
      return checkedKey(Buffer.from(source.key), `the inline key in ${source.field}`);
    case 'key-file': {
      let key: Buffer;
      try {
        key = await readFile(source.path);
      } catch (error) {
        throw new OperatorError(`cannot read ssh key ${source.path} (${source.field}): ${messageOf(error)}`);
      }
      return checkedKey(key, `key ${source.path} (${source.field})`);
    }
  }
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
function checkedKey(privateKey: Buffer, description: string): SshCredentials {
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
