import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import { agentListArgs, agentRemoveArgs, parseListResultLine, parseRemoveResultLine } from '../../agent/protocol/files.js';
import { agentVerifyArgs, parseVerifyResultLine } from '../../agent/protocol/verify.js';
import type { CopyCheck, SnapshotListing, SnapshotRemoval } from '../../model/snapshot.js';
import type { NodeConfig } from '../../config/cluster.js';
import { agentSuccess, ensureAgentImage, failureMessage, runAgentContainer, withNodeEngine, type RunContext } from './node-snapshot.js';

export const LIST_CONTAINER_NAME = 'etcd-snapshot-ls';
export const REMOVE_CONTAINER_NAME = 'etcd-snapshot-rm';
export const VERIFY_CONTAINER_NAME = 'etcd-snapshot-verify';

/** One node's answer: the agent's result, or why the node could not be reached or read. */
export type NodeOutcome<T> = { node: NodeConfig; ok: true; result: T; warnings: string[] } | { node: NodeConfig; ok: false; error: string; warnings: string[] };

/** `agent list` in a short `etcd-snapshot-ls` container, the snapshots directory bound read-only. Never throws. */
export function listNode(node: NodeConfig, context: RunContext): Promise<NodeOutcome<SnapshotListing>> {
  return onNode(node, context, 'list', LIST_CONTAINER_NAME, agentListArgs(), 'ro', parseListResultLine);
}

/** `agent remove --name ...` in a short `etcd-snapshot-rm` container. Never throws. */
export function removeOnNode(node: NodeConfig, names: string[], context: RunContext): Promise<NodeOutcome<SnapshotRemoval>> {
  return onNode(node, context, 'remove', REMOVE_CONTAINER_NAME, agentRemoveArgs({ names }), 'rw', parseRemoveResultLine);
}

/** `agent verify --name NAME` in a short `etcd-snapshot-verify` container, read-only. Never throws. */
export function verifyOnNode(node: NodeConfig, name: string, context: RunContext): Promise<NodeOutcome<CopyCheck>> {
  return onNode(node, context, 'verify', VERIFY_CONTAINER_NAME, agentVerifyArgs(name), 'ro', parseVerifyResultLine);
}

async function onNode<T extends { ok: true; peakRssBytes?: number }>(
  node: NodeConfig,
  context: RunContext,
  job: string,
  containerName: string,
  cmd: string[],
  mode: 'ro' | 'rw',
  parse: Parameters<typeof agentSuccess<T>>[1],
): Promise<NodeOutcome<T>> {
  const warnings: string[] = [];
  try {
    const result = await withNodeEngine(node, context, async (docker, nodeContext) => {
      const image = await ensureAgentImage(docker, node, nodeContext);
      const outcome = await runAgentContainer(docker, image, node, nodeContext, warnings, {
        name: containerName,
        cmd,
        binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}${mode === 'ro' ? ':ro' : ''}`],
        input: {},
      });
      return agentSuccess(outcome, parse, node, job, context.log);
    });
    return { node, ok: true, result, warnings };
  } catch (error) {
    return { node, ok: false, error: failureMessage(error, node, context), warnings };
  }
}
