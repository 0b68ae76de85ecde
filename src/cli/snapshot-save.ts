import { COMPRESSION_DESCRIPTIONS, COMPRESSION_MODES, DEFAULT_COMPRESSION, type CompressionMode } from '../model/compression.js';
import { Command, Option } from 'commander';
import { locateBundledAgentImage } from '../docker/bundled-image.js';
import { loadClusterConfig, type ClusterConfig } from '../config/cluster.js';
import type { ImageSource } from '../docker/image.js';
import { resolveRegistryImage } from '../docker/registry.js';
import { OperatorError } from '../errors.js';
import type { ProtectionFlags } from '../s3/protection.js';
import type { S3Settings } from '../s3/settings.js';
import { checkObjectLockFromHere } from '../s3/lock-check.js';
import { addRuntimeOption, withNodeRun } from './node-run.js';
import { sshRuntime } from '../snapshot/ssh-runtime/index.js';
import { withProgressDisplay, type ProgressDisplay, type ProgressMode } from './progress-display.js';
import type { Logger } from '../log.js';
import { defaultNameWarning, defaultSnapshotName, validateSnapshotName } from '../model/names.js';
import { formatPlan, planSave } from '../snapshot/plan.js';
import { formatResultTable } from '../snapshot/report.js';
import { saveResultDocument } from '../snapshot/result-json.js';
import { verdictFor, type RuntimeName } from '../snapshot/result.js';
import { dockerRuntime } from '../snapshot/docker-runtime/index.js';
import { saveSnapshots } from '../snapshot/save.js';
import { IMAGE_CONTRACT_CHOICES, type ImageContractChoice } from '../snapshot/docker-runtime/options.js';
import {
  addAgentLimitOptions,
  addDebugOption,
  agentLimitsOf,
  addNodeAccessOptions,
  addOutputOption,
  addProgressOption,
  addS3Options,
  addS3ProtectionOptions,
  prepareNodeAccess,
  resolveS3Flags,
  type AgentLimitFlags,
  type NodeAccessFlags,
  type OutputFormat,
  type S3CommandFlags,
} from './common-flags.js';

/** The parsed flags of `rke etcd snapshot-save`. */
export interface SnapshotSaveFlags extends S3CommandFlags, ProtectionFlags, NodeAccessFlags, AgentLimitFlags {
  name?: string;
  ignoreDockerVersion: boolean;
  strict: boolean;
  overwrite: boolean;
  backupImage?: string;
  pkiBundle: boolean;
  compression: CompressionMode;
  backupImageContract: ImageContractChoice;
  dryRun: boolean;
  output: OutputFormat;
  runtime: RuntimeName;
  progress: ProgressMode;
}

export function snapshotSaveCommand(onExit: (code: number) => void): Command {
  const command = new Command('snapshot-save')
    .description('Take a one-time snapshot of every etcd node, kept on each node under /opt/rke/etcd-snapshots')
    .option('--name <name>', 'snapshot name (default: rke_etcd_snapshot_<RFC3339 time>)')
    .option('--ignore-docker-version', 'skip the Docker version check', false)
    .option('--strict', 'fail the run when any node fails (default: only when all fail)', false)
    .option('--overwrite', 'replace an existing snapshot of the same name on a node', false)
    .option('--backup-image <image>', 'run this image instead of the bundled backup agent (pulled with the private_registries login)')
    .addOption(
      new Option('--backup-image-contract <contract>', "how to drive the image: native (our agent's protocol), rke-tools (rke-tools' command line, as RKE runs it); auto: native for images labelled by this project, rke-tools for others")
        .choices(IMAGE_CONTRACT_CHOICES)
        .default('auto'),
    )
    .option('--pki-bundle', 'also save each node\'s /etc/kubernetes/ssl as /opt/rke/etcd-snapshots/pki.bundle.tar.gz (pre-v0.2.0 clusters); with --s3 also uploaded', false)
    .addOption(
      new Option(
        '--compression <mode>',
        `how the snapshot is compressed in the zip (always one deflate stream, which every unzip and RKE's restore read): ${COMPRESSION_MODES.map((mode) => `${mode} (${COMPRESSION_DESCRIPTIONS[mode]})`).join(', ')}`,
      )
        .choices(COMPRESSION_MODES)
        .default(DEFAULT_COMPRESSION),
    )
    .option('--dry-run', 'print what would be done (nodes, image, paths, bucket and keys) and contact nothing', false);
  addRuntimeOption(
    command,
    'the backup agent in a one-off container on each node (as RKE)',
    'no Docker needed, etcd through an SSH tunnel, the zip written over SFTP, --s3 uploads from this machine',
  );
  addS3Options(command, 'also upload the snapshot to S3');
  addS3ProtectionOptions(command);
  addProgressOption(command);
  addNodeAccessOptions(command);
  addAgentLimitOptions(command);
  addOutputOption(command);
  addDebugOption(command);
  return command.action(async (flags: SnapshotSaveFlags) => {
    onExit(await withProgressDisplay(flags.dryRun ? 'none' : flags.progress, flags.debug, (log, display) => runSnapshotSave(flags, log, display)));
  });
}

