import { homedir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ClusterConfig } from '../config/cluster.js';
import type { Logger } from '../log.js';
import { certificatesIgnoredForAgent } from '../ssh/credentials.js';
import { HOST_KEY_POLICIES, HostKeyVerifier, type HostKeyPolicy } from '../ssh/host-key-verifier.js';

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
