import { PROGRESS_MODES } from './progress-display.js';
import { homedir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ClusterConfig } from '../config/cluster.js';
import type { Logger } from '../log.js';
import { resolveS3Settings, type S3Flags, type S3Settings } from '../s3/settings.js';
import { resolveProtection, type ProtectionFlags } from '../s3/protection.js';
import { readFile } from 'node:fs/promises';
import { OperatorError, messageOf } from '../errors.js';
import { certificatesIgnoredForAgent } from '../ssh/credentials.js';
import { HOST_KEY_POLICIES, HostKeyVerifier, type HostKeyPolicy } from '../ssh/host-key-verifier.js';
import { AGENT_LIMIT_DEFAULTS, type AgentLimits } from '../snapshot/docker-runtime/options.js';

/** The flags every command that reaches the etcd nodes shares (config, SSH, host keys, concurrency, debug). */
export interface NodeAccessFlags {
  config: string;
  sshAgentAuth: boolean;
  sshHostKeyPolicy: HostKeyPolicy;
  knownHosts: string;
  imageTimeout: number;
  concurrency: number;
  debug: boolean;
}

export function addNodeAccessOptions(command: Command): Command {
  return command
    .addOption(new Option('--config <file>', 'cluster file').env('RKE_CONFIG').default('cluster.yml'))
    .option('--ssh-agent-auth', 'authenticate with the ssh-agent at SSH_AUTH_SOCK', false)
    .addOption(
      new Option('--ssh-host-key-policy <policy>', 'unknown host keys: accept-new records them, strict refuses them; a changed key is always refused (off: no checks, as RKE)')
        .choices(HOST_KEY_POLICIES)
        .default('accept-new'),
    )
    .addOption(
      new Option('--known-hosts <file>', 'known_hosts file for the nodes\' host keys').env('RKE_SSH_KNOWN_HOSTS').default(path.join(homedir(), '.ssh', 'known_hosts')),
    )
    .addOption(new Option('--image-timeout <seconds>', 'time a node may take to load or pull the agent image').default(300).argParser(positiveInteger))
    .addOption(new Option('--concurrency <n>', 'how many nodes to work on at once').default(10).argParser(positiveInteger));
}

export function addDebugOption(command: Command): Command {
  return command.option('--debug', 'verbose logging', false);
}

/** `--output table|json` of every command (schemas: docs/snapshot-inventory.md). */
export type OutputFormat = 'table' | 'json';

export function addOutputOption(command: Command): Command {
  return command.addOption(
    new Option('--output <format>', 'table for people, json for scripts (schema: docs/snapshot-inventory.md)').choices(['table', 'json']).default('table'),
  );
}

export function addProgressOption(command: Command): Command {
  return command.addOption(
    new Option('--progress <mode>', 'live per-node progress on stderr: tty (redrawn in place), plain (log lines), none; auto: tty when stderr is a terminal, else plain')
      .choices(PROGRESS_MODES)
      .default('auto'),
  );
}

/** Warns about certificates the ssh-agent makes unused, and loads the host-key checker. */
export async function prepareNodeAccess(flags: NodeAccessFlags, cluster: ClusterConfig, log: Logger): Promise<HostKeyVerifier> {
  const sshHosts = [
    ...cluster.etcdNodes.map((node) => ({ ...node, fieldPrefix: node.field })),
    ...(cluster.bastionHost ? [{ ...cluster.bastionHost, fieldPrefix: 'bastion_host' }] : []),
  ];
  const unusedCertificates = certificatesIgnoredForAgent(sshHosts, cluster, flags.sshAgentAuth);
  if (unusedCertificates.length > 0) {
    log.warn(`the ssh-agent authenticates instead of the certificates in ${unusedCertificates.join(', ')} (as RKE does); these are not used`);
  }
  const hostKeys = await HostKeyVerifier.load(flags.knownHosts, flags.sshHostKeyPolicy);
  if (flags.sshHostKeyPolicy === 'off') log.warn('--ssh-host-key-policy off: the nodes\' host keys are not checked');
  return hostKeys;
}

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return parsed;
}

/** `--s3` and the S3 settings, shared by snapshot-save and the snapshot management commands. */
export interface S3CommandFlags extends S3Flags {
  s3: boolean;
}

/** The one definition of the S3 flags (SPEC §1); `what` says what --s3 does for this command. */
export function addS3Options(command: Command, what: string): Command {
  return command
    .option('--s3', what, false)
    .option('--s3-endpoint <host[:port]>', 'S3 endpoint, HTTPS, no scheme (default: s3.amazonaws.com)')
    .option('--s3-endpoint-ca <file>', 'PEM file of a CA to trust for the S3 endpoint')
    .option('--access-key <key>', 'S3 access key (default: the node\'s IAM role)')
    .option('--secret-key <key>', 'S3 secret key (prefer --secret-key-file: arguments are visible to other users)')
    .option('--secret-key-file <file>', 'read the S3 secret key from this file')
    .option('--bucket-name <bucket>', 'S3 bucket (required with --s3)')
    .option('--region <region>', 'S3 bucket region')
    .option('--folder <folder>', 'key prefix inside the bucket');
}

