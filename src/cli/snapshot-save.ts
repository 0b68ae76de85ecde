import { homedir } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { locateBundledAgentImage } from '../agent/bundled-image.js';
import { loadClusterConfig, type ClusterConfig } from '../config/cluster.js';
import type { ImageSource } from '../docker/image.js';
import { resolveRegistryImage } from '../docker/registry.js';
import { OperatorError } from '../errors.js';
import { stderrLogger, type Logger } from '../log.js';
import { resolveS3Settings, type S3Flags } from '../s3/settings.js';
import { defaultNameWarning, defaultSnapshotName, validateSnapshotName } from '../snapshot/naming.js';
import { formatResultTable } from '../snapshot/report.js';
import { verdictFor } from '../snapshot/result.js';
import { saveSnapshots } from '../snapshot/save.js';
import { certificatesIgnoredForAgent } from '../ssh/credentials.js';
import { IMAGE_CONTRACT_CHOICES, type ImageContractChoice } from '../snapshot/rke-tools-node.js';
import { HOST_KEY_POLICIES, HostKeyVerifier, type HostKeyPolicy } from '../ssh/host-key-verifier.js';

/** The parsed flags of `rke etcd snapshot-save`. */
export interface SnapshotSaveFlags extends S3Flags {
  config: string;
  name?: string;
  s3: boolean;
  sshAgentAuth: boolean;
  ignoreDockerVersion: boolean;
  strict: boolean;
  overwrite: boolean;
  backupImage?: string;
  pkiBundle: boolean;
  imageTimeout: number;
  backupImageContract: ImageContractChoice;
  concurrency: number;
  sshHostKeyPolicy: HostKeyPolicy;
  knownHosts: string;
  debug: boolean;
}

export function snapshotSaveCommand(onExit: (code: number) => void): Command {
  return new Command('snapshot-save')
    .description('Take a one-time snapshot of every etcd node, kept on each node under /opt/rke/etcd-snapshots')
    .addOption(new Option('--config <file>', 'cluster file').env('RKE_CONFIG').default('cluster.yml'))
    .option('--name <name>', 'snapshot name (default: rke_etcd_snapshot_<RFC3339 time>)')
    .option('--s3', 'also upload the snapshot to S3', false)
    .option('--s3-endpoint <host[:port]>', 'S3 endpoint, HTTPS, no scheme (default: s3.amazonaws.com)')
    .option('--s3-endpoint-ca <file>', 'PEM file of a CA to trust for the S3 endpoint')
    .option('--access-key <key>', 'S3 access key (default: the node\'s IAM role)')
    .option('--secret-key <key>', 'S3 secret key (prefer --secret-key-file: arguments are visible to other users)')
    .option('--secret-key-file <file>', 'read the S3 secret key from this file')
    .option('--bucket-name <bucket>', 'S3 bucket (required with --s3)')
    .option('--region <region>', 'S3 bucket region')
    .option('--folder <folder>', 'key prefix inside the bucket')
    .option('--ssh-agent-auth', 'authenticate with the ssh-agent at SSH_AUTH_SOCK', false)
    .option('--ignore-docker-version', 'skip the Docker version check', false)
    .addOption(
      new Option('--ssh-host-key-policy <policy>', 'unknown host keys: accept-new records them, strict refuses them; a changed key is always refused (off: no checks, as RKE)')
        .choices(HOST_KEY_POLICIES)
        .default('accept-new'),
    )
    .addOption(
      new Option('--known-hosts <file>', 'known_hosts file for the nodes\' host keys').env('RKE_SSH_KNOWN_HOSTS').default(path.join(homedir(), '.ssh', 'known_hosts')),
    )
    .option('--strict', 'fail the run when any node fails (default: only when all fail)', false)
    .option('--overwrite', 'replace an existing snapshot of the same name on a node', false)
    .option('--backup-image <image>', 'run this image instead of the bundled backup agent (pulled with the private_registries login)')
    .addOption(
      new Option('--backup-image-contract <contract>', "how to drive the image: native (our agent's protocol), rke-tools (rke-tools' command line, as RKE runs it); auto: native for images labelled by this project, rke-tools for others")
        .choices(IMAGE_CONTRACT_CHOICES)
        .default('auto'),
    )
    .addOption(new Option('--image-timeout <seconds>', 'time a node may take to load or pull the agent image').default(300).argParser(positiveInteger))
    .option('--pki-bundle', 'also save each node\'s /etc/kubernetes/ssl as /opt/rke/etcd-snapshots/pki.bundle.tar.gz (pre-v0.2.0 clusters); with --s3 also uploaded', false)
    .addOption(new Option('--concurrency <n>', 'how many nodes to work on at once').default(10).argParser(positiveInteger))
    .option('--debug', 'verbose logging', false)
    .action(async (flags: SnapshotSaveFlags) => {
      onExit(await runSnapshotSave(flags, stderrLogger({ debug: flags.debug })));
    });
}

