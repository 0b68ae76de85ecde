/**
 * The package as an operator gets it: a copy of this checkout's tracked (and new, unignored)
 * files, `npm ci`, `npm pack` (the prepack script builds everything), then `npm install -g`
 * of the tarball into a temporary prefix; and the image tarballs' own facts (manifest,
 * config, the ELF header of the Node binary inside).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, tempDir } from './lab.js';

const run = promisify(execFile);
const NPM_CLI = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

/** A directory whose only entry is `node` (a symlink to this node): the PATH of a machine with only Node. */
export function nodeOnlyPath(): string {
  const dir = tempDir('rke-node-only-');
  symlinkSync(process.execPath, path.join(dir, 'node'));
  return dir;
}

export interface Packed {
  /** The copy it was packed in (build-cli.sh runs there); the caller removes it and the tarball's directory. */
  copy: string;
  tarball: string;
  bytes: number;
  packMs: number;
}

/** `npm ci` and `npm pack` in a fresh copy of the checkout (never in the checkout: prepack rebuilds dist/src). */
export async function packFreshCopy(): Promise<Packed> {
  const copy = tempDir('rke-pack-');
  const { stdout } = await run('git', ['-C', REPO_ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { maxBuffer: 16 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    const source = path.join(REPO_ROOT, file);
    try {
      mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      copyFileSync(source, path.join(copy, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // deleted, not yet committed
    }
  }
  const npm = (args: string[], cwd: string) => run(process.execPath, [NPM_CLI, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });
  await npm(['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], copy);
  const out = tempDir('rke-tarball-');
  const started = Date.now();
  await npm(['pack', '--pack-destination', out, '--loglevel=error'], copy);
  const packMs = Date.now() - started;
  const name = readdirSync(out).find((file) => file.endsWith('.tgz'));
  if (name === undefined) throw new Error(`npm pack wrote no tarball in ${out}`);
  const tarball = path.join(out, name);
  return { copy, tarball, bytes: statSync(tarball).size, packMs };
}

/**
 * `npm install -g TARBALL --prefix PREFIX` with PATH holding only node and sh (npm runs
 * lifecycle scripts with sh): no compiler, no Docker, no other tool. Returns the `rke` path.
 */
export async function installGlobally(tarball: string, nodeOnly: string): Promise<{ rke: string; prefix: string; installMs: number }> {
  const prefix = tempDir('rke-prefix-');
  const shOnly = tempDir('rke-sh-only-');
  symlinkSync('/bin/sh', path.join(shOnly, 'sh'));
  const started = Date.now();
  try {
    await run(process.execPath, [NPM_CLI, 'install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      env: { ...process.env, PATH: `${nodeOnly}:${shOnly}` },
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    rmSync(shOnly, { recursive: true, force: true });
  }
  return { rke: path.join(prefix, 'bin', 'rke'), prefix, installMs: Date.now() - started };
}

export interface ImageTarFacts {
  /** docker-save manifest.json: one entry, one gzipped layer. */
  repoTags: string[];
  layerIsGzip: boolean;
  /** The image config's architecture and os. */
  architecture: string;
  os: string;
  /** ELF e_machine of /usr/local/bin/node in the layer: 0x3e x86-64, 0xb7 AArch64. */
  nodeElfMachine: number;
  /** ELF e_machine of the dynamic loader in the layer. */
  loaderElfMachine: number;
}

/** Reads a docker-save tarball's manifest, config, and the ELF headers of its node and loader (with tar, as an operator could). */
export async function imageTarFacts(tarPath: string, loader: string): Promise<ImageTarFacts> {
  const dir = tempDir('rke-image-facts-');
  try {
    return await readImageTar(dir, tarPath, loader);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readImageTar(dir: string, tarPath: string, loader: string): Promise<ImageTarFacts> {
  await run('tar', ['-xf', tarPath, '-C', dir]);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
  if (manifest.length !== 1 || manifest[0]!.Layers.length !== 1) throw new Error(`${tarPath}: expected one image with one layer`);
  const [entry] = manifest as [{ Config: string; RepoTags: string[]; Layers: [string] }];
  const layer = path.join(dir, entry.Layers[0]);
  const config = JSON.parse(readFileSync(path.join(dir, entry.Config), 'utf8')) as { architecture: string; os: string };
  const head = readFileSync(layer).subarray(0, 2);
  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(rootfs);
  await run('tar', ['-xzf', layer, '-C', rootfs, './usr/local/bin/node', `.${loader}`]);
  const machine = (file: string) => {
    const elf = readFileSync(file).subarray(0, 20);
    if (elf.subarray(0, 4).toString('latin1') !== '\x7fELF') throw new Error(`${file} is not ELF`);
    return elf.readUInt16LE(18);
  };
  return {
    repoTags: entry.RepoTags,
    layerIsGzip: head[0] === 0x1f && head[1] === 0x8b,
    architecture: config.architecture,
    os: config.os,
    nodeElfMachine: machine(path.join(rootfs, 'usr/local/bin/node')),
    loaderElfMachine: machine(path.join(rootfs, loader.slice(1))),
  };
}