/** With --s3: the flags merged over cluster.yml's s3backupconfig and validated; undefined without --s3. */
export async function resolveS3Flags(
  flags: S3CommandFlags & ProtectionFlags,
  cluster: ClusterConfig,
  clusterFile: string,
  log: Logger,
): Promise<S3Settings | undefined> {
  const given = protectionFlagsGiven(flags);
  if (!flags.s3) {
    if (given.length > 0) throw new OperatorError(`${given.join(', ')}: ${given.length > 1 ? 'apply' : 'applies'} to the S3 copy; add --s3`);
    return undefined;
  }
  const settings = await resolveS3Settings({ flags, fromFile: cluster.etcd.s3, clusterFile, warn: log.warn });
  if (given.length === 0) return settings;
  const files = {
    ...(flags.s3SseCKeyFile === undefined ? {} : { sseCKey: await readFile(flags.s3SseCKeyFile).catch((error: unknown) => {
      throw new OperatorError(`--s3-sse-c-key-file: cannot read ${flags.s3SseCKeyFile}: ${messageOf(error)}`);
    }) }),
    ...(flags.encryptRecipientsFile === undefined ? {} : { recipientsText: await readFile(flags.encryptRecipientsFile, 'utf8').catch((error: unknown) => {
      throw new OperatorError(`--encrypt-recipients-file: cannot read ${flags.encryptRecipientsFile}: ${messageOf(error)}`);
    }) }),
  };
  const { protection, sseCustomerKey } = resolveProtection(flags, files, new Date());
  return {
    ...settings,
    ...(Object.keys(protection).length > 0 ? { protection } : {}),
    ...(sseCustomerKey === undefined ? {} : { sseCustomerKey }),
  };
}

function protectionFlagsGiven(flags: ProtectionFlags): string[] {
  const names: Array<[keyof ProtectionFlags, string]> = [
    ['s3Sse', '--s3-sse'],
    ['s3SseKmsKeyId', '--s3-sse-kms-key-id'],
    ['s3SseCKeyFile', '--s3-sse-c-key-file'],
    ['s3ObjectLockMode', '--s3-object-lock-mode'],
    ['s3ObjectLockDays', '--s3-object-lock-days'],
    ['s3ObjectLockUntil', '--s3-object-lock-until'],
    ['s3LegalHold', '--s3-legal-hold'],
    ['encryptRecipient', '--encrypt-recipient'],
    ['encryptRecipientsFile', '--encrypt-recipients-file'],
  ];
  return names.filter(([field]) => flags[field] !== undefined && flags[field] !== false).map(([, flag]) => flag);
}

/** SPEC §7: how snapshot-save protects the S3 copy. */
export function addS3ProtectionOptions(command: Command): Command {
  return command
    .option('--s3-sse <mode>', 'server-side encryption of the S3 copy: AES256 or aws:kms')
    .option('--s3-sse-kms-key-id <id>', 'KMS key id for --s3-sse aws:kms')
    .option('--s3-sse-c-key-file <file>', 'SSE-C: the server encrypts with this key (32 raw bytes or 44 characters of base64); needed again to read the copy')
    .option('--s3-object-lock-mode <mode>', 'Object Lock retention of the S3 copy: GOVERNANCE or COMPLIANCE (the bucket must have Object Lock enabled)')
    .option('--s3-object-lock-days <n>', 'retain the S3 copy for N days')
    .option('--s3-object-lock-until <time>', 'retain the S3 copy until this RFC 3339 time')
    .option('--s3-legal-hold', 'put a legal hold on the S3 copy')
    .option('--encrypt-recipient <age1...>', 'encrypt the S3 copy with age for this recipient (repeatable); the key is NAME.zip.age', collect, undefined)
    .option('--encrypt-recipients-file <file>', 'age recipients, one per line (# comments)');
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The resource bounds of the agent containers (docker runtime only; docs/security.md). */
export interface AgentLimitFlags {
  agentMemory: number;
  agentPids: number;
  agentCpuShares: number;
  agentCpus?: number;
}

/** The agents' measured peak RSS (docs/performance.md, items 8 and 9), as the help and the warning give it. */
const AGENT_PEAK_MEMORY = 'near 110 MiB, 126 MiB at an 8 GiB database';
/** That peak with room for a slower collection than the bench's. */
const AGENT_MEMORY_WARN_BELOW_MIB = 160;

export function addAgentLimitOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--agent-memory <MiB>', `memory limit of each agent container (it peaks ${AGENT_PEAK_MEMORY}; --runtime docker)`)
        .default(AGENT_LIMIT_DEFAULTS.memoryMiB)
        .argParser(wholeNumberAtLeast(6, 'Docker\'s minimum')),
    )
    .addOption(new Option('--agent-pids <n>', 'process/thread limit of each agent container').default(AGENT_LIMIT_DEFAULTS.pids).argParser(wholeNumberAtLeast(8)))
    .addOption(
      new Option('--agent-cpu-shares <n>', 'CPU weight of each agent container; etcd has the default 1024, so below it etcd wins under contention')
        .default(AGENT_LIMIT_DEFAULTS.cpuShares)
        .argParser(wholeNumberAtLeast(2)),
    )
    .addOption(new Option('--agent-cpus <n>', 'also cap each agent container at this many CPUs (e.g. 0.5); default: no cap').argParser(positiveNumber));
}


export function agentLimitsOf(flags: AgentLimitFlags, log: Logger): AgentLimits {
  if (flags.agentMemory < AGENT_MEMORY_WARN_BELOW_MIB) {
    log.warn(`--agent-memory ${flags.agentMemory}: the agent peaks ${AGENT_PEAK_MEMORY}; below ${AGENT_MEMORY_WARN_BELOW_MIB} MiB its container may be killed by the limit`);
  }
  return {
    memoryMiB: flags.agentMemory,
    pids: flags.agentPids,
    cpuShares: flags.agentCpuShares,
    ...(flags.agentCpus !== undefined ? { cpus: flags.agentCpus } : {}),
  };
}

function wholeNumberAtLeast(minimum: number, why?: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < minimum) throw new InvalidArgumentError(`must be a whole number of at least ${minimum}${why ? ` (${why})` : ''}`);
    return parsed;
  };
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(parsed > 0)) throw new InvalidArgumentError('must be a number above 0, e.g. 0.5 or 2');
  return parsed;
}
