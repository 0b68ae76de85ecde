/**
 * `rke etcd snapshot-ls`, `snapshot-rm`, `snapshot-prune`, `snapshot-verify`: flags → the
 * run's stores (each etcd node's /opt/rke/etcd-snapshots, and with --s3 the bucket/folder)
 * → one call into snapshot/manage.ts → a table or JSON document and an exit status.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadClusterConfig } from '../config/cluster.js';
import { locateBundledAgentImage } from '../docker/bundled-image.js';
import { OperatorError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { locationLabel, type Location } from '../model/location.js';
import { validateRemovableName } from '../model/names.js';
import { dockerRuntime } from '../snapshot/docker-runtime/index.js';
import { lsDocument, pruneDocument, rmDocument, verifyDocument } from '../snapshot/inventory/json.js';
import { pruneExitCode } from '../snapshot/inventory/prune.js';
import { rmExitCode } from '../snapshot/inventory/removal.js';
import { formatLsTable, formatPruneTable, formatRmTable, formatVerifyTable } from '../snapshot/inventory/tables.js';
import { compareWithNodes, verifyVerdict, type LocationVerification } from '../snapshot/inventory/verification.js';
import { readFile } from 'node:fs/promises';
import { verifyEncryptedCopy, type FetchRequest } from '../s3/fetch.js';
import { parseIdentities } from '../s3/protection.js';
import type { S3Settings } from '../s3/settings.js';
import { listSnapshots, pruneSnapshots, removeSnapshot, verifySnapshot, type ManageRequest } from '../snapshot/manage.js';
import type { RuntimeName } from '../snapshot/result.js';
import type { RunScope } from '../snapshot/scope.js';
import { storesOf } from '../snapshot/stores.js';
import { drillS3Copy } from '../snapshot/s3-drill.js';
import { restoreFinding } from '../snapshot/inventory/restore.js';
import type { NodeRuntime } from '../snapshot/runtime.js';
import {
  addAgentLimitOptions,
  addDebugOption,
  agentLimitsOf,
  addNodeAccessOptions,
  addOutputOption,
  addProgressOption,
  addS3Options,
  prepareNodeAccess,
  resolveS3Flags,
  type AgentLimitFlags,
  type NodeAccessFlags,
  type OutputFormat,
  type S3CommandFlags,
} from './common-flags.js';
import { addRuntimeOption, chooseRuntime, withNodeRun } from './node-run.js';
import { withProgressDisplay, type ProgressDisplay, type ProgressMode } from './progress-display.js';

interface ManageFlags extends NodeAccessFlags, S3CommandFlags, AgentLimitFlags {
  s3SseCKeyFile?: string;
  output: OutputFormat;
  progress: ProgressMode;
  runtime: RuntimeName;
}

export function snapshotLsCommand(onExit: (code: number) => void): Command {
  const command = manageCommand('snapshot-ls', 'List the snapshots (zip, raw, pki.bundle.tar.gz) under /opt/rke/etcd-snapshots on every etcd node', 'also list the snapshot objects in the S3 bucket/folder');
  return command.action(async (flags: ManageFlags) => onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotLs(flags, log, display))));
}

export function snapshotRmCommand(onExit: (code: number) => void): Command {
  const command = manageCommand('snapshot-rm', 'Remove snapshot NAME (NAME.zip and a raw NAME) from every etcd node', 'also remove NAME.zip and NAME.pki.bundle.tar.gz from the S3 bucket/folder', (c) =>
    c.requiredOption('--name <name>', 'the snapshot to remove (a plain name, without .zip)'),
  );
  return command.action(async (flags: ManageFlags & { name: string }) => {
    onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotRm(flags, log, display)));
  });
}

export function snapshotPruneCommand(onExit: (code: number) => void): Command {
  const command = manageCommand('snapshot-prune', 'Keep the N newest zip snapshots on every etcd node and remove the older ones', 'also prune the S3 bucket/folder, as its own location', (c) =>
    c
      .addOption(new Option('--keep <n>', 'how many of the newest snapshots to keep per location').argParser(positiveKeep).makeOptionMandatory())
      .option('--dry-run', 'only show what would be removed', false),
  );
  return command.action(async (flags: ManageFlags & { keep: number; dryRun: boolean }) => {
    onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotPrune(flags, log, display)));
  });
}

export function snapshotVerifyCommand(onExit: (code: number) => void): Command {
  const command = manageCommand(
    'snapshot-verify',
    "Check every etcd node's copy of snapshot NAME: zip intact, etcd's SHA-256 trailer, state file present",
    "also check the S3 copy, and compare it with the nodes' copies",
    (c) =>
      c
        .requiredOption('--name <name>', 'the snapshot to check (a plain name, without .zip)')
        .option('--identity-file <file>', 'age identities: decrypt and verify an S3 copy NAME.zip.age on this machine (with --s3)')
        .option('--restore', "also restore each node's copy with the node's own etcd image into a scratch directory, start a throw-away member on it and read it back", false),
  );
  return command.action(async (flags: ManageFlags & { name: string; identityFile?: string; restore: boolean }) => {
    onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotVerify(flags, log, display)));
  });
}

/** The options every management command has, after the command's own (`own`). */
function manageCommand(name: string, description: string, s3What: string, own: (command: Command) => Command = (c) => c): Command {
  const command = own(new Command(name).description(description));
  addS3Options(command, s3What);
  command.option('--s3-sse-c-key-file <file>', 'the SSE-C key of objects uploaded with one (to read their sha256 and verify them)');
  addNodeAccessOptions(addProgressOption(addOutputOption(command)));
  addAgentLimitOptions(command);
  addRuntimeOption(
    command,
    'short agent containers on each node (as snapshot-save runs the agent)',
    'no Docker needed: the files over SFTP, S3 from this machine (this machine\'s credential chain)',
  );
  addDebugOption(command);
  return command;
}

