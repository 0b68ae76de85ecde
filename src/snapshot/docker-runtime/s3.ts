/**
 * docker runtime, the S3 location of `snapshot-ls/-rm/-prune/-verify --s3`: the agent's
 * `s3-list`, `s3-remove` or `s3-verify` in a short container (no bind) on one etcd node,
 * so that the node's IAM role / instance metadata applies exactly as for the upload; keys
 * and the CA go in on standard input, as for the upload.
 *
 * Which node: the etcd nodes in cluster.yml order; a node that cannot run the container
 * (SSH, Docker, image, the container itself) is skipped with a warning and the next one is
 * tried. When the agent ran and S3 refused or failed (wrong key, bucket not found, endpoint
 * down), that answer is final: another node would ask the same S3 the same question.
 */
import { agentS3Args, parseS3ListResultLine, parseS3RemoveResultLine, parseS3VerifyResultLine, type AgentS3Command } from '../../agent/protocol/s3.js';
import type { NodeConfig } from '../../config/cluster.js';
import type { Failure } from '../../model/snapshot.js';
import { s3SecretsOf, s3TargetOf, type S3Settings } from '../../s3/settings.js';
import { failureMessage } from '../node-ssh.js';
import type { S3Jobs, S3Outcome } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { agentResult, ensureAgentImage, runAgentContainer } from './agent-container.js';
import { withNodeEngine } from './engine.js';
import { limitsOf, type DockerRuntimeOptions } from './options.js';

export function s3JobsFromNodes(settings: S3Settings, nodes: NodeConfig[], scope: RunScope, options: DockerRuntimeOptions): S3Jobs {
  const run = <T extends { ok: true }>(command: AgentS3Command, names: string[], parse: (stdout: string) => T | Failure | undefined) =>
    askFromNodes({ settings, nodes, scope, options, command, names, parse });
  return {
    list: () => run('s3-list', [], parseS3ListResultLine),
    remove: (names) => run('s3-remove', names, parseS3RemoveResultLine),
    verify: (name) => run('s3-verify', [name], parseS3VerifyResultLine),
  };
}

interface S3Question<T> {
  settings: S3Settings;
  nodes: NodeConfig[];
  scope: RunScope;
  options: DockerRuntimeOptions;
  command: AgentS3Command;
  names: string[];
  parse: (stdout: string) => T | Failure | undefined;
}

/** Never throws. */
async function askFromNodes<T extends { ok: true }>({ settings, nodes, scope, options, command, names, parse }: S3Question<T>): Promise<S3Outcome<T>> {
  const warnings: string[] = [];
  const skipped: string[] = [];
  for (const node of nodes) {
    if (scope.signal.aborted) break;
    try {
      const answer = await withNodeEngine(node, scope, async (engine) => {
        const image = await ensureAgentImage(engine, options.image);
        const outcome = await runAgentContainer(engine, {
          job: command,
          image,
          cmd: agentS3Args(command, s3TargetOf(settings), names),
          binds: [],
          input: s3SecretsOf(settings),
          limits: limitsOf(options),
        });
        if (outcome.removalError) warnings.push(outcome.removalError);
        return agentResult(outcome, parse, engine, command);
      });
      if (!answer.ok) return { via: node.address, ok: false, error: `${answer.error} (asked from host ${node.address})`, warnings };
      return { via: node.address, ok: true, result: answer, warnings };
    } catch (error) {
      const message = failureMessage(error, node, scope);
      skipped.push(message);
      scope.log.warn(`[${node.address}] cannot reach S3 from this node: ${message}${node === nodes.at(-1) ? '' : '; trying the next etcd node'}`);
    }
  }
  const why = scope.signal.aborted ? 'interrupted' : `no etcd node could run the S3 agent (${skipped.join('; ')})`;
  return { ok: false, error: `s3://${settings.bucketName} at ${settings.endpoint}: ${why}`, warnings };
}
