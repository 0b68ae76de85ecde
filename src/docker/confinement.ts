/**
 * What a one-off container may do and use: capabilities, privilege gain, its image's file
 * system, memory, processes and CPU (docs/security.md), and how a kill by its memory limit
 * is told when the container is gone before anyone can inspect it.
 */
import type Docker from 'dockerode';

/** A container's privileges and resource bounds, as HostConfig carries them. */
export interface Confinement {
  /** Linux capabilities: every one is dropped, then these are added back. */
  capAdd: string[];
  /** The image's file system read-only; writes go to the binds and tmpfs mounts only. */
  readonlyRootfs: boolean;
  /** Mount point → options, e.g. { '/tmp': 'rw,noexec,nosuid,nodev,size=16m' }. */
  tmpfs: Record<string, string>;
  /** Memory limit in bytes (swap not allowed beyond it). */
  memoryBytes: number;
  pidsLimit: number;
  /** Relative CPU weight (the engine's default is 1024). */
  cpuShares: number;
  /** A hard cap in CPUs (1.5 = one and a half cores); absent: none. */
  cpus?: number;
}

export function confinementConfig(confinement: Confinement): Docker.HostConfig {
  return {
    CapDrop: ['ALL'],
    CapAdd: confinement.capAdd,
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: confinement.readonlyRootfs,
    Tmpfs: confinement.tmpfs,
    Memory: confinement.memoryBytes,
    MemorySwap: confinement.memoryBytes,
    PidsLimit: confinement.pidsLimit,
    CpuShares: confinement.cpuShares,
    ...(confinement.cpus !== undefined ? { NanoCpus: Math.round(confinement.cpus * 1e9) } : {}),
  };
}

/**
 * Whether the engine recorded an `oom` event for this container since `sinceSeconds` (Unix
 * time): asked once, after the fact, of the engine's recent events (it keeps the last few
 * hundred), so nothing is held open while the container runs. Asked only when the container
 * was killed (exit status 137): a container that exits by itself was not.
 */
export async function oomEventSince(docker: Docker, id: string, sinceSeconds: number): Promise<boolean> {
  const events = (await docker.getEvents({
    since: sinceSeconds,
    until: Math.ceil(Date.now() / 1000),
    filters: { container: [id], event: ['oom'] },
  })) as NodeJS.ReadableStream;
  let seen = false;
  for await (const chunk of events) if ((chunk as Buffer).length > 0) seen = true;
  return seen;
}
