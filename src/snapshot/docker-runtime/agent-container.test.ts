import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentConfinement } from './agent-container.js';
import { AGENT_LIMIT_DEFAULTS } from './options.js';

test('every agent container: no capability added, read-only image, a small /tmp, the run\'s bounds', () => {
  assert.deepEqual(agentConfinement(AGENT_LIMIT_DEFAULTS), {
    capAdd: [],
    readonlyRootfs: true,
    tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=16m,mode=1777' },
    memoryBytes: 256 * 1024 * 1024,
    pidsLimit: 64,
    cpuShares: 512,
  });
  const capped = agentConfinement({ memoryMiB: 512, pids: 32, cpuShares: 256, cpus: 0.5 }, { readonlyRootfs: false });
  assert.equal(capped.readonlyRootfs, false);
  assert.equal(capped.memoryBytes, 512 * 1024 * 1024);
  assert.equal(capped.cpus, 0.5);
  assert.ok(AGENT_LIMIT_DEFAULTS.cpuShares < 1024, 'below the engine default that etcd runs with');
});
