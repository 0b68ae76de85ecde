/**
 * `rke etcd snapshot-fetch --name NAME --s3 … [--identity-file FILE] --output-file PATH`
 * (SPEC §7): the S3 copy back as a verified NAME.zip, from this machine.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { loadClusterConfig } from '../config/cluster.js';
import { OperatorError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { validateRemovableName } from '../model/names.js';
import { clientFor, openSnapshotObject, writeFetchedFile, type FetchedFile } from '../s3/fetch.js';
import { parseIdentities, sseCustomerKeyOf } from '../s3/protection.js';
import { resolveS3Settings, type S3Settings } from '../s3/settings.js';
import { addDebugOption, addOutputOption, addS3Options, type OutputFormat, type S3CommandFlags } from './common-flags.js';
import { withProgressDisplay } from './progress-display.js';

interface FetchFlags extends S3CommandFlags {
  name: string;
  config: string;
  identityFile?: string;
  s3SseCKeyFile?: string;
  outputFile?: string;
  toNodes: boolean;
  overwrite: boolean;
  output: OutputFormat;
  debug: boolean;
}

export function snapshotFetchCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-fetch')
    .description('Download the S3 copy of snapshot NAME (decrypting NAME.zip.age, applying SSE-C), verify it, and write it as a zip')
    .requiredOption('--name <name>', 'the snapshot (a plain name, without .zip)')
    .option('--config <file>', 'cluster file (its s3backupconfig fills S3 settings not given as flags; optional)', 'cluster.yml')
    .option('--identity-file <file>', 'age identities (AGE-SECRET-KEY-1…) to decrypt NAME.zip.age')
    .option('--s3-sse-c-key-file <file>', 'the SSE-C key the copy was uploaded with')
    .option('--output-file <path>', 'write the verified zip here (atomically, mode 0600)')
    .option('--to-nodes', 'write it to every etcd node as /opt/rke/etcd-snapshots/NAME.zip (not built yet)', false)
    .option('--overwrite', 'replace an existing file', false);
  addS3Options(command, 'read the copy from S3 (required)');
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
  if (flags.toNodes) throw new OperatorError('--to-nodes is not built yet: use --output-file, then copy the file to /opt/rke/etcd-snapshots/NAME.zip on every etcd node');
  if (flags.outputFile === undefined || flags.outputFile.trim() === '') throw new OperatorError('snapshot-fetch needs --output-file PATH');
  const settings = await fetchSettings(flags, log);
  const identities = flags.identityFile === undefined ? [] : parseIdentities(await readText(flags.identityFile, '--identity-file'), flags.identityFile);
  const client = clientFor(settings);
  let fetched: FetchedFile;
  try {
    const opened = await openSnapshotObject(client, settings, { name: flags.name, identities, ...(flags.identityFile ? { identityFile: flags.identityFile } : {}) });
    log.info(`fetching s3://${opened.bucket}/${opened.key} (${opened.objectSize} bytes${opened.encryption.age ? ', age-encrypted' : ''}${opened.encryption.sseC ? ', SSE-C' : ''}) to ${flags.outputFile}`);
    fetched = await writeFetchedFile(opened, flags.outputFile, flags.name, flags.overwrite);
  } finally {
    client.destroy();
  }
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

async function fetchSettings(flags: FetchFlags, log: Logger): Promise<S3Settings> {
  const cluster = existsSync(flags.config) ? await loadClusterConfig(flags.config) : undefined;
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
