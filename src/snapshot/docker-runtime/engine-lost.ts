/**
 * The node's engine died while the snapshot agent ran. The agent runs on under containerd
 * and may still finish, so what the node holds is read over the SSH connection (SFTP), as
 * `--runtime ssh` reads it: a whole, verified NAME.zip written by this run makes the node's
 * row ok; anything else fails it, saying what is there.
 */
import { isTemporaryNameOf } from '../../archive/atomic-file.js';
import type { SnapshotDirectory } from '../../archive/snapshot-directory.js';
import { verifySnapshotCopy } from '../../archive/verify-copy.js';
import { deadline, formatSeconds } from '../../deadline.js';
import type Docker from 'dockerode';
import { containerState, type EngineLostError } from '../../docker/engine-watch.js';
import { OperatorError, messageOf } from '../../errors.js';
import { NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import type { CopyCheck } from '../../model/snapshot.js';
import { openNodeSftp } from '../ssh-runtime/save.js';
import { sftpDirectory } from '../ssh-runtime/sftp-directory.js';
import { CONTAINER_NAMES } from './agent-container.js';
import type { NodeEngine } from './engine.js';

const SAVE_CONTAINER = CONTAINER_NAMES.save;

/** How often the directory is looked at while the agent's temporary file is still there. */
const POLL_MS = 1_000;
/**
 * With the engine silent, a temporary file this long unchanged (size and mtime) is not waited
 * for any more: its writer is most likely dead (or reading it back; the message says both).
 */
const UNCHANGED_GIVE_UP_MS = 30_000;
/** mtimes over SFTP are whole seconds, and the clock offset is measured over the network. */
const MTIME_SLACK_MS = 2_000;

export interface CopyAfterEngineLoss {
  /** The verified copy (status ok). */
  copy: CopyCheck & { status: 'ok' };
  /** The note for the node's row: the engine was lost, the copy checked over SSH. */
  note: string;
}

export interface EngineLossContext {
  lost: EngineLostError;
  /** The snapshot's name (NAME.zip). */
  name: string;
  /** The node's clock minus this machine's (`docker info`), to tell this run's file from an older one. */
  clockOffsetMs: number | undefined;
}

/**
 * Waits while the agent's temporary file is there (at most until backup_config.timeout,
 * counted from the container's start), then verifies NAME.zip. Throws an OperatorError that
 * begins with the loss and says what the node holds.
 */
export async function findCopyAfterEngineLoss(engine: NodeEngine, { lost, name, clockOffsetMs }: EngineLossContext): Promise<CopyAfterEngineLoss> {
  const { scope } = engine;
  const fileName = `${name}.zip`;
  const waitUntil = lost.startedAt + scope.timeouts.snapshotMs;
  const failed = (what: string) => new OperatorError(`${lost.message}; ${what}`);
  scope.log.debug(`${lost.message}; looking at ${NODE_SNAPSHOT_DIR} over SSH`);
  let sftp;
  try {
    sftp = await openNodeSftp(engine.ssh, scope);
  } catch (error) {
    throw failed(`cannot look at ${NODE_SNAPSHOT_DIR} over SSH either (${messageOf(error)}); check ${fileName} there with snapshot-ls once the engine is back`);
  }
  try {
    const dir = sftpDirectory(sftp, NODE_SNAPSHOT_DIR);
    const left = await waitWhileWriting(engine, lost.container, dir, fileName, waitUntil);
    if (left.kind === 'agent-gone') {
      const removed = await dir.unlink(left.temporary).catch(() => false);
      throw failed(
        `the agent is gone too (the engine, back, no longer runs ${SAVE_CONTAINER}) and wrote no ${fileName}; ` +
          (removed ? `its temporary file ${left.temporary} was removed` : `its temporary file ${left.temporary} is removed by the next run`),
      );
    }
    if (left.kind === 'unchanged') {
      throw failed(
        `the engine does not answer and the agent's temporary file ${left.temporary} has not changed for ${formatSeconds(UNCHANGED_GIVE_UP_MS)}: ` +
          `no ${fileName} is confirmed; the agent may still finish it, so check with "rke etcd snapshot-ls" once the engine is back ` +
          '(the next run removes a temporary file left behind)',
      );
    }
    if (left.kind === 'timeout') {
      throw failed(
        `the agent's temporary file ${left.temporary} was still there ${formatSeconds(scope.timeouts.snapshotMs)} after the start ` +
          `(services.etcd.backup_config.timeout), and no ${fileName}; the next run on this node removes it`,
      );
    }
    const stats = await dir.lstat(fileName);
    if (stats === undefined) throw failed(`no ${fileName} was written there (checked over SSH)`);
    if (clockOffsetMs !== undefined && stats.mtime.getTime() < lost.startedAt + clockOffsetMs - MTIME_SLACK_MS) {
      throw failed(`${fileName} there is older than this run (checked over SSH): the snapshot did not complete`);
    }
    const copy = await verifySnapshotCopy(dir, name);
    if (copy.status !== 'ok') throw failed(`${copy.file} there is damaged: ${copy.problem ?? copy.status}`);
    return {
      copy: copy as CopyCheck & { status: 'ok' },
      note: `${lost.message}; the agent finished on its own, and ${copy.file} was verified over SSH (zip, CRC-32, etcd's SHA-256 trailer)`,
    };
  } finally {
    sftp.end();
  }
}

type WritingOutcome = { kind: 'done' } | { kind: 'timeout' | 'agent-gone' | 'unchanged'; temporary: string };

/**
 * Until no temporary file of `fileName` is left (done), `waitUntil` passes (timeout), or the
 * engine answers again and no longer runs the agent (agent-gone: killed with the engine, its
 * temporary file left behind). While the engine does not answer, the agent may still be writing.
 */
async function waitWhileWriting(
  engine: NodeEngine,
  agent: Docker.Container,
  dir: SnapshotDirectory,
  fileName: string,
  waitUntil: number,
): Promise<WritingOutcome> {
  let last: { temporary: string; size: number; mtimeMs: number; since: number } | undefined;
  for (;;) {
    const temporary = ((await dir.names()) ?? []).find((entry) => isTemporaryNameOf(entry, fileName));
    if (temporary === undefined) return { kind: 'done' };
    if (Date.now() >= waitUntil) return { kind: 'timeout', temporary };
    const state = (await containerState(agent)).kind;
    if (state === 'gone') {
      // It may have finished just now: look once more before calling it dead.
      const stillThere = ((await dir.names()) ?? []).includes(temporary);
      return stillThere ? { kind: 'agent-gone', temporary } : { kind: 'done' };
    }
    const stats = await dir.lstat(temporary);
    const now = Date.now();
    if (stats === undefined || last?.temporary !== temporary || stats.size !== last.size || stats.mtime.getTime() !== last.mtimeMs) {
      last = { temporary, size: stats?.size ?? -1, mtimeMs: stats?.mtime.getTime() ?? 0, since: now };
    } else if (state === 'unknown' && now - last.since >= UNCHANGED_GIVE_UP_MS) {
      return { kind: 'unchanged', temporary };
    }
    await deadline(new Promise((resolve) => setTimeout(resolve, POLL_MS)), POLL_MS + 1_000, 'waiting for the agent', engine.scope.signal);
  }
}

