/**
 * lab/bastion.sh on the test lab: a bastion in a network namespace of its own with the
 * nodes' sshd behind it, and certificate-only sshd on the nodes (see docs/lab.md).
 * The tests that use it bring it up in `before` and down in `after`.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, envReader, type LabFacts } from './lab.js';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'lab', 'bastion.sh');

export interface BastionLab {
  netns: string;
  address: string;
  port: number;
  user: string;
  /** the bastion's own key (authorized there, nowhere else) */
  key: string;
  /** the nodes' sshd behind the bastion, in lab node order; reachable only from the bastion */
  nodeAddresses: string[];
  nodePort: number;
  /** the CA every test sshd trusts for user certificates (private key; sign with ssh-keygen -s) */
  certCa: string;
  /** the nodes' certificate-only sshd port, on the lab addresses */
  certPort: number;
  logs: string;
}

export async function bastionUp(lab: LabFacts): Promise<BastionLab> {
  const { stdout } = await run('bash', [SCRIPT, 'up', '--dir', lab.dir], { timeout: 60_000 });
  const need = envReader(stdout, (key) => `bastion.sh up did not print ${key}`);
  return {
    netns: need('BASTION_NETNS'),
    address: need('BASTION_ADDRESS'),
    port: Number(need('BASTION_PORT')),
    user: need('BASTION_USER'),
    key: need('BASTION_KEY'),
    nodeAddresses: need('BASTION_NODE_ADDRESSES').split(/\s+/).filter(Boolean),
    nodePort: Number(need('BASTION_NODE_PORT')),
    certCa: need('CERT_CA'),
    certPort: Number(need('CERT_PORT')),
    logs: need('BASTION_LOGS'),
  };
}

export async function bastionDown(lab: LabFacts): Promise<void> {
  await run('bash', [SCRIPT, 'down', '--dir', lab.dir], { timeout: 60_000 });
}

/** `lab/bastion.sh silence`: the bastion, or node K behind it, stops answering (packets dropped); `restore` undoes it. */
export async function bastionFault(lab: LabFacts, command: 'silence' | 'restore', what?: 'bastion' | number): Promise<void> {
  await run('bash', [SCRIPT, command, ...(what === undefined ? [] : [String(what)]), '--dir', lab.dir], { timeout: 30_000 });
}

/** Edits a cluster config so that the lab's nodes are reached at their sshd behind the bastion (etcd still at their lab address). */
export function behindBastion(bastion: BastionLab, config: Record<string, any>): void {
  config.nodes.forEach((node: any, i: number) => {
    node.internal_address = node.address;
    node.address = bastion.nodeAddresses[i];
    node.port = bastion.nodePort;
  });
}

/** The cluster's bastion_host entry for the lab's bastion. */
export function bastionHostEntry(bastion: BastionLab, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { address: bastion.address, port: bastion.port, user: bastion.user, ssh_key_path: bastion.key, ...extra };
}
