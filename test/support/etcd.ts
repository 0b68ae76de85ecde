import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Loopback address for these tests' etcd members, apart from the usual 127.0.0.1. */
export const TEST_ETCD_IP = '127.0.9.1';

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  await openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`],
    dir,
  );
  return { cert, key };
}

async function issue(dir: string, ca: { cert: string; key: string }, name: string, extensions: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], dir);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], dir);
  return { cert, key };
}

/** A CA, an etcd serving certificate for `ip`, and a client certificate: RKE's kube-ca / kube-etcd / kube-node. */
export async function makePki(dir: string, ip = TEST_ETCD_IP): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const ca = await makeCa(dir, 'kube-ca');
  const server = await issue(dir, ca, 'kube-etcd', `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  const client = await issue(dir, ca, 'kube-node', 'extendedKeyUsage=clientAuth\n');
  return { ca: ca.cert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key };
}

/** A client certificate from an unrelated CA, which etcd must refuse. */
export async function makeForeignClient(dir: string): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const ca = await makeCa(dir, 'other-ca');
  return issue(dir, ca, 'stranger', 'extendedKeyUsage=clientAuth\n');
}

export async function freePort(host = TEST_ETCD_IP): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface RunningEtcd {
  clientUrl: string;
  process: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/** Starts a one-member etcd; TLS with client-certificate auth when `pki` is given. Waits until it serves. */
export async function startEtcd(options: { dir: string; name: string; dataDir?: string; peerPort?: number; pki?: Pki }): Promise<RunningEtcd> {
  const { dir, name, pki } = options;
  const clientPort = await freePort();
  const peerPort = options.peerPort ?? (await freePort());
  const scheme = pki === undefined ? 'http' : 'https';
  const clientUrl = `${scheme}://${TEST_ETCD_IP}:${clientPort}`;
  const peerUrl = `http://${TEST_ETCD_IP}:${peerPort}`;
  const args = [
    '--name', name,
    '--data-dir', options.dataDir ?? join(dir, `${name}.etcd`),
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `${name}=${peerUrl}`,
  ];
  if (pki !== undefined) {
    args.push('--cert-file', pki.serverCert, '--key-file', pki.serverKey, '--trusted-ca-file', pki.ca, '--client-cert-auth');
  }
  const logFile = join(dir, `${name}.log`);
  const log = await open(logFile, 'w');
  const child = spawn('etcd', args, { stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const etcd = { clientUrl, process: child, logFile, stop };
  try {
    await waitUntilServing(etcd, pki);
  } catch (error) {
    await stop();
    throw new Error(`etcd ${name} did not start: ${String(error)}\n${await readFile(logFile, 'utf8')}`);
  }
  return etcd;
}

async function waitUntilServing(etcd: RunningEtcd, pki: Pki | undefined): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (etcd.process.exitCode !== null) throw new Error(`exited with ${etcd.process.exitCode}`);
    try {
      await etcdctl(etcd.clientUrl, pki, ['endpoint', 'health', '--command-timeout=1s']);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export async function etcdctl(endpoint: string, pki: Pki | undefined, args: string[]): Promise<string> {
  const tls = pki === undefined ? [] : ['--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey];
  const { stdout } = await run('etcdctl', ['--endpoints', endpoint, ...tls, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  return stdout;
}

/** `etcdctl snapshot status` (3.4) of a snapshot file. */
export async function snapshotStatus(file: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number }> {
  const { stdout } = await run('etcdctl', ['snapshot', 'status', file, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  return JSON.parse(stdout) as { hash: number; revision: number; totalKey: number; totalSize: number };
}

/**
 * `etcdctl snapshot restore` (which checks etcd's trailer) into `dataDir` for a
 * one-member cluster named `name`; returns the peer port the member was given.
 */
export async function restoreSnapshot(file: string, dataDir: string, name: string): Promise<number> {
  const peerPort = await freePort();
  const peerUrl = `http://${TEST_ETCD_IP}:${peerPort}`;
  await run(
    'etcdctl',
    ['snapshot', 'restore', file, '--data-dir', dataDir, '--name', name, '--initial-cluster', `${name}=${peerUrl}`, '--initial-advertise-peer-urls', peerUrl],
    { env: { ...process.env, ETCDCTL_API: '3' } },
  );
  return peerPort;
}
