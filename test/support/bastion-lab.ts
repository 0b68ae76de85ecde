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
