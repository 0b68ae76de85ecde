/**
 * `snapshot-verify --s3 --restore`: the S3 copy is downloaded on this machine (decrypted with
 * --identity-file for NAME.zip.age, SSE-C applied) and checked as snapshot-fetch checks it, put
 * on an etcd node over SFTP as `.restore-drill-<hex>.zip` (hidden: ls never lists it), and drilled
 * there like the node's own copy; the drill's supervisor removes it when it ends. Nodes are
 * tried in cluster.yml order until one takes the copy.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeConfig } from '../config/cluster.js';
import { messageOf } from '../errors.js';
import type { RestoreDrilled } from '../model/restore.js';
import { createS3ClientFor } from '../s3/client.js';
import { openSnapshotObject, writeFetchedFile, type FetchRequest } from '../s3/fetch.js';
import type { S3Settings } from '../s3/settings.js';
import { SCRATCH_PREFIX } from '../agent/protocol/drill.js';
import type { NodeRuntime, Outcome } from './runtime.js';
import type { RunScope } from './scope.js';
import { placeOnNode } from './ssh-runtime/place.js';

export async function drillS3Copy(
  settings: S3Settings,
  request: FetchRequest,
  nodes: NodeConfig[],
  runtime: NodeRuntime,
  scope: RunScope,
): Promise<Outcome<RestoreDrilled> & { via?: string }> {
  const restore = runtime.restore;
  if (restore === undefined) return { ok: false, error: 'this runtime cannot run a restore drill', warnings: [] };
  const dir = await mkdtemp(join(tmpdir(), 'rke-drill-'));
  try {
    const local = join(dir, `${request.name}.zip`);
    const client = createS3ClientFor(settings);
    let fetched;
    try {
      fetched = await writeFetchedFile(await openSnapshotObject(client, settings, request), local, request.name, false);
    } catch (error) {
      return { ok: false, error: messageOf(error), warnings: [] };
    } finally {
      client.destroy();
    }
    const source = `s3://${fetched.bucket}/${fetched.key}`;
    const tried: string[] = [];
    for (const node of nodes) {
      const placedName = `${SCRATCH_PREFIX}${randomBytes(6).toString('hex')}`;
      const placed = await placeOnNode(node, { path: local, size: fetched.size, sha256: fetched.sha256 }, placedName, false, scope);
      if (!placed.ok) {
        tried.push(placed.error);
        continue;
      }
      scope.log.info(`${source}: downloaded, checked and placed on host ${node.address} as ${placed.file} for the restore drill`);
      const drilled = await restore(node, request.name, scope, `${placedName}.zip`);
      return { ...drilled, via: node.address };
    }
    return { ok: false, error: `${source} could not be placed on any etcd node for the restore drill: ${tried.join('; ')}`, warnings: [] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
