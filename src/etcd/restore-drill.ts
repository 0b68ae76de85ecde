/**
 * The command lines of a restore drill (`snapshot-verify --restore`, SPEC §8), run with the
 * cluster's own etcd image, and how etcd's own error is read back from what it printed.
 * A drill member is a cluster of one: its own name and token, client and peer URLs on
 * 127.0.0.1 inside the drill's private network namespace; it never knows the live members.
 */

/** Where the drill containers see the node's scratch directory. */
export const DRILL_MOUNT = '/drill';
/** The etcd snapshot extracted from the zip, inside the scratch directory. */
export const DRILL_SNAPSHOT_FILE = 'snapshot.db';
/** The data directory the restore creates and the member runs on, inside the scratch directory. */
export const DRILL_DATA_DIR = 'data';
export const DRILL_MEMBER_NAME = 'restore-drill';

/**
 * Where etcd's images (rancher/mirrored-coreos-etcd, quay.io/coreos/etcd, gcr.io/etcd-development/etcd,
 * and the lab's) keep their programs. 3.5 images are distroless (no shell): these paths are run directly.
 */
export const ETCD_PROGRAMS = {
  etcd: '/usr/local/bin/etcd',
  etcdutl: '/usr/local/bin/etcdutl',
  etcdctl: '/usr/local/bin/etcdctl',
} as const;

/** etcdutl (etcd 3.5 and later) where the image has it, else etcdctl (3.4, where restore still lives). */
export type RestoreTool = 'etcdutl' | 'etcdctl';

export interface DrillPorts {
  client: number;
  peer: number;
}

/** A member's backend quota: above any database etcd supports, so a large snapshot raises no NOSPACE alarm. */
const DRILL_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;

/** etcd preallocates its first WAL segment (64 MiB) in the restored data directory; the rest is margin. */
const DRILL_SPACE_MARGIN_BYTES = 128 * 1024 * 1024;

/**
 * The free space a drill needs beside the snapshots: the snapshot extracted from the zip, the
 * restored copy of its database, and etcd's WAL and margin.
 */
export function drillSpaceNeeded(snapshotSize: number): number {
  return 2 * snapshotSize + DRILL_SPACE_MARGIN_BYTES;
}

export function drillUrls(ports: DrillPorts): { client: string; peer: string } {
  for (const port of [ports.client, ports.peer]) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a TCP port: ${port}`);
  }
  if (ports.client === ports.peer) throw new Error(`the client and peer ports must differ (both ${ports.client})`);
  return { client: `http://127.0.0.1:${ports.client}`, peer: `http://127.0.0.1:${ports.peer}` };
}

/** A container's program and arguments (the image's entrypoint replaced), and its environment. */
export interface DrillCommand {
  entrypoint: string[];
  cmd: string[];
  env: string[];
}

/** `etcdutl|etcdctl snapshot restore` of the extracted snapshot into a fresh data directory, as a one-member cluster. */
export function restoreCommand(tool: RestoreTool, ports: DrillPorts, token: string): DrillCommand {
  const { peer } = drillUrls(ports);
  return {
    entrypoint: [ETCD_PROGRAMS[tool]],
    cmd: [
      'snapshot',
      'restore',
      `${DRILL_MOUNT}/${DRILL_SNAPSHOT_FILE}`,
      `--data-dir=${DRILL_MOUNT}/${DRILL_DATA_DIR}`,
      `--name=${DRILL_MEMBER_NAME}`,
      `--initial-cluster=${DRILL_MEMBER_NAME}=${peer}`,
      `--initial-cluster-token=${token}`,
      `--initial-advertise-peer-urls=${peer}`,
    ],
    // etcdctl 3.4 speaks v3 by default; said anyway for images that set ETCDCTL_API=2.
    env: tool === 'etcdctl' ? ['ETCDCTL_API=3'] : [],
  };
}

/** The throw-away member on the restored data directory. */
export function memberCommand(ports: DrillPorts, token: string): DrillCommand {
  const { client, peer } = drillUrls(ports);
  return {
    entrypoint: [ETCD_PROGRAMS.etcd],
    cmd: [
      `--name=${DRILL_MEMBER_NAME}`,
      `--data-dir=${DRILL_MOUNT}/${DRILL_DATA_DIR}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${DRILL_MEMBER_NAME}=${peer}`,
      `--initial-cluster-token=${token}`,
      '--initial-cluster-state=new',
      `--quota-backend-bytes=${DRILL_QUOTA_BYTES}`,
    ],
    env: [],
  };
}

/**
 * etcd's own error among what it printed (stdout and stderr, in order): the last `Error: ...`
 * line (etcdctl, etcdutl), else the last fatal/panic/error entry of its JSON log (3.5: its
 * `msg` and `error`), else the last critical/error line of its text log (3.4: `... C | pkg: msg`),
 * else its last line. Undefined when it printed nothing.
 */
export function etcdErrorLine(output: string): string | undefined {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const last = <T>(pick: (line: string) => T | undefined): T | undefined => {
    for (let index = lines.length - 1; index >= 0; index--) {
      const picked = pick(lines[index]!);
      if (picked !== undefined) return picked;
    }
    return undefined;
  };
  return (
    last((line) => (/^Error:\s/.test(line) ? line : undefined)) ??
    last(jsonLogError) ??
    last((line) => {
      const match = /^\S+ \S+ [CEF] \| (.*)$/.exec(line);
      return match ? match[1] : undefined;
    }) ??
    lines.at(-1)
  );
}

function jsonLogError(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; error?: unknown };
    if (entry.level !== 'fatal' && entry.level !== 'panic' && entry.level !== 'error') return undefined;
    const msg = typeof entry.msg === 'string' ? entry.msg : 'error';
    return typeof entry.error === 'string' ? `${msg}: ${entry.error}` : msg;
  } catch {
    return undefined;
  }
}

/** `3.4.23` → `v3.4.23` (etcd's Status reports the version without its `v`). */
export function etcdVersionLabel(version: string): string {
  return version.startsWith('v') ? version : `v${version}`;
}
