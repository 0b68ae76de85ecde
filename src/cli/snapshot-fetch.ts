/**
 * `rke etcd snapshot-fetch --name NAME --s3 … [--identity-file FILE] --output-file PATH`
 * (SPEC §7): the S3 copy back as a verified NAME.zip, from this machine.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { loadClusterConfig, type ClusterConfig } from '../config/cluster.js';
import type { RunScope } from '../snapshot/scope.js';
import { placeOnNode, type Placement } from '../snapshot/ssh-runtime/place.js';
import { withNodeRun } from './node-run.js';
import { OperatorError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { validateRemovableName } from '../model/names.js';
import { openSnapshotObject, writeFetchedFile, type FetchedFile } from '../s3/fetch.js';
import { createS3ClientFor } from '../s3/client.js';
import { parseIdentities, sseCustomerKeyOf } from '../s3/protection.js';
import { resolveS3Settings, type S3Settings } from '../s3/settings.js';
import {
  addDebugOption,
  addNodeAccessOptions,
  addOutputOption,
  addS3Options,
  prepareNodeAccess,
  type NodeAccessFlags,
  type OutputFormat,
  type S3CommandFlags,
} from './common-flags.js';
import { withProgressDisplay } from './progress-display.js';

interface FetchFlags extends S3CommandFlags, NodeAccessFlags {
  name: string;
  identityFile?: string;
  s3SseCKeyFile?: string;
  outputFile?: string;
  toNodes: boolean;
  overwrite: boolean;
  output: OutputFormat;
}

export function snapshotFetchCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-fetch')
    .description('Download the S3 copy of snapshot NAME (decrypting NAME.zip.age, applying SSE-C), verify it, and write it as a zip')
    .requiredOption('--name <name>', 'the snapshot (a plain name, without .zip)')
    .option('--identity-file <file>', 'age identities (AGE-SECRET-KEY-1…) to decrypt NAME.zip.age')
    .option('--s3-sse-c-key-file <file>', 'the SSE-C key the copy was uploaded with')
    .option('--output-file <path>', 'write the verified zip here (atomically, mode 0600)')
    .option('--to-nodes', 'write it to every etcd node as /opt/rke/etcd-snapshots/NAME.zip, over SFTP (the SSH user must be able to write there)', false)
    .option('--overwrite', 'replace an existing file', false);
  addS3Options(command, 'read the copy from S3 (required)');
  addNodeAccessOptions(command);
  addOutputOption(command);
  addDebugOption(command);
  return command.action(async (flags: FetchFlags) => {
    onExit(await withProgressDisplay('none', flags.debug, (log) => runSnapshotFetch(flags, log)));
  });
}

/** Returns the exit status; bad input is refused before anything is downloaded. */
export async function runSnapshotFetch(flags: FetchFlags, log: Logger): Promise<number> {
  validateRemovableName(flags.name);
  if (!flags.s3) throw new OperatorError('snapshot-fetch reads the S3 copy: pass --s3 and the S3 settings');
  if (flags.toNodes === (flags.outputFile !== undefined)) throw new OperatorError('snapshot-fetch needs exactly one of --output-file PATH or --to-nodes');
  if (flags.outputFile !== undefined && flags.outputFile.trim() === '') throw new OperatorError('--output-file: the path is empty');
  const cluster = flags.toNodes || existsSync(flags.config) ? await loadClusterConfig(flags.config) : undefined;
  const settings = await fetchSettings(flags, cluster, log);
  const identities = flags.identityFile === undefined ? [] : parseIdentities(await readText(flags.identityFile, '--identity-file'), flags.identityFile);
  if (cluster !== undefined && flags.toNodes) {
    const hostKeys = await prepareNodeAccess(flags, cluster, log);
    // The verified zip is kept on this machine only while it is put on the nodes (0700 directory, 0600 file).
    const dir = await mkdtemp(path.join(tmpdir(), 'rke-fetch-'));
    try {
      const fetched = await download(flags, settings, identities, path.join(dir, `${flags.name}.zip`), false, log);
      return await withNodeRun({ cluster, flags, hostKeys, log, interrupts: 'placing the snapshot on the nodes' }, async (scope) => {
        const placements = await placeEverywhere(cluster, fetched, flags, scope);
        reportPlacements(flags, fetched, placements);
        const failed = placements.filter((placement) => !placement.ok);
        if (failed.length > 0) throw new OperatorError(`snapshot ${flags.name} was not placed on ${failed.map((f) => f.address).join(', ')} (see above)`);
        log.info(`Placed snapshot ${flags.name} on ${placements.length} etcd node(s); rke etcd snapshot-restore --name ${flags.name} restores it`);
        return 0;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const fetched = await download(flags, settings, identities, flags.outputFile!, flags.overwrite, log);
  if (flags.output === 'json') {
    process.stdout.write(JSON.stringify({ ok: true, name: flags.name, ...fetched }, null, 2) + '\n');
  } else {
    const checks = ['zip', "etcd's trailer", ...(fetched.recordedSha256 ? ['sha256 recorded at upload'] : [])].join(', ');
    process.stdout.write(
      `fetched s3://${fetched.bucket}/${fetched.key} to ${fetched.path}: ${fetched.size} bytes, sha256 ${fetched.sha256}, revision ${fetched.revision}; verified: ${checks}` +
        (fetched.recordedSha256 ? '' : ' (the object records no sha256)') + '\n',
    );
  }
  return 0;
}

async function download(flags: FetchFlags, settings: S3Settings, identities: string[], file: string, overwrite: boolean, log: Logger): Promise<FetchedFile> {
  const client = createS3ClientFor(settings);
  try {
    const opened = await openSnapshotObject(client, settings, { name: flags.name, identities, ...(flags.identityFile ? { identityFile: flags.identityFile } : {}) });
    log.info(`fetching s3://${opened.bucket}/${opened.key} (${opened.objectSize} bytes${opened.encryption.age ? ', age-encrypted' : ''}${opened.encryption.sseC ? ', SSE-C' : ''})`);
    return await writeFetchedFile(opened, file, flags.name, overwrite);
  } finally {
    client.destroy();
  }
}

async function placeEverywhere(cluster: ClusterConfig, fetched: FetchedFile, flags: FetchFlags, scope: RunScope): Promise<Placement[]> {
  const source = { path: fetched.path, size: fetched.size, sha256: fetched.sha256 };
  const placements: Placement[] = [];
  const nodes = [...cluster.etcdNodes];
  for (let start = 0; start < nodes.length; start += flags.concurrency) {
    const batch = nodes.slice(start, start + flags.concurrency);
    placements.push(...(await Promise.all(batch.map((node) => placeOnNode(node, source, flags.name, flags.overwrite, scope)))));
  }
  return placements;
}

function reportPlacements(flags: FetchFlags, fetched: FetchedFile, placements: Placement[]): void {
  if (flags.output === 'json') {
    const { path: _local, ...object } = fetched;
    process.stdout.write(JSON.stringify({ ok: placements.every((p) => p.ok), name: flags.name, object, nodes: placements }, null, 2) + '\n');
    return;
  }
  const rows = placements.map((p) => [p.address, p.ok ? 'placed' : 'FAILED', p.ok ? p.file : p.error]);
  const width = (column: number) => Math.max(...rows.map((row) => row[column]!.length), 6);
  const lines = [['NODE', 'STATUS', 'FILE'], ...rows].map((row) => `${row[0]!.padEnd(width(0))}  ${row[1]!.padEnd(width(1))}  ${row[2]}`.trimEnd());
  lines.push('', `fetched s3://${fetched.bucket}/${fetched.key}: ${fetched.size} bytes, sha256 ${fetched.sha256}, revision ${fetched.revision}; verified: zip, etcd's trailer${fetched.recordedSha256 ? ', sha256 recorded at upload' : ''}`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function fetchSettings(flags: FetchFlags, cluster: ClusterConfig | undefined, log: Logger): Promise<S3Settings> {
  const settings = await resolveS3Settings({ flags, fromFile: cluster?.etcd.s3, clusterFile: flags.config, warn: log.warn });
  if (flags.s3SseCKeyFile === undefined) return settings;
  const content = await readFile(flags.s3SseCKeyFile).catch((error: unknown) => {
    throw new OperatorError(`--s3-sse-c-key-file: cannot read ${flags.s3SseCKeyFile}: ${messageOf(error)}`);
  });
  return { ...settings, sseCustomerKey: sseCustomerKeyOf(content, flags.s3SseCKeyFile) };
}

async function readText(file: string, flag: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: unknown) => {
    throw new OperatorError(`${flag}: cannot read ${file}: ${messageOf(error)}`);
  });
}
