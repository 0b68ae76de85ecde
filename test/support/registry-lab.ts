/**
 * The lab's private registry (lab/registry.sh: Debian's docker-registry over HTTPS with
 * htpasswd auth) for the integration tests: started for a test file and stopped after it,
 * trusted by the node engines, holding our agent image.
 */
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { REPO_ROOT, envReader, tempDir } from './lab.js';

const run = promisify(execFile);
const REGISTRY_SCRIPT = path.join(REPO_ROOT, 'lab', 'registry.sh');
const LAB_SCRIPT = path.join(REPO_ROOT, 'lab', 'lab.sh');

/** Where the test registry listens: REGISTRY_ADDR, else the script's default (clear of the node and S3 labs). */
export const REGISTRY_ADDR = process.env.REGISTRY_ADDR ?? '127.0.8.1:5000';

export interface RegistryLab {
  dir: string;
  addr: string;
  ca: string;
  user: string;
  password: string;
  /** The registry's own log (access lines for every request). */
  log: string;
}

/** Brings a registry up in a new directory and makes the lab's engines trust its CA. */
export async function startRegistry(labDir: string): Promise<RegistryLab> {
  const dir = tempDir('rke-registry-');
  try {
    await script(['up', '--dir', dir, '--addr', REGISTRY_ADDR]);
    const { stdout } = await run('bash', [REGISTRY_SCRIPT, 'env', '--dir', dir]);
    const need = envReader(stdout, (key) => `registry.sh env did not print ${key}`);
    await script(['trust', '--dir', dir, '--lab-dir', labDir]);
    return {
      dir,
      addr: need('REGISTRY_ADDR'),
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

/** Undo startRegistry; safe after a partial start. */
export async function stopRegistry(registry: { dir: string } | undefined, labDir: string): Promise<void> {
  if (registry === undefined) return;
  await script(['untrust', '--dir', registry.dir, '--lab-dir', labDir]).catch(() => undefined);
  await script(['down', '--dir', registry.dir]);
  await rm(registry.dir, { recursive: true, force: true });
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
