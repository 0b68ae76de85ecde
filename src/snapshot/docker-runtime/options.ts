import type { ImageSource } from '../../docker/image.js';

/** How the node's engine runs the jobs: what the docker runtime is told once per run. */
export interface DockerRuntimeOptions {
  /** The bundled agent, or --backup-image. */
  image: ImageSource;
  /** --backup-image-contract: how to drive the image (rke-tools-image.ts); absent: auto. */
  imageContract?: ImageContractChoice;
  /** --ignore-docker-version, or the cluster's ignore_docker_version. */
  ignoreDockerVersion: boolean;
  /** --agent-memory, --agent-pids, --agent-cpu-shares, --agent-cpus; absent: AGENT_LIMIT_DEFAULTS. */
  limits?: AgentLimits;
}

/** The resource bounds of every container this runtime starts (docs/security.md says why these). */
export interface AgentLimits {
  memoryMiB: number;
  pids: number;
  /** Relative CPU weight: below the engine's default of 1024 (etcd's), so that etcd wins under contention. */
  cpuShares: number;
  /** A hard cap in CPUs; absent: none (the weight alone). */
  cpus?: number;
}

export const AGENT_LIMIT_DEFAULTS: AgentLimits = {
  // The agents peak at 104–117 MiB RSS up to a 1 GiB database and 118–126 MiB at 8–10 GiB
  // (docs/performance.md); 256 MiB leaves room for garbage not yet collected, TLS buffers and the
  // kernel's accounting, while a runaway agent still cannot take a control-plane node's memory.
  memoryMiB: 256,
  // node runs about a dozen threads (main, libuv's pool of 4, V8's workers); 64 leaves room and stops a fork bomb.
  pids: 64,
  cpuShares: 512,
};

/** How the CLI talks to the backup image: our agent's protocol, or rke-tools' command line. */
export type ImageContract = 'native' | 'rke-tools';
export type ImageContractChoice = 'auto' | ImageContract;
export const IMAGE_CONTRACT_CHOICES: readonly ImageContractChoice[] = ['auto', 'native', 'rke-tools'];

export function limitsOf(options: DockerRuntimeOptions): AgentLimits {
  return options.limits ?? AGENT_LIMIT_DEFAULTS;
}