/** Returns the process exit status. Throws OperatorError for bad input, before any node is touched. */
export async function runSnapshotSave(flags: SnapshotSaveFlags, log: Logger): Promise<number> {
  const name = flags.name ?? defaultSnapshotName(new Date());
  if (flags.name === undefined) log.warn(defaultNameWarning(name));
  validateSnapshotName(name);
  if (flags.pkiBundle && flags.backupImageContract === 'rke-tools') {
    throw new OperatorError("--pki-bundle needs the bundled agent's protocol: rke-tools' command line has no PKI bundle (drop --backup-image-contract rke-tools)");
  }
  const cluster = await loadClusterConfig(flags.config);
  const sshHosts = [
    ...cluster.etcdNodes.map((node) => ({ ...node, fieldPrefix: node.field })),
    ...(cluster.bastionHost ? [{ ...cluster.bastionHost, fieldPrefix: 'bastion_host' }] : []),
  ];
  const unusedCertificates = certificatesIgnoredForAgent(sshHosts, cluster, flags.sshAgentAuth);
  if (unusedCertificates.length > 0) {
    log.warn(`the ssh-agent authenticates instead of the certificates in ${unusedCertificates.join(', ')} (as RKE does); these are not used`);
  }
  const s3 = flags.s3
    ? await resolveS3Settings({ flags, fromFile: cluster.etcd.s3, clusterFile: flags.config, warn: log.warn })
    : undefined;
  const image = await chooseImage(flags, cluster, log);
  const hostKeys = await HostKeyVerifier.load(flags.knownHosts, flags.sshHostKeyPolicy);
  if (flags.sshHostKeyPolicy === 'off') log.warn('--ssh-host-key-policy off: the nodes\' host keys are not checked');

  const interruption = new AbortController();
  let interruptedExitCode: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interruptedExitCode !== undefined) process.exit(interruptedExitCode);
    interruptedExitCode = signal === 'SIGINT' ? 130 : 143;
    log.warn(`${signal} received: stopping and removing the snapshot containers (send it again to quit at once)`);
    interruption.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const results = await saveSnapshots({
      cluster,
      name,
      overwrite: flags.overwrite,
      ignoreDockerVersion: flags.ignoreDockerVersion || cluster.ignoreDockerVersion,
      sshAgentAuth: flags.sshAgentAuth,
      image,
      imageContract: flags.backupImageContract,
      hostKeys,
      ...(flags.pkiBundle ? { pkiBundle: true } : {}),
      concurrency: flags.concurrency,
      ...(s3 ? { s3 } : {}),
      timeouts: {
        sshConnectMs: 15_000,
        dockerApiMs: 30_000,
        imageTransferMs: flags.imageTimeout * 1000,
        snapshotMs: cluster.etcd.backupTimeoutSeconds * 1000,
      },
      signal: interruption.signal,
      log,
    });
    process.stdout.write(formatResultTable(results) + '\n');
    log.debug(`peak RSS of this CLI: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
    if (interruptedExitCode !== undefined) {
      log.warn('interrupted: containers removed; no partial snapshot was left under a final name');
      return interruptedExitCode;
    }
    const verdict = verdictFor(results, flags.strict, s3 !== undefined);
    if (verdict.exitCode !== 0) throw new OperatorError(verdict.summary ?? 'snapshot failed');
    if (verdict.summary) log.warn(verdict.summary);
    log.info(`Finished snapshot ${name}: saved on ${results.filter((r) => r.ok).length} of ${results.length} etcd node(s)`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
  return { kind: 'bundled', image: await locateBundledAgentImage() };
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return parsed;
}
