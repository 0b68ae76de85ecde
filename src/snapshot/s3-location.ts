/**
 * The S3 location of `snapshot-ls/-rm/-prune/-verify --s3`: the agent's `s3-list`,
 * `s3-remove` or `s3-verify` in a short container (no bind) on one etcd node, so that the
 * node's IAM role / instance metadata applies exactly as for the upload; keys and the CA go
 * in on standard input, as for the upload.
 *
 * Which node: the etcd nodes in cluster.yml order; a node that cannot run the container
 * (SSH, Docker, image, the container itself) is skipped with a warning and the next one is
 * tried. When the agent ran and S3 refused or failed (wrong key, bucket not found, endpoint
 * down), that answer is final: another node would ask the same S3 the same question.
 */
import { agentS3Args, parseS3ListResultLine, parseS3RemoveResultLine, parseS3VerifyResultLine, type AgentS3Command } from '../agent/protocol/s3.js';
import type { Failure, S3Listing, S3Removal, ObjectCheck } from '../model/snapshot.js';
import type { NodeConfig } from '../config/cluster.js';
import type { S3Settings } from '../s3/settings.js';
import type { S3Location } from './inventory.js';
import { agentResult, ensureAgentImage, failureMessage, runAgentContainer, withNodeEngine, type RunContext } from './docker-runtime/node-snapshot.js';
import { s3TargetOf, uploadSecretsFor } from './docker-runtime/node-upload.js';

export const S3_LIST_CONTAINER_NAME = 'etcd-snapshot-s3-ls';
export const S3_REMOVE_CONTAINER_NAME = 'etcd-snapshot-s3-rm';
export const S3_VERIFY_CONTAINER_NAME = 'etcd-snapshot-s3-verify';

/** The S3 location's answer; `via` is the node whose container ran it. */
export type S3Outcome<T> = { location: S3Location; ok: true; result: T; warnings: string[] } | { location: S3Location; ok: false; error: string; warnings: string[] };

export function s3Location(settings: S3Settings): S3Location {
  return { location: 's3', endpoint: settings.endpoint, bucket: settings.bucketName, folder: settings.folder };
}

export function listS3(nodes: NodeConfig[], settings: S3Settings, context: RunContext): Promise<S3Outcome<S3Listing>> {
  return onS3(nodes, settings, context, 's3-list', S3_LIST_CONTAINER_NAME, [], parseS3ListResultLine);
}

export function removeOnS3(nodes: NodeConfig[], settings: S3Settings, names: string[], context: RunContext): Promise<S3Outcome<S3Removal>> {
  return onS3(nodes, settings, context, 's3-remove', S3_REMOVE_CONTAINER_NAME, names, parseS3RemoveResultLine);
}

export function verifyOnS3(nodes: NodeConfig[], settings: S3Settings, name: string, context: RunContext): Promise<S3Outcome<ObjectCheck>> {
  return onS3(nodes, settings, context, 's3-verify', S3_VERIFY_CONTAINER_NAME, [name], parseS3VerifyResultLine);
}

/** Never throws. */
async function onS3<T extends { ok: true }>(
  nodes: NodeConfig[],
  settings: S3Settings,
  context: RunContext,
  command: AgentS3Command,
  containerName: string,
  names: string[],
  parse: (stdout: string) => T | Failure | undefined,
): Promise<S3Outcome<T>> {
  const warnings: string[] = [];
  const location = s3Location(settings);
  const skipped: string[] = [];
  for (const node of nodes) {
    if (context.signal.aborted) break;
    try {
      const answer = await withNodeEngine(node, context, async (docker, nodeContext) => {
        const image = await ensureAgentImage(docker, node, nodeContext);
        const outcome = await runAgentContainer(docker, image, node, nodeContext, warnings, {
          name: containerName,
          cmd: agentS3Args(command, s3TargetOf(settings), names),
          binds: [],
          input: uploadSecretsFor(settings),
        });
        return agentResult(outcome, parse, node, command);
      });
      const via = { ...location, via: node.address };
      if (!answer.ok) return { location: via, ok: false, error: `${answer.error} (asked from host ${node.address})`, warnings };
      return { location: via, ok: true, result: answer, warnings };
    } catch (error) {
      const message = failureMessage(error, node, context);
      skipped.push(message);
      context.log.warn(`[${node.address}] cannot reach S3 from this node: ${message}${node === nodes.at(-1) ? '' : '; trying the next etcd node'}`);
    }
  }
  const why = context.signal.aborted ? 'interrupted' : `no etcd node could run the S3 agent (${skipped.join('; ')})`;
  return { location, ok: false, error: `s3://${settings.bucketName} at ${settings.endpoint}: ${why}`, warnings };
}
