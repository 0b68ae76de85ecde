/**
 * The lab's private registry (lab/registry.sh: Debian's docker-registry over HTTPS with
 * htpasswd auth, in a network namespace of its own on 10.253.X.2) for the integration tests:
 * started for a test file and stopped after it, trusted by the node engines (which verify its
 * certificate: the address is not loopback), holding our agent image.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { REPO_ROOT, envReader, type LabFacts } from './lab.js';

const run = promisify(execFile);
const REGISTRY_SCRIPT = path.join(REPO_ROOT, 'lab', 'registry.sh');
const LAB_SCRIPT = path.join(REPO_ROOT, 'lab', 'lab.sh');

/**
 * Where the test registry listens: REGISTRY_ADDR, else 10.253.Y.2:5000 for a lab on 127.X.Y.*
 * (one registry per lab, clear of lab/bastion.sh's 10.254.Y.0/30).
 */
export function registryAddr(lab: LabFacts): string {
  if (process.env.REGISTRY_ADDR) return process.env.REGISTRY_ADDR;
  const third = /^127\.\d+\.(\d+)\.\d+$/.exec(lab.addresses[0] ?? '')?.[1];
  if (third === undefined) throw new Error(`cannot derive the registry address from the lab address ${lab.addresses[0]}`);
  return `10.253.${third}.2:5000`;
}

export interface RegistryLab {
  /** LAB/registry: lab/registry.sh's directory (scripts/test.sh runs its down after a killed run). */
  dir: string;
  /** IP:PORT of the registry, 10.253.Y.2:5000, inside its own network namespace. */
  addr: string;
  /** The host's end of the veth pair (10.253.Y.1): the only other address on that link. */
  hostSide: string;
  ca: string;
  user: string;
  password: string;
  /** The registry's own log (access lines for every request). */
  log: string;
}

/** Brings a registry up in LAB/registry and makes the lab's engines trust its CA. */
export async function startRegistry(lab: LabFacts): Promise<RegistryLab> {
  const labDir = lab.dir;
  const dir = path.join(labDir, 'registry');
  try {
    await script(['up', '--dir', dir, '--addr', registryAddr(lab)]);
    const { stdout } = await run('bash', [REGISTRY_SCRIPT, 'env', '--dir', dir]);
    const need = envReader(stdout, (key) => `registry.sh env did not print ${key}`);
    await script(['trust', '--dir', dir, '--lab-dir', labDir]);
    return {
      dir,
      addr: need('REGISTRY_ADDR'),
      hostSide: need('REGISTRY_HOST_SIDE'),
      ca: need('REGISTRY_CA'),
      user: need('REGISTRY_USER'),
      password: need('REGISTRY_PASSWORD'),
      log: path.join(dir, 'registry.log'),
    };
  } catch (error) {
    await stopRegistry({ dir }, labDir).catch(() => undefined);
    throw error;
  }
}

/** Undo startRegistry; safe after a partial start. The registry's log stays in its directory. */
export async function stopRegistry(registry: { dir: string } | undefined, labDir: string): Promise<void> {
  if (registry === undefined) return;
  await script(['untrust', '--dir', registry.dir, '--lab-dir', labDir]).catch(() => undefined);
  await script(['down', '--dir', registry.dir]);
}

/** Install (trusted) or remove node N's /etc/docker/certs.d/ADDR/ca.crt; no dockerd restart needed. */
export async function setNodeTrust(registry: RegistryLab, labDir: string, node: number, trusted: boolean): Promise<void> {
  await script([trusted ? 'trust' : 'untrust', '--dir', registry.dir, '--lab-dir', labDir, '--node', String(node)]);
}

async function script(args: string[]): Promise<void> {
  await run('bash', [REGISTRY_SCRIPT, ...args]).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`bash lab/registry.sh ${args.join(' ')} failed: ${(error.stderr ?? error.message).trim()}`);
  });
}

/** Engines of the lab nodes, through their sockets on the host (not over SSH). */
export async function nodeEngines(labDir: string): Promise<Docker[]> {
  const { stdout } = await run('bash', [LAB_SCRIPT, 'env', '--dir', labDir]);
  const sockets = envReader(stdout, (key) => `lab.sh env did not print ${key}`)('LAB_DOCKER_SOCKETS').split(/\s+/).filter(Boolean);
  return sockets.map((socketPath) => new Docker({ socketPath }));
}

/** The bundled agent image (dist/agent-image), as the tests push it. */
export function bundledAgent(): { tag: string; tarPath: string } {
  const directory = path.join(REPO_ROOT, 'dist', 'agent-image');
  const manifest = JSON.parse(readFileSync(path.join(directory, 'image.json'), 'utf8')) as { tag: string; tar: string };
  return { tag: manifest.tag, tarPath: path.join(directory, manifest.tar) };
}

/**
 * Push our agent image to the registry as `target` through one node's engine (the login
 * only in the X-Registry-Auth header), then leave that engine as it was.
 */
export async function pushAgentImage(engine: Docker, registry: RegistryLab, target: string): Promise<void> {
  const agent = bundledAgent();
  const hadAgent = await imagePresent(engine, agent.tag);
  if (!hadAgent) await follow(engine, await engine.loadImage(createReadStream(agent.tarPath), { quiet: true }));
  const slash = target.lastIndexOf(':');
  await engine.getImage(agent.tag).tag({ repo: target.slice(0, slash), tag: target.slice(slash + 1) });
  try {
    const stream = await engine.getImage(target).push({ authconfig: { username: registry.user, password: registry.password, serveraddress: registry.addr } });
    await follow(engine, stream);
  } finally {
    await removeImage(engine, target);
    if (!hadAgent) await removeImage(engine, agent.tag);
  }
}

export async function imagePresent(engine: Docker, reference: string): Promise<boolean> {
  try {
    await engine.getImage(reference).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** Untag (and delete when it was the last tag); absent is fine. */
export async function removeImage(engine: Docker, reference: string): Promise<void> {
  try {
    await engine.getImage(reference).remove({ noprune: false });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

function follow(engine: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    engine.modem.followProgress(stream, (error: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((event) => event.error !== undefined);
      if (error) reject(error);
      else if (failed) reject(new Error(failed.error));
      else resolve();
    });
  });
}
