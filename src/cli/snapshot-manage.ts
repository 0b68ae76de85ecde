/**
 * `rke etcd snapshot-ls`, `snapshot-rm`, `snapshot-prune`: what the etcd nodes hold under
 * /opt/rke/etcd-snapshots, read and removed by short agent containers on each node
 * (etcd-snapshot-ls, etcd-snapshot-rm), over the same SSH/Docker path as snapshot-save.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { locateBundledAgentImage } from '../agent/bundled-image.js';
import type { AgentRemoveSuccess } from '../agent/protocol.js';
import { validateRemovableName } from '../agent/snapshot-files.js';
import { loadClusterConfig, type NodeConfig } from '../config/cluster.js';
import { OperatorError } from '../errors.js';
import { listenForInterruption } from './interruption.js';
import { stderrLogger, type Logger } from '../log.js';
import {
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
import { listNode, removeOnNode, verifyOnNode, type NodeOutcome } from '../snapshot/node-files.js';
import type { RunContext } from '../snapshot/node-snapshot.js';
import { mapConcurrently, openBastion } from '../snapshot/save.js';
import { addDebugOption, addNodeAccessOptions, addOutputOption, prepareNodeAccess, type NodeAccessFlags, type OutputFormat } from './common-flags.js';

interface ManageFlags extends NodeAccessFlags {
  output: OutputFormat;
}

export function snapshotLsCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-ls').description('List the snapshots (zip, raw, pki.bundle.tar.gz) under /opt/rke/etcd-snapshots on every etcd node');
  addNodeAccessOptions(addOutputOption(command));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags) => {
    const log = stderrLogger({ debug: flags.debug });
    onExit(await runSnapshotLs(flags, log));
  });
}

export function snapshotRmCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-rm')
    .description('Remove snapshot NAME (NAME.zip and a raw NAME) from every etcd node')
    .requiredOption('--name <name>', 'the snapshot to remove (a plain name, without .zip)');
  addNodeAccessOptions(addOutputOption(command));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags & { name: string }) => {
    onExit(await runSnapshotRm(flags, stderrLogger({ debug: flags.debug })));
  });
}

export function snapshotPruneCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-prune')
    .description('Keep the N newest zip snapshots on every etcd node and remove the older ones')
    .addOption(new Option('--keep <n>', 'how many of the newest snapshots to keep per location').argParser(positiveKeep).makeOptionMandatory())
    .option('--dry-run', 'only show what would be removed', false);
  addNodeAccessOptions(addOutputOption(command));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags & { keep: number; dryRun: boolean }) => {
    onExit(await runSnapshotPrune(flags, stderrLogger({ debug: flags.debug })));
  });
}

export function snapshotVerifyCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-verify')
    .description('Check every etcd node\'s copy of snapshot NAME: zip intact, etcd\'s SHA-256 trailer, state file present')
    .requiredOption('--name <name>', 'the snapshot to check (a plain name, without .zip)');
  addNodeAccessOptions(addOutputOption(command));
  addDebugOption(command);
  return command.action(async (flags: ManageFlags & { name: string }) => {
    onExit(await runSnapshotVerify(flags, stderrLogger({ debug: flags.debug })));
  });
}

export async function runSnapshotVerify(flags: ManageFlags & { name: string }, log: Logger): Promise<number> {
  validateRemovableName(flags.name);
  return withNodes(flags, log, 'verify', async (context, nodes) => {
    log.info(`Verifying snapshot ${flags.name} on ${nodes.length} etcd node(s)`);
    const outcomes = await forEachNode(nodes, flags, async (node) => warned(await verifyOnNode(node, flags.name, context), log));
    const verifications: LocationVerification[] = outcomes.map((outcome) => {
      if (!outcome.ok) return { ...where(outcome.node), ok: false, error: outcome.error };
      const { ok: _ok, durationMs: _ms, peakRssBytes: _rss, ...copy } = outcome.result;
      return { ...where(outcome.node), ok: true, copy };
    });
    print(flags.output, verifyDocument(flags.name, verifications), () => formatVerifyTable(flags.name, verifications));
    const verdict = verifyVerdict(verifications);
    if (verdict.missing.length) log.warn(`snapshot ${flags.name} is missing on ${verdict.missing.join(', ')}`);
    if (verdict.exitCode !== 0) {
      const why = [
        ...(verdict.bad.length ? [`bad copy on ${verdict.bad.join(', ')}`] : []),
        ...(verdict.failed.length ? [`not checked on ${verdict.failed.join(', ')}`] : []),
        ...(verdict.good === 0 && !verdict.bad.length && !verdict.failed.length ? ['no copy found on any etcd node'] : []),
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

export async function runSnapshotLs(flags: ManageFlags, log: Logger): Promise<number> {
  return withNodes(flags, log, 'ls', async (context, nodes) => {
    const outcomes = await forEachNode(nodes, flags, async (node) => warned(await listNode(node, context), log));
    const listings: LocationListing[] = outcomes.map((outcome) =>
      outcome.ok
        ? { ...where(outcome.node), ok: true, dir: outcome.result.dir, files: outcome.result.files, skipped: outcome.result.skipped }
        : { ...where(outcome.node), ok: false, error: outcome.error },
    );
    for (const listing of listings) {
      if (listing.ok) for (const skip of listing.skipped) log.warn(`[${listing.node}] ${listing.dir}/${skip.file} not listed: ${skip.reason}`);
    }
    print(flags.output, lsDocument(listings), () => formatLsTable(listings));
    const failed = listings.filter((listing) => !listing.ok);
    if (failed.length) throw new OperatorError(`${failed.length} of ${listings.length} etcd node(s) could not be listed: ${failed.map((f) => f.node).join(', ')}`);
    return 0;
  });
}

export async function runSnapshotRm(flags: ManageFlags & { name: string }, log: Logger): Promise<number> {
  validateRemovableName(flags.name);
  return withNodes(flags, log, 'rm', async (context, nodes) => {
    log.info(`Removing snapshot ${flags.name} from ${nodes.length} etcd node(s)`);
    const outcomes = await forEachNode(nodes, flags, async (node) => warned(await removeOnNode(node, [flags.name], context), log));
    const removals: LocationRemoval[] = outcomes.map(toRemoval);
    print(flags.output, rmDocument(flags.name, removals), () => formatRmTable(flags.name, removals));
    const found = removals.filter((r) => r.ok && r.names.some((n) => n.status !== 'missing'));
    if (found.length === 0 && removals.every((r) => r.ok)) log.warn(`snapshot ${flags.name} was not found on any etcd node`);
    const code = rmExitCode(flags.name, removals);
    if (code !== 0) throw new OperatorError(`snapshot ${flags.name} could not be removed everywhere (see the errors above)`);
    return 0;
  });
}

export async function runSnapshotPrune(flags: ManageFlags & { keep: number; dryRun: boolean }, log: Logger): Promise<number> {
  return withNodes(flags, log, 'prune', async (context, nodes) => {
    log.info(`${flags.dryRun ? 'Dry run: k' : 'K'}eeping the ${flags.keep} newest snapshot(s) on each of ${nodes.length} etcd node(s)`);
    const prunes = await forEachNode(nodes, flags, async (node): Promise<LocationPrune> => {
      const listing = warned(await listNode(node, context), log);
      if (!listing.ok) return { ...where(node), ok: false, error: listing.error };
      const plan = planPrune(listing.result.files, flags.keep);
      if (flags.dryRun || plan.remove.length === 0) return { ...where(node), ok: true, plan };
      const removal = toRemoval(warned(await removeOnNode(node, plan.remove, context), log));
      return { ...where(node), ok: true, plan, removal: removal.ok ? { ok: true, names: removal.names } : { ok: false, error: removal.error } };
    });
    print(flags.output, pruneDocument(flags.keep, flags.dryRun, prunes), () => formatPruneTable(flags.keep, flags.dryRun, prunes));
    if (pruneExitCode(prunes) !== 0) throw new OperatorError('the prune did not complete on every etcd node (see the errors above)');
    return 0;
  });
}

function toRemoval(outcome: NodeOutcome<AgentRemoveSuccess>): LocationRemoval {
  return outcome.ok ? { ...where(outcome.node), ok: true, names: outcome.result.names } : { ...where(outcome.node), ok: false, error: outcome.error };
}

function where(node: NodeConfig): Location {
  return { location: 'node', node: node.address, ...(node.hostnameOverride ? { hostnameOverride: node.hostnameOverride } : {}) };
}

function print(output: OutputFormat, document: object, table: () => string): void {
  process.stdout.write(output === 'json' ? `${JSON.stringify(document, null, 2)}\n` : `${table()}\n`);
}

function forEachNode<R>(nodes: NodeConfig[], flags: ManageFlags, work: (node: NodeConfig) => Promise<R>): Promise<R[]> {
  return mapConcurrently(nodes, flags.concurrency, work);
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
  job: string,
  work: (context: RunContext, nodes: NodeConfig[]) => Promise<number>,
): Promise<number> {
  const cluster = await loadClusterConfig(flags.config);
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
  const bastion = openBastion(base);
  try {
    const code = await work({ ...base, ...(bastion ? { bastion } : {}) }, cluster.etcdNodes);
    return interruption.exitCode ?? code;
  } catch (error) {
    if (interruption.exitCode !== undefined) return interruption.exitCode;
    throw error;
  } finally {
    bastion?.close();
    interruption.dispose();
  }
}
