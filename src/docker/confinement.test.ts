import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confinementConfig } from './confinement.js';

test('a confinement becomes HostConfig: every capability dropped, no privilege gain, no swap beyond the memory limit', () => {
  const base = { capAdd: [], readonlyRootfs: true, tmpfs: { '/tmp': 'rw,size=16m' }, memoryBytes: 256 * 1024 * 1024, pidsLimit: 64, cpuShares: 512 };
  assert.deepEqual(confinementConfig(base), {
    CapDrop: ['ALL'],
    CapAdd: [],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    Tmpfs: { '/tmp': 'rw,size=16m' },
    Memory: 268435456,
    MemorySwap: 268435456,
    PidsLimit: 64,
    CpuShares: 512,
  });
  assert.equal(confinementConfig({ ...base, cpus: 1.5 }).NanoCpus, 1_500_000_000);
});
