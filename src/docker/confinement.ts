/**
 * What a one-off container may do and use: capabilities, privilege gain, its image's file
 * system, memory, processes and CPU (docs/security.md).
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
