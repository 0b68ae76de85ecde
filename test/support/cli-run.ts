/** Helpers shared by the CLI's integration tests on the lab. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { containersNamed, nodeExec, runCli, tempDir, type CliOutcome, type LabFacts } from './lab.js';

/** A variant of the lab's cluster.yml, written to a temp dir (with the state file beside it). */
export function clusterFile(lab: LabFacts, name: string, edit: (config: Record<string, any>) => void, withState = true): string {
  const config = YAML.parse(readFileSync(lab.clusterYml, 'utf8')) as Record<string, any>;
  edit(config);
  const dir = tempDir(`rke-cfg-${name}-`);
  const file = path.join(dir, 'cluster.yml');
  writeFileSync(file, YAML.stringify(config));
  if (withState) writeFileSync(path.join(dir, 'cluster.rkestate'), readFileSync(lab.clusterYml.replace(/\.yml$/, '.rkestate')));
  return file;
}

export function save(args: string[]): Promise<CliOutcome> {
  return runCli(['etcd', 'snapshot-save', ...args]);
}

/** The agent's one-off containers: none may ever be left on a node. */
export async function assertNoAgentContainers(lab: LabFacts): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) {
    for (const name of ['etcd-snapshot-once', 'etcd-snapshot-upload', 'etcd-snapshot-ls', 'etcd-snapshot-rm', 'etcd-snapshot-verify', 'etcd-snapshot-s3-ls', 'etcd-snapshot-s3-rm', 'etcd-snapshot-s3-verify', 'etcd-snapshot-drill', 'etcd-snapshot-drill-restore', 'etcd-snapshot-drill-member']) {
      assert.deepEqual(await containersNamed(node, name), [], `${name} left on node ${node}`);
    }
  }
}

export async function snapshotFiles(node: number): Promise<string[]> {
  const out = await nodeExec(node, 'ls', '-A', '/opt/rke/etcd-snapshots');
  return out.split('\n').filter(Boolean);
}

export function tableRow(stdout: string, address: string): string {
  const row = stdout.split('\n').find((line) => line.startsWith(address + ' ') || line.startsWith(address + '\t'));
  assert.ok(row, `no table row for ${address} in:\n${stdout}`);
  return row;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Remove snapshots an earlier run of the same tests left on the nodes (reruns on a kept lab). */
export async function removeNodeSnapshots(lab: LabFacts, pattern: string): Promise<void> {
  for (let node = 1; node <= lab.addresses.length; node++) {
    await nodeExec(node, 'find', '/opt/rke/etcd-snapshots', '-maxdepth', '1', '-name', pattern, '-delete');
  }
}
