/**
 * Access to the lab cluster that scripts/test.sh brings up (lab/lab.sh), for the
 * integration tests: node engines, node mount namespaces, etcdctl, and the CLI itself.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir.js';

export { tempDir };

const run = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LAB_SCRIPT = path.join(REPO_ROOT, 'lab', 'lab.sh');
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface LabFacts {
  dir: string;
  addresses: string[];
  /** Per node, a second address on which only sshd listens (etcd does not). */
  sshOnlyAddresses: string[];
  /** A second port every node's sshd listens on. */
  altSshPort: number;
  clusterYml: string;
  sshKey: string;
  ca: string;
  nodeCert: string;
  nodeKey: string;
}

/** Reads `lab.sh env`; fails clearly when no lab is up. */
export async function labFacts(): Promise<LabFacts> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'env', ...labDirArgs()]);
  const need = envReader(stdout, (key) => `lab.sh env did not print ${key}; is the lab up? (npm run lab -- up)`);
  return {
    dir: need('LAB_DIR'),
    addresses: need('LAB_ADDRESSES').split(/\s+/).filter(Boolean),
    sshOnlyAddresses: need('LAB_SSH_ONLY_ADDRESSES').split(/\s+/).filter(Boolean),
    altSshPort: Number(need('LAB_ALT_SSH_PORT')),
    clusterYml: need('LAB_CLUSTER_YML'),
    sshKey: need('LAB_SSH_KEY'),
    ca: need('LAB_CA'),
    nodeCert: need('LAB_NODE_CERT'),
    nodeKey: need('LAB_NODE_KEY'),
  };
}

function labDirArgs(): string[] {
  return process.env.LAB_DIR ? ['--dir', process.env.LAB_DIR] : [];
}

/**
 * Reads the `KEY=value` lines a lab script's `env` prints; the returned function gives
 * a key's value, or throws `missing(key)`.
 */
export function envReader(stdout: string, missing: (key: string) => string): (key: string) => string {
  const vars = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) vars.set(match[1]!, unquote(match[2]!));
  }
  return (key) => {
    const value = vars.get(key);
    if (value === undefined) throw new Error(missing(key));
    return value;
  };
}

function unquote(value: string): string {
  const trimmed = value.trim();
  if ((trimmed.startsWith("'") && trimmed.endsWith("'")) || (trimmed.startsWith('"') && trimmed.endsWith('"'))) {
    return trimmed.slice(1, -1);
  }
  return trimmed;
}

/**
 * A piece of an OpenSSH private key that only this key has: the first lines of the base64
 * body are the same for every unencrypted key of a type, so look in the middle.
 */
export function privateKeyMaterial(pem: string): string {
  const body = pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('');
  return body.slice(Math.floor(body.length / 2), Math.floor(body.length / 2) + 40);
}

/** `docker ARGS` against lab node N's engine (1-based). */
export async function nodeDocker(node: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'docker', String(node), ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** A command inside lab node N's mount namespace. */
export async function nodeExec(node: number, ...command: string[]): Promise<string> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'exec', String(node), '--', ...command], {
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'latin1',
  });
  return stdout;
}

/** Copy a file out of lab node N's namespace (nodes share the host's /tmp). */
export async function copyFromNode(node: number, nodePath: string, hostPath: string): Promise<void> {
  await nodeExec(node, 'cp', '--', nodePath, hostPath);
}

/** A fault from lab.sh on node N: stop, kill (SIGKILL, its containers go on) or start its dockerd, or cut its SSH sessions. */
export async function labFault(command: 'dockerd-stop' | 'dockerd-kill' | 'dockerd-start' | 'ssh-drop', node: number): Promise<void> {
  await run('bash', [LAB_SCRIPT, command, ...labDirArgs(), String(node)]);
}

export async function labEtcdctl(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'etcdctl', ...args]);
  return stdout;
}

export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}


/**
 * The CLI records the lab nodes' host keys here (accept-new), never in root's own
 * known_hosts: every `lab.sh up` makes new host keys for the same addresses.
 */
export const TEST_KNOWN_HOSTS = path.join(tempDir('rke-known-hosts-'), 'known_hosts');

/** Runs the built `rke` CLI to completion. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliOutcome> {
  return startCli(args, options).outcome;
}

/** Starts the built `rke` CLI; `outcome` settles when it exits. */
export function startCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): { child: ChildProcess; outcome: Promise<CliOutcome> } {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, RKE_SSH_KNOWN_HOSTS: TEST_KNOWN_HOSTS, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const outcome = new Promise<CliOutcome>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, outcome };
}

/** Resolves once the CLI's stderr shows `pattern` (e.g. a progress line); rejects if it ends first. */
export function outputShows(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    });
    child.on('close', () => reject(new Error(`the CLI ended without printing ${pattern}`)));
  });
}

/** Names of containers on node N whose name matches exactly. */
export async function containersNamed(node: number, name: string): Promise<string[]> {
  const out = await nodeDocker(node, 'ps', '-a', '--filter', `name=^/${name}$`, '--format', '{{.Names}}');
  return out.split('\n').filter(Boolean);
}

/** Until a container of that name is running (started, not just created) on node N. */
export async function waitForRunningContainer(node: number, name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const running = async () =>
    (await nodeDocker(node, 'ps', '--filter', `name=^/${name}$`, '--filter', 'status=running', '--format', '{{.Names}}')).trim() !== '';
  while (!(await running())) {
    if (Date.now() > deadline) throw new Error(`${name} never ran on node ${node} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Until no container of that name exists on node N. */
export async function waitForNoContainer(node: number, name: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await containersNamed(node, name)).length > 0) {
    if (Date.now() > deadline) throw new Error(`${name} still on node ${node} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Wait until every lab member answers a health check (after a test stopped one). */
export async function waitForHealthyCluster(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await labEtcdctl('endpoint', 'health');
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  throw new Error(`lab etcd did not become healthy within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * A lab node (1-based) whose etcd member is not the leader. Freezing the leader
 * stalls the whole cluster for an election, which is not what a test of one bad
 * node wants.
 */
export async function followerNode(addresses: string[]): Promise<number> {
  const out = await labEtcdctl('endpoint', 'status', '-w', 'json');
  const statuses = JSON.parse(out) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
  const follower = statuses.find((status) => status.Status.header.member_id !== status.Status.leader);
  if (!follower) throw new Error(`no follower found in ${out}`);
  const address = new URL(follower.Endpoint.includes('://') ? follower.Endpoint : `https://${follower.Endpoint}`).hostname;
  const index = addresses.indexOf(address);
  if (index < 0) throw new Error(`follower ${address} is not a lab address`);
  return index + 1;
}