/** Returns the process exit status. Throws OperatorError for bad input, before any node is touched. */
export async function runSnapshotSave(flags: SnapshotSaveFlags, log: Logger, display?: ProgressDisplay): Promise<number> {
  const name = flags.name ?? defaultSnapshotName(new Date());
  if (flags.name === undefined) log.warn(defaultNameWarning(name));
  validateSnapshotName(name);
  if (flags.pkiBundle && flags.backupImageContract === 'rke-tools') {
    throw new OperatorError("--pki-bundle needs the bundled agent's protocol: rke-tools' command line has no PKI bundle (drop --backup-image-contract rke-tools)");
  }
  if (flags.compression !== DEFAULT_COMPRESSION && flags.backupImageContract === 'rke-tools') {
    log.warn(`--compression ${flags.compression} is not passed on: rke-tools' command line has no such setting, the image compresses as it does`);
  }
  checkRuntimeFlags(flags);
  const cluster = await loadClusterConfig(flags.config);
  const s3 = await resolveS3Flags(flags, cluster, flags.config, log);
  checkProtectionFlags(flags, s3);
  const image = flags.runtime === 'ssh' ? undefined : await chooseImage(flags, cluster, log);
  if (s3 && (s3.protection?.lock || s3.protection?.legalHold) && !flags.dryRun) {
    if (s3.credentials || flags.runtime === 'ssh') await checkObjectLockFromHere(s3, name);
    else log.warn("--s3-object-lock-*/--s3-legal-hold: without static keys the bucket's Object Lock is checked by the uploading node, after the snapshot");
  }
  const hostKeys = await prepareNodeAccess(flags, cluster, log);
  if (flags.dryRun) {
    const plan = planSave({
      cluster,
      clusterFile: flags.config,
      name,
      ...(image ? { image } : {}),
      imageContract: flags.backupImageContract,
      sshAgentAuth: flags.sshAgentAuth,
      concurrency: flags.concurrency,
      overwrite: flags.overwrite,
      pkiBundle: flags.pkiBundle,
      compression: flags.compression,
      runtime: flags.runtime,
      ...(s3 ? { s3 } : {}),
    });
    process.stdout.write((flags.output === 'json' ? JSON.stringify(plan, null, 2) : formatPlan(plan)) + '\n');
    return 0;
  }

  // No image is chosen for --runtime ssh: it starts no container.
  const runtime =
    image === undefined
      ? sshRuntime
      : dockerRuntime({
          image,
          imageContract: flags.backupImageContract,
          ignoreDockerVersion: flags.ignoreDockerVersion || cluster.ignoreDockerVersion,
          limits: agentLimitsOf(flags, log),
        });
  const interrupts = flags.runtime === 'ssh' ? 'snapshot transfers and their temporary files' : 'snapshot containers';
  return withNodeRun({ cluster, flags, hostKeys, log, ...(display ? { display } : {}), interrupts }, async (scope, interrupted) => {
    const job = { name, overwrite: flags.overwrite, ...(flags.pkiBundle ? { pkiBundle: true } : {}), compression: flags.compression };
    const results = await saveSnapshots({ job, concurrency: flags.concurrency, ...(s3 ? { s3 } : {}) }, runtime, scope);
    // The final progress block stays above the table; nothing is redrawn after this.
    display?.stop();
    const verdict = verdictFor(results, flags.strict, s3 !== undefined);
    const interruptedExitCode = interrupted();
    if (flags.output === 'json') {
      const document = saveResultDocument(name, results, verdict, {
        s3Requested: s3 !== undefined,
        ...(interruptedExitCode !== undefined ? { interruptedExitCode } : {}),
      });
      process.stdout.write(JSON.stringify(document, null, 2) + '\n');
    } else {
      process.stdout.write(formatResultTable(results) + '\n');
    }
    log.debug(`peak RSS of this CLI: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
    if (interruptedExitCode !== undefined) {
      log.warn(`interrupted: ${flags.runtime === 'ssh' ? 'temporary files removed' : 'containers removed'}; no partial snapshot was left under a final name`);
      return interruptedExitCode;
    }
    if (verdict.exitCode !== 0) throw new OperatorError(verdict.summary ?? 'snapshot failed');
    if (verdict.summary) log.warn(verdict.summary);
    log.info(`Finished snapshot ${name}: saved on ${results.filter((r) => r.ok).length} of ${results.length} etcd node(s)`);
    return 0;
  });
}

/** What the S3 copy's protection cannot be combined with (yet). */
function checkProtectionFlags(flags: SnapshotSaveFlags, s3: S3Settings | undefined): void {
  if (s3?.protection === undefined && s3?.sseCustomerKey === undefined) return;
  if (flags.backupImageContract === 'rke-tools') {
    throw new OperatorError("--s3-sse*, --s3-object-lock-*, --s3-legal-hold and --encrypt-recipient need the bundled agent's protocol: rke-tools' command line has none of them (drop --backup-image-contract rke-tools)");
  }
  if (s3.protection?.recipients && flags.pkiBundle) {
    throw new OperatorError('--encrypt-recipient with --pki-bundle: the PKI bundle would leave unencrypted; upload it separately or drop --pki-bundle');
  }
}

/** --runtime ssh runs no container: the flags that choose or shape one are refused rather than ignored. */
function checkRuntimeFlags(flags: SnapshotSaveFlags): void {
  if (flags.runtime !== 'ssh') return;
  const containerOnly = [
    ...(flags.backupImage !== undefined ? ['--backup-image'] : []),
    ...(flags.backupImageContract !== 'auto' ? ['--backup-image-contract'] : []),
    ...(flags.pkiBundle ? ['--pki-bundle'] : []),
  ];
  if (containerOnly.length > 0) {
    throw new OperatorError(`${containerOnly.join(', ')} cannot be used with --runtime ssh (it runs no container; --pki-bundle is not built for it yet): drop it or use --runtime docker`);
  }
}

/**
 * The bundled agent, which the CLI loads itself, or the --backup-image, which the nodes'
 * engines pull with the matching private_registries login (checked here, before any node).
 */
async function chooseImage(flags: SnapshotSaveFlags, cluster: ClusterConfig, log: Logger): Promise<ImageSource> {
  if (flags.backupImage !== undefined) {
    if (flags.backupImage.trim() === '') throw new OperatorError('--backup-image: the image name is empty');
    const image = resolveRegistryImage(flags.backupImage, cluster.privateRegistries);
    for (const warning of image.warnings) log.warn(`${flags.config}: ${warning}`);
    if (image.prefixedWith !== undefined) {
      log.info(`--backup-image ${flags.backupImage} names no registry: using ${image.reference} from the default registry (${image.registry?.field ?? 'is_default'})`);
    }
    return { kind: 'registry', image };
  }
  return { kind: 'bundled', images: await locateBundledAgentImage() };
}

