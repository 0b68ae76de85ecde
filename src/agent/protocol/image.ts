/**
 * V8's young generation, in MiB per semi-space (docs/performance.md). Node's default lets it grow to
 * 16 MiB (two of them, 32 MiB of heap) and scavenges only when it fills; a small one keeps the heap
 * small and frees short-lived Buffers sooner, for a little more (cheap) scavenging.
 */
export const AGENT_SEMI_SPACE_MIB = 2;

/**
 * V8's old generation limit, in MiB, set so that it does not follow the container's memory limit.
 * Node sizes V8's heap from the cgroup limit (256 MiB by default: a 259 MiB heap), and below 2 GiB
 * V8 grows its heap by smaller steps: with the 2 MiB young generation, Buffers promoted on their way
 * through the pipeline then started a full mark-compact every few MiB (114 of them in a 373 MiB
 * snapshot, against 1), and the snapshot took 1.5 times as long. The heap holds only ~10 MiB of
 * live objects; the container's memory limit stays the bound that counts (docs/performance.md).
 */
export const AGENT_OLD_SPACE_MIB = 2048;

/** Where the agent lives inside its image, and how node runs it. */
export const AGENT_IMAGE_ENTRYPOINT = [
  '/usr/local/bin/node',
  `--max-semi-space-size=${AGENT_SEMI_SPACE_MIB}`,
  `--max-old-space-size=${AGENT_OLD_SPACE_MIB}`,
  '/opt/rke-snapshot-agent/agent.mjs',
];
