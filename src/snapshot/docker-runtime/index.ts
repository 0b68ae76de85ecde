/** The docker runtime: every job is the agent (or an rke-tools image) in a one-off container on the node's engine. */
import type { NodeRuntime } from '../runtime.js';
import { drillOnNode } from './drill.js';
import { listJob, removeJob, runOnDirectory, verifyJob } from './files.js';
import type { DockerRuntimeOptions } from './options.js';
import { s3JobsFromNodes } from './s3.js';
import { saveOnNode } from './save.js';
import { uploadFromNode } from './upload.js';

export function dockerRuntime(options: DockerRuntimeOptions): NodeRuntime {
  return {
    name: 'docker',
    save: (node, job, scope) => saveOnNode(node, job, scope, options),
    upload: (node, job, saved, scope) => uploadFromNode(node, job, saved, scope, options),
    list: (node, scope) => runOnDirectory(node, listJob, scope, options),
    remove: (node, names, scope) => runOnDirectory(node, removeJob(names), scope, options),
    verify: (node, name, scope) => runOnDirectory(node, verifyJob(name), scope, options),
    restore: (node, name, scope, placedCopy) => drillOnNode(node, name, scope, options, placedCopy),
    s3: (settings, nodes, scope) => s3JobsFromNodes(settings, nodes, scope, options),
  };
}
