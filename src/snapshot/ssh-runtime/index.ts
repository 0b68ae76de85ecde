/**
 * The ssh runtime: no Docker on the nodes. etcd through an SSH tunnel, the zip written,
 * listed, removed and checked over SFTP; S3 from this machine. Its modules are imported
 * when a job runs: the upload brings the AWS SDK (about 20 MiB and a few hundred ms of
 * start-up), which a run that does not use it should not pay for.
 */
import type { NodeRuntime } from '../runtime.js';

export const sshRuntime: NodeRuntime = {
  name: 'ssh',
  save: async (node, job, scope) => (await import('./save.js')).saveOverSsh(node, job, scope),
  upload: async (node, job, saved, scope) => (await import('./upload.js')).uploadFromOperator(node, job, saved, scope),
  list: async (node, scope) => (await import('./files.js')).listOverSftp(node, scope),
  remove: async (node, names, scope) => (await import('./files.js')).removeOverSftp(node, names, scope),
  verify: async (node, name, scope) => (await import('./files.js')).verifyOverSftp(node, name, scope),
  s3: (settings, _nodes, scope) => {
    const jobs = import('./s3.js').then((module) => module.s3JobsFromHere(settings, scope));
    return {
      list: async () => (await jobs).list(),
      remove: async (names) => (await jobs).remove(names),
      verify: async (name) => (await jobs).verify(name),
    };
  },
};
