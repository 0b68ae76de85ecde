/**
 * V8's young generation, in MiB per semi-space (docs/performance.md). Node's default lets it grow to
 * 16 MiB (two of them, 32 MiB of heap) and scavenges only when it fills; a small one keeps the heap
 * small and frees short-lived Buffers sooner, for a little more (cheap) scavenging.
 */
export const AGENT_SEMI_SPACE_MIB = 2;

/** Where the agent lives inside its image, and how node runs it. */
export const AGENT_IMAGE_ENTRYPOINT = ['/usr/local/bin/node', `--max-semi-space-size=${AGENT_SEMI_SPACE_MIB}`, '/opt/rke-snapshot-agent/agent.mjs'];
