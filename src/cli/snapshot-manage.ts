/**
 * `rke etcd snapshot-ls`, `snapshot-rm`, `snapshot-prune`, `snapshot-verify`: what the etcd
 * nodes hold under /opt/rke/etcd-snapshots, read and removed by short agent containers on
 * each node (etcd-snapshot-ls, etcd-snapshot-rm, etcd-snapshot-verify), over the same
 * SSH/Docker path as snapshot-save; with --s3 also the bucket/folder, as its own location,
 * from one etcd node's container (s3-location.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { locateBundledAgentImage } from '../docker/bundled-image.js';
import type { SnapshotRemoval, S3Removal } from '../model/snapshot.js';
import { validateRemovableName } from '../model/names.js';
import { loadClusterConfig, type NodeConfig } from '../config/cluster.js';
import { OperatorError } from '../errors.js';
import { listenForInterruption } from './interruption.js';
import { withProgressDisplay, type ProgressDisplay, type ProgressMode } from './progress-display.js';
import type { Logger } from '../log.js';
import type { S3Settings } from '../s3/settings.js';
import {
  compareWithNodes,
  locationLabel,
  formatLsTable,
  formatPruneTable,
  formatRmTable,
  formatVerifyTable,
  verifyDocument,
  verifyVerdict,
  type LocationVerification,
  lsDocument,
  planPrune,
  pruneDocument,
  pruneExitCode,
  rmDocument,
  rmExitCode,
  type Location,
  type LocationListing,
  type LocationPrune,
  type LocationRemoval,
} from '../snapshot/inventory.js';
import { listNode, removeOnNode, verifyOnNode, type NodeOutcome } from '../snapshot/docker-runtime/node-files.js';
import { listS3, removeOnS3, verifyOnS3, type S3Outcome } from '../snapshot/s3-location.js';
import type { RunContext } from '../snapshot/docker-runtime/node-snapshot.js';
import { mapConcurrently, openBastion } from '../snapshot/save.js';
import {
  addDebugOption,
  addNodeAccessOptions,
  addOutputOption,
  addProgressOption,
  addS3Options,
  prepareNodeAccess,
  resolveS3Flags,
  type NodeAccessFlags,
  type OutputFormat,
  type S3CommandFlags,
} from './common-flags.js';

interface ManageFlags extends NodeAccessFlags, S3CommandFlags {
  output: OutputFormat;
  progress: ProgressMode;
}

export function snapshotLsCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-ls').description('List the snapshots (zip, raw, pki.bundle.tar.gz) under /opt/rke/etcd-snapshots on every etcd node');
  addS3Options(command, 'also list the snapshot objects in the S3 bucket/folder');
  addNodeAccessOptions(addProgressOption(addOutputOption(command)));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags) => onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotLs(flags, log, display))));
}

export function snapshotRmCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-rm')
    .description('Remove snapshot NAME (NAME.zip and a raw NAME) from every etcd node')
    .requiredOption('--name <name>', 'the snapshot to remove (a plain name, without .zip)');
  addS3Options(command, 'also remove NAME.zip and NAME.pki.bundle.tar.gz from the S3 bucket/folder');
  addNodeAccessOptions(addProgressOption(addOutputOption(command)));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags & { name: string }) => {
    onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotRm(flags, log, display)));
  });
}

export function snapshotPruneCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-prune')
    .description('Keep the N newest zip snapshots on every etcd node and remove the older ones')
    .addOption(new Option('--keep <n>', 'how many of the newest snapshots to keep per location').argParser(positiveKeep).makeOptionMandatory())
    .option('--dry-run', 'only show what would be removed', false);
  addS3Options(command, 'also prune the S3 bucket/folder, as its own location');
  addNodeAccessOptions(addProgressOption(addOutputOption(command)));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags & { keep: number; dryRun: boolean }) => {
    onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotPrune(flags, log, display)));
  });
}

export function snapshotVerifyCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-verify')
    .description('Check every etcd node\'s copy of snapshot NAME: zip intact, etcd\'s SHA-256 trailer, state file present')
    .requiredOption('--name <name>', 'the snapshot to check (a plain name, without .zip)');
  addS3Options(command, 'also check the S3 copy, and compare it with the nodes\' copies');
  addNodeAccessOptions(addProgressOption(addOutputOption(command)));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags & { name: string }) => {
    onExit(await withProgressDisplay(flags.progress, flags.debug, (log, display) => runSnapshotVerify(flags, log, display)));
  });
}

export async function runSnapshotVerify(flags: ManageFlags & { name: string }, log: Logger, display?: ProgressDisplay): Promise<number> {
  validateRemovableName(flags.name);
  return withNodes(flags, log, display, 'verify', async (context, nodes, s3) => {
    log.info(`Verifying snapshot ${flags.name} on ${nodes.length} etcd node(s)${s3 ? ` and in s3://${s3.bucketName}` : ''}`);
    const [outcomes, s3Outcome] = await Promise.all([
      forEachNode(nodes, flags, display, async (node) => warned(await verifyOnNode(node, flags.name, context), log), 'verify'),
      s3 ? verifyOnS3(nodes, s3, flags.name, context).then((outcome) => s3Warned(outcome, log)) : undefined,
    ]);
    const checked: LocationVerification[] = outcomes.map((outcome) => {
      if (!outcome.ok) return { ...where(outcome.node), ok: false, error: outcome.error };
      const { ok: _ok, durationMs: _ms, peakRssBytes: _rss, ...copy } = outcome.result;
      return { ...where(outcome.node), ok: true, copy };
    });
    if (s3Outcome) {
      if (!s3Outcome.ok) checked.push({ ...s3Outcome.location, ok: false, error: s3Outcome.error });
      else {
        const { ok: _ok, durationMs: _ms, peakRssBytes: _rss, ...copy } = s3Outcome.result;
        checked.push({ ...s3Outcome.location, ok: true, copy });
      }
    }
    const verifications = compareWithNodes(checked);
    print(flags.output, verifyDocument(flags.name, verifications), () => formatVerifyTable(flags.name, verifications));
    const verdict = verifyVerdict(verifications);
    if (verdict.missing.length) log.warn(`snapshot ${flags.name} is missing on ${verdict.missing.join(', ')}`);
    if (verdict.exitCode !== 0) {
      const labels = (status: string) => verifications.filter((v) => v.ok && v.copy.status === status).map(locationLabel);
      const why = [
        ...(labels('bad').length ? [`bad copy on ${labels('bad').join(', ')}`] : []),
        ...(labels('differs').length ? [`differing copy on ${labels('differs').join(', ')}`] : []),
        ...(verdict.missingInS3.length ? [`missing in ${verdict.missingInS3.join(', ')}`] : []),
        ...(verdict.failed.length ? [`not checked on ${failedSummary(verifications.filter((v): v is LocationVerification & { ok: false } => !v.ok))}`] : []),
        ...(verdict.good === 0 && !verdict.bad.length && !verdict.failed.length && !verdict.missingInS3.length ? ['no copy found on any etcd node'] : []),
      ];
      throw new OperatorError(`snapshot ${flags.name}: ${why.join('; ')}`);
    }
    log.info(`Snapshot ${flags.name}: ${verdict.good} good cop${verdict.good === 1 ? 'y' : 'ies'}`);
    return 0;
  });
}

function positiveKeep(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return parsed;
}

export async function runSnapshotLs(flags: ManageFlags, log: Logger, display?: ProgressDisplay): Promise<number> {
  return withNodes(flags, log, display, 'ls', async (context, nodes, s3) => {
    const [outcomes, s3Outcome] = await Promise.all([
      forEachNode(nodes, flags, display, async (node) => warned(await listNode(node, context), log)),
      s3 ? listS3(nodes, s3, context).then((outcome) => s3Warned(outcome, log)) : undefined,
    ]);
    const listings: LocationListing[] = outcomes.map((outcome) =>
      outcome.ok
        ? { ...where(outcome.node), ok: true, dir: outcome.result.dir, files: outcome.result.files, skipped: outcome.result.skipped }
        : { ...where(outcome.node), ok: false, error: outcome.error },
    );
    if (s3Outcome) {
      listings.push(
        s3Outcome.ok
          ? { ...s3Outcome.location, ok: true, dir: s3Outcome.result.dir, files: s3Outcome.result.files, skipped: s3Outcome.result.skipped }
          : { ...s3Outcome.location, ok: false, error: s3Outcome.error },
      );
    }
    for (const listing of listings) {
      if (listing.ok) for (const skip of listing.skipped) log.warn(`[${locationLabel(listing)}] ${listing.dir}/${skip.file} not listed: ${skip.reason}`);
    }
    print(flags.output, lsDocument(listings), () => formatLsTable(listings));
    const failed = listings.filter((listing) => !listing.ok);
    if (failed.length) throw new OperatorError(`${failed.length} of ${listings.length} ${s3 ? 'location(s)' : 'etcd node(s)'} could not be listed: ${failedSummary(failed)}`);
    return 0;
  });
}

/** "10.0.0.2; s3://B at E: <the S3 error>": nodes by address (their errors are in the table), S3 with its error. */
function failedSummary(failed: Array<Location & { ok: false; error: string }>): string {
  return failed.map((f) => (f.location === 's3' ? f.error : locationLabel(f))).join('; ');
}