export async function runSnapshotLs(flags: ManageFlags, log: Logger, display?: ProgressDisplay): Promise<number> {
  return withStores(flags, log, display, async (request, scope, s3) => {
    const listings = await listSnapshots(request, scope);
    print(flags.output, lsDocument(listings), () => formatLsTable(listings));
    const failed = listings.filter((listing) => !listing.ok);
    if (failed.length) throw new OperatorError(`${failed.length} of ${listings.length} ${s3 ? 'location(s)' : 'etcd node(s)'} could not be listed: ${failedSummary(failed)}`);
    return 0;
  });
}

export async function runSnapshotRm(flags: ManageFlags & { name: string }, log: Logger, display?: ProgressDisplay): Promise<number> {
  validateRemovableName(flags.name);
  return withStores(flags, log, display, async (request, scope, s3) => {
    log.info(`Removing snapshot ${flags.name} from ${scope.cluster.etcdNodes.length} etcd node(s)${s3 ? ` and from s3://${s3}` : ''}`);
    const removals = await removeSnapshot(flags.name, request, scope);
    print(flags.output, rmDocument(flags.name, removals), () => formatRmTable(flags.name, removals));
    const found = removals.filter((r) => r.ok && r.names.some((n) => n.status !== 'missing'));
    if (found.length === 0 && removals.every((r) => r.ok)) log.warn(`snapshot ${flags.name} was not found on any ${s3 ? 'location' : 'etcd node'}`);
    if (rmExitCode(flags.name, removals) !== 0) {
      const failed = removals.filter((r): r is typeof r & { ok: false; error: string } => !r.ok);
      throw new OperatorError(`snapshot ${flags.name} could not be removed everywhere${failed.length ? `: ${failedSummary(failed)}` : ' (see the table above)'}`);
    }
    return 0;
  });
}

export async function runSnapshotPrune(flags: ManageFlags & { keep: number; dryRun: boolean }, log: Logger, display?: ProgressDisplay): Promise<number> {
  return withStores(flags, log, display, async (request, scope, s3) => {
    log.info(`${flags.dryRun ? 'Dry run: k' : 'K'}eeping the ${flags.keep} newest snapshot(s) on each of ${scope.cluster.etcdNodes.length} etcd node(s)${s3 ? ` and in s3://${s3}` : ''}`);
    const prunes = await pruneSnapshots({ keep: flags.keep, dryRun: flags.dryRun }, request, scope);
    print(flags.output, pruneDocument(flags.keep, flags.dryRun, prunes), () => formatPruneTable(flags.keep, flags.dryRun, prunes));
    if (pruneExitCode(prunes) !== 0) {
      const failed = prunes.flatMap((p) => (!p.ok ? [p] : p.removal && !p.removal.ok ? [{ ...p, ok: false as const, error: p.removal.error }] : []));
      throw new OperatorError(`the prune did not complete on every ${s3 ? 'location' : 'etcd node'}${failed.length ? `: ${failedSummary(failed)}` : ' (see the notes above)'}`);
    }
    return 0;
  });
}

export async function runSnapshotVerify(flags: ManageFlags & { name: string; identityFile?: string; restore?: boolean }, log: Logger, display?: ProgressDisplay): Promise<number> {
  validateRemovableName(flags.name);
  if (flags.restore && flags.runtime === 'ssh') {
    throw new OperatorError("--restore runs the cluster's etcd image in containers on each node and needs their Docker engine: it cannot be used with --runtime ssh");
  }
  const identities = await identitiesOf(flags);
  return withStores(flags, log, display, async (request, scope, s3, settings, runtime) => {
    log.info(`Verifying snapshot ${flags.name} on ${scope.cluster.etcdNodes.length} etcd node(s)${s3 ? ` and in s3://${s3}` : ''}`);
    if (flags.restore) log.info(`Restoring each node's copy with that node's etcd image (restore drill)`);
    let verifications = await verifySnapshot(flags.name, { ...request, restore: flags.restore === true }, scope);
    if (identities.length > 0 && settings !== undefined) {
      verifications = await decryptAndVerifyHere(verifications, settings, { name: flags.name, identities, ...(flags.identityFile ? { identityFile: flags.identityFile } : {}) }, log);
    }
    if (flags.restore && settings !== undefined) {
      const fetch = { name: flags.name, identities, ...(flags.identityFile ? { identityFile: flags.identityFile } : {}) };
      verifications = await drillS3CopyHere(verifications, settings, fetch, runtime, scope);
    }
    print(flags.output, verifyDocument(flags.name, verifications), () => formatVerifyTable(flags.name, verifications));
    const verdict = verifyVerdict(verifications);
    if (verdict.missing.length) log.warn(`snapshot ${flags.name} is missing on ${verdict.missing.join(', ')}`);
    if (verdict.exitCode !== 0) throw new OperatorError(`snapshot ${flags.name}: ${verifyProblems(verifications, verdict).join('; ')}`);
    log.info(`Snapshot ${flags.name}: ${verdict.good} good cop${verdict.good === 1 ? 'y' : 'ies'}`);
    return 0;
  });
}

function verifyProblems(verifications: LocationVerification[], verdict: ReturnType<typeof verifyVerdict>): string[] {
  const labels = (status: string) => verifications.filter((v) => v.ok && v.copy.status === status).map(locationLabel);
  return [
    ...(labels('bad').length ? [`bad copy on ${labels('bad').join(', ')}`] : []),
    ...(labels('differs').length ? [`differing copy on ${labels('differs').join(', ')}`] : []),
    ...verifications.flatMap((v) => {
      const restore = v.ok ? v.copy.restore : undefined;
      if (restore === undefined) return [];
      if (!restore.ok) return [`the copy on ${locationLabel(v)} did not restore: ${restore.error}`];
      return restore.difference ? [`the copy on ${locationLabel(v)} restored differently from its bbolt file: ${restore.difference}`] : [];
    }),
    ...(verdict.missingInS3.length ? [`missing in ${verdict.missingInS3.join(', ')}`] : []),
    ...(verdict.failed.length ? [`not checked on ${failedSummary(verifications.filter((v): v is LocationVerification & { ok: false } => !v.ok))}`] : []),
    ...(verdict.good === 0 && !verdict.bad.length && !verdict.notRestored.length && !verdict.failed.length && !verdict.missingInS3.length ? ['no copy found on any etcd node'] : []),
  ];
}

function positiveKeep(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return parsed;
}

/** "10.0.0.2; s3://B at E: <the S3 error>": nodes by address (their errors are in the table), S3 with its error. */
function failedSummary(failed: Array<Location & { ok: false; error: string }>): string {
  return failed.map((f) => (f.location === 's3' ? f.error : locationLabel(f))).join('; ');
}

function print(output: OutputFormat, document: object, table: () => string): void {
  process.stdout.write(output === 'json' ? `${JSON.stringify(document, null, 2)}\n` : `${table()}\n`);
}

/**
 * Load the cluster and the S3 settings, check the host keys, and give `work` the stores of
 * this run (`s3` is the bucket's name for messages). Ctrl-C stops the node jobs (their
 * containers are removed) and exits 130.
 */
async function withStores(
  flags: ManageFlags,
  log: Logger,
  display: ProgressDisplay | undefined,
  work: (request: ManageRequest, scope: RunScope, s3: string | undefined, settings: S3Settings | undefined, runtime: NodeRuntime) => Promise<number>,
): Promise<number> {
  const cluster = await loadClusterConfig(flags.config);
  const s3 = await resolveS3Flags(flags, cluster, flags.config, log);
  const hostKeys = await prepareNodeAccess(flags, cluster, log);
  const runtime = await chooseRuntime(flags.runtime, async () =>
    dockerRuntime({ image: { kind: 'bundled', images: await locateBundledAgentImage() }, ignoreDockerVersion: true, limits: agentLimitsOf(flags, log) }),
  );
  const interrupts = flags.runtime === 'ssh' ? 'SFTP transfers' : 'agent containers';
  return withNodeRun({ cluster, flags, hostKeys, log, ...(display ? { display } : {}), interrupts }, (scope) =>
    work({ stores: storesOf(runtime, scope, s3), concurrency: flags.concurrency, ...(display ? { nodesDone: () => display.stop() } : {}) }, scope, s3?.bucketName, s3, runtime),
  );
}

/**
 * --s3 --restore, after the nodes' drills (one drill at a time per node): the S3 copy is
 * downloaded here, placed on an etcd node and drilled there (snapshot/s3-drill.ts).
 */
async function drillS3CopyHere(verifications: LocationVerification[], settings: S3Settings, fetch: FetchRequest, runtime: NodeRuntime, scope: RunScope): Promise<LocationVerification[]> {
  return Promise.all(
    verifications.map(async (v): Promise<LocationVerification> => {
      if (!v.ok || v.location !== 's3' || v.copy.status !== 'ok') return v;
      scope.log.info(`restore drill of the S3 copy ${v.copy.file}: downloading it here to place it on an etcd node`);
      const { via, ...drilled } = await drillS3Copy(settings, fetch, scope.cluster.etcdNodes, runtime, scope);
      for (const warning of drilled.warnings) scope.log.warn(`[${locationLabel(v)}] ${warning}`);
      if (!drilled.ok) scope.log.warn(`[${locationLabel(v)}] restore drill failed: ${drilled.error}`);
      const finding = restoreFinding(v.copy, drilled);
      return { ...v, copy: { ...v.copy, restore: finding.ok && via ? { ...finding, via } : finding } };
    }),
  );
}

async function identitiesOf(flags: ManageFlags & { identityFile?: string }): Promise<string[]> {
  if (flags.identityFile === undefined) return [];
  if (!flags.s3) throw new OperatorError('--identity-file decrypts the S3 copy: add --s3');
  const text = await readFile(flags.identityFile, 'utf8').catch((error: unknown) => {
    throw new OperatorError(`--identity-file: cannot read ${flags.identityFile}: ${messageOf(error)}`);
  });
  return parseIdentities(text, flags.identityFile);
}

/**
 * An S3 copy the agent reported `encrypted` (NAME.zip.age) is downloaded, decrypted and
 * checked on this machine (the identities never leave it), then compared with the nodes'.
 */
async function decryptAndVerifyHere(verifications: LocationVerification[], settings: S3Settings, request: FetchRequest, log: Logger): Promise<LocationVerification[]> {
  const checked = await Promise.all(
    verifications.map(async (v): Promise<LocationVerification> => {
      if (!v.ok || v.location !== 's3' || v.copy.status !== 'encrypted') return v;
      log.info(`decrypting and verifying ${v.copy.file} on this machine (--identity-file)`);
      try {
        const result = await verifyEncryptedCopy(settings, request);
        return { ...v, copy: { ...v.copy, ...result, ...(result.status === 'ok' ? { problem: undefined } : {}) } } as LocationVerification;
      } catch (error) {
        const { copy: _copy, ok: _ok, ...location } = v;
        return { ...location, ok: false, error: messageOf(error) } as LocationVerification;
      }
    }),
  );
  return compareWithNodes(checked);
}
