/**
 * Independent checks of a snapshot archive with the real tools an operator would use:
 * unzip, python's zipfile (another reader), etcdctl, and a throwaway etcd restored from it.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function zipEntryNames(zipPath: string): Promise<string[]> {
  const { stdout } = await run('python3', [
    '-c',
    'import sys, zipfile, json; print(json.dumps(zipfile.ZipFile(sys.argv[1]).namelist()))',
    zipPath,
  ]);
  return JSON.parse(stdout) as string[];
}

/** `unzip -t`: every entry's CRC checks out. */
export async function unzipTest(zipPath: string): Promise<string> {
  const { stdout } = await run('unzip', ['-t', zipPath]);
  return stdout;
}

export async function extractEntry(zipPath: string, entry: string, destination: string): Promise<void> {
  await run('python3', [
    '-c',
    'import sys, zipfile, shutil\nwith zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst: shutil.copyfileobj(src, dst)',
    zipPath,
    entry,
    destination,
  ]);
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

export async function etcdctlSnapshotStatus(snapshot: string): Promise<SnapshotStatus> {
  const { stdout } = await run('etcdctl', ['snapshot', 'status', snapshot, '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return JSON.parse(stdout) as SnapshotStatus;
}

/**
 * Restore the snapshot into `workDir` with etcdctl, start a single etcd on it at
 * `address` (plain HTTP, loopback only), read `key`, stop it. Returns the value.
 */
export async function restoreAndRead(snapshot: string, workDir: string, address: string, key: string): Promise<string> {
  const dataDir = path.join(workDir, 'restored');
  const peer = `http://${address}:2380`;
  const client = `http://${address}:2379`;
  await run('etcdctl', ['snapshot', 'restore', snapshot, '--data-dir', dataDir, '--name', 'restored', '--initial-cluster', `restored=${peer}`, '--initial-advertise-peer-urls', peer], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const etcd = spawn('etcd', ['--name', 'restored', '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `restored=${peer}`], {
    stdio: 'ignore',
  });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const { stdout } = await run('etcdctl', ['--endpoints', client, 'get', key, '--print-value-only'], {
          env: { ...process.env, ETCDCTL_API: '3' },
          timeout: 5_000,
        });
        return stdout.trim();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
  } finally {
    etcd.kill('SIGTERM');
    await new Promise((resolve) => etcd.once('exit', resolve));
  }
}