export async function runSnapshotRm(flags: ManageFlags & { name: string }, log: Logger, display?: ProgressDisplay): Promise<number> {
  validateRemovableName(flags.name);
  return withNodes(flags, log, display, 'rm', async (context, nodes, s3) => {
    log.info(`Removing snapshot ${flags.name} from ${nodes.length} etcd node(s)${s3 ? ` and from s3://${s3.bucketName}` : ''}`);
    const [outcomes, s3Outcome] = await Promise.all([
      forEachNode(nodes, flags, display, async (node) => warned(await removeOnNode(node, [flags.name], context), log)),
      s3 ? removeOnS3(nodes, s3, [flags.name], context).then((outcome) => s3Warned(outcome, log)) : undefined,
    ]);
    const removals: LocationRemoval[] = outcomes.map(toRemoval);
    if (s3Outcome) removals.push(s3Removal(s3Outcome, log));
    print(flags.output, rmDocument(flags.name, removals), () => formatRmTable(flags.name, removals));
    const found = removals.filter((r) => r.ok && r.names.some((n) => n.status !== 'missing'));
    if (found.length === 0 && removals.every((r) => r.ok)) log.warn(`snapshot ${flags.name} was not found on any ${s3 ? 'location' : 'etcd node'}`);
    const code = rmExitCode(flags.name, removals);
    if (code !== 0) {
      const failed = removals.filter((r): r is LocationRemoval & { ok: false; error: string } => !r.ok);
      throw new OperatorError(`snapshot ${flags.name} could not be removed everywhere${failed.length ? `: ${failedSummary(failed)}` : ' (see the table above)'}`);
    }
    return 0;
  });
}

function s3Removal(outcome: S3Outcome<S3Removal>, log: Logger): LocationRemoval {
  if (!outcome.ok) return { ...outcome.location, ok: false, error: outcome.error };
  const markers = outcome.result.names.flatMap((n) => n.removed.filter((r) => r.deleteMarker !== undefined));
  if (outcome.result.versioned && markers.length) {
    log.info(`${locationLabel(outcome.location)} is versioned: removed objects got a delete marker; their older versions stay until a lifecycle rule or an explicit version delete removes them`);
  }
  return { ...outcome.location, ok: true, names: outcome.result.names };
}

export async function runSnapshotPrune(flags: ManageFlags & { keep: number; dryRun: boolean }, log: Logger, display?: ProgressDisplay): Promise<number> {
  return withNodes(flags, log, display, 'prune', async (context, nodes, s3) => {
    log.info(`${flags.dryRun ? 'Dry run: k' : 'K'}eeping the ${flags.keep} newest snapshot(s) on each of ${nodes.length} etcd node(s)${s3 ? ` and in s3://${s3.bucketName}` : ''}`);
    const [prunes, s3Prune] = await Promise.all([
      forEachNode(nodes, flags, display, async (node): Promise<LocationPrune> => {
        const listing = warned(await listNode(node, context), log);
        if (!listing.ok) return { ...where(node), ok: false, error: listing.error };
        const plan = planPrune(listing.result.files, flags.keep);
        if (flags.dryRun || plan.remove.length === 0) return { ...where(node), ok: true, plan };
        const removal = toRemoval(warned(await removeOnNode(node, plan.remove, context), log));
        return { ...where(node), ok: true, plan, removal: removal.ok ? { ok: true, names: removal.names } : { ok: false, error: removal.error } };
      }),
      s3 ? pruneS3(nodes, s3, flags, context, log) : undefined,
    ]);
    if (s3Prune) prunes.push(s3Prune);
    print(flags.output, pruneDocument(flags.keep, flags.dryRun, prunes), () => formatPruneTable(flags.keep, flags.dryRun, prunes));
    if (pruneExitCode(prunes) !== 0) {
      const failed = prunes.flatMap((p) => (!p.ok ? [p] : p.removal && !p.removal.ok ? [{ ...p, ok: false as const, error: p.removal.error }] : []));
      throw new OperatorError(`the prune did not complete on every ${s3 ? 'location' : 'etcd node'}${failed.length ? `: ${failedSummary(failed)}` : ' (see the notes above)'}`);
    }
    return 0;
  });
}

/** S3 is its own location: the N newest NAME.zip objects stay, older ones go (with their NAME.pki.bundle.tar.gz). */
async function pruneS3(nodes: NodeConfig[], s3: S3Settings, flags: { keep: number; dryRun: boolean }, context: RunContext, log: Logger): Promise<LocationPrune> {
  const listing = s3Warned(await listS3(nodes, s3, context), log);
  if (!listing.ok) return { ...listing.location, ok: false, error: listing.error };
  const plan = planPrune(listing.result.files, flags.keep);
  if (flags.dryRun || plan.remove.length === 0) return { ...listing.location, ok: true, plan };
  const removal = s3Removal(s3Warned(await removeOnS3(nodes, s3, plan.remove, context), log), log);
  return { ...listing.location, ok: true, plan, removal: removal.ok ? { ok: true, names: removal.names } : { ok: false, error: removal.error } };
}

/** The S3 job's warnings (from the agent, or a container left behind), and its failure, on stderr. */
function s3Warned<T>(outcome: S3Outcome<T>, log: Logger): S3Outcome<T> {
  const label = locationLabel(outcome.location);
  for (const warning of outcome.warnings) log.warn(`[${label}] ${warning}`);
  if (outcome.ok) for (const warning of (outcome.result as { warnings?: string[] }).warnings ?? []) log.warn(`[${label}] ${warning}`);
  else log.warn(`[${label}] failed: ${outcome.error}`);
  return outcome;
}

function toRemoval(outcome: NodeOutcome<SnapshotRemoval>): LocationRemoval {
  return outcome.ok ? { ...where(outcome.node), ok: true, names: outcome.result.names } : { ...where(outcome.node), ok: false, error: outcome.error };
}

function where(node: NodeConfig): Location & { location: 'node' } {
  return { location: 'node', node: node.address, ...(node.hostnameOverride ? { hostnameOverride: node.hostnameOverride } : {}) };
}

function print(output: OutputFormat, document: object, table: () => string): void {
  process.stdout.write(output === 'json' ? `${JSON.stringify(document, null, 2)}\n` : `${table()}\n`);
}

/**
 * Each node's job, `concurrency` at a time. The progress display shows each node working,
 * then done or failed, and stops when the last node is done: the table comes next.
 */
async function forEachNode<R extends { ok: boolean }>(
  nodes: NodeConfig[],
  flags: ManageFlags,
  display: ProgressDisplay | undefined,
  work: (node: NodeConfig) => Promise<R>,
  phase: 'connecting' | 'verify' = 'connecting',
): Promise<R[]> {
  const results = await mapConcurrently(nodes, flags.concurrency, async (node) => {
    display?.event({ node: node.address, phase });
    const result = await work(node);
    display?.event({ node: node.address, phase: result.ok ? 'done' : 'failed' });
    return result;
  });
  display?.stop();
  return results;
}

/** A node job's warnings (e.g. a container that could not be removed), then the outcome itself. */
function warned<T>(outcome: NodeOutcome<T>, log: Logger): NodeOutcome<T> {
  for (const warning of outcome.warnings) log.warn(`[${outcome.node.address}] ${warning}`);
  if (!outcome.ok) log.warn(`[${outcome.node.address}] failed: ${outcome.error}`);
  return outcome;
}

/**
 * Load the cluster, check the host keys, open the bastion, and give `work` the context
 * every node job needs. Ctrl-C aborts the node jobs (their containers are removed) and exits 130.
 */
async function withNodes(
  flags: ManageFlags,
  log: Logger,
  display: ProgressDisplay | undefined,
  job: string,
  work: (context: RunContext, nodes: NodeConfig[], s3: S3Settings | undefined) => Promise<number>,
): Promise<number> {
  const cluster = await loadClusterConfig(flags.config);
  const s3 = await resolveS3Flags(flags, cluster, flags.config, log);
  const hostKeys = await prepareNodeAccess(flags, cluster, log);
  const image = await locateBundledAgentImage();
  const interruption = listenForInterruption(log, 'agent containers');
  const base = {
    cluster,
    name: job,
    overwrite: false,
    ignoreDockerVersion: true,
    sshAgentAuth: flags.sshAgentAuth,
    image: { kind: 'bundled' as const, image },
    hostKeys,
    timeouts: { sshConnectMs: 15_000, dockerApiMs: 30_000, imageTransferMs: flags.imageTimeout * 1000, snapshotMs: cluster.etcd.backupTimeoutSeconds * 1000 },
    signal: interruption.signal,
    log,
  };
  display?.start(cluster.etcdNodes.map((node) => node.address));
  const bastion = openBastion(base);
  try {
    const code = await work({ ...base, ...(bastion ? { bastion } : {}) }, cluster.etcdNodes, s3);
    return interruption.exitCode ?? code;
  } catch (error) {
    if (interruption.exitCode !== undefined) return interruption.exitCode;
    throw error;
  } finally {
    bastion?.close();
    interruption.dispose();
  }
}
