import type { UploadedSnapshot } from '../model/snapshot.js';
import type { NodeConfig } from '../config/cluster.js';
import type { S3Settings } from '../s3/settings.js';
import { snapshotNode, type RunContext } from './docker-runtime/node-snapshot.js';
import { uploadFromNode } from './docker-runtime/node-upload.js';
import type { NodeResult, ReportedUpload, RuntimeName } from './result.js';

/**
 * How a node's snapshot is taken and its copy uploaded: the one thing `--runtime`
 * changes. The run (save.ts), the one-copy S3 rule (node-upload.ts), the results and
 * the report are the same for both.
 */
export interface NodeRuntime {
  name: RuntimeName;
  /** Never throws: a failure is the result's `error`. */
  snapshot(node: NodeConfig, context: RunContext): Promise<NodeResult>;
  /** Uploads the node's NAME.zip; throws on failure (uploadOneCopy tries the next node). */
  upload(node: NodeConfig, settings: S3Settings, context: RunContext, result: NodeResult): Promise<UploadedSnapshot | ReportedUpload>;
}

/** docker: the agent in one-off containers on the node's engine, the upload from the node (its IAM role). */
export const DOCKER_RUNTIME: NodeRuntime = { name: 'docker', snapshot: snapshotNode, upload: uploadFromNode };

/**
 * ssh: no Docker; etcd through an SSH tunnel, the zip written over SFTP, the upload from this
 * machine. Imported when used: it brings the agent's upload code and the AWS SDK into the
 * CLI (about 20 MiB and a few hundred ms of start-up), which docker runs do not need.
 */
export const SSH_RUNTIME: NodeRuntime = {
  name: 'ssh',
  snapshot: async (node, context) => (await import('./ssh-runtime/node-snapshot-ssh.js')).snapshotNodeOverSsh(node, context),
  upload: async (node, settings, context, result) =>
    (await import('./ssh-runtime/upload-from-operator.js')).uploadFromOperator(node, settings, context, result),
};

export function runtimeFor(name: RuntimeName | undefined): NodeRuntime {
  return name === 'ssh' ? SSH_RUNTIME : DOCKER_RUNTIME;
}
