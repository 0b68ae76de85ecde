/**
 * docker runtime: `snapshot-verify --restore` on one node's copy (SPEC §8). The supervisor
 * (`agent drill`, container etcd-snapshot-drill, no network but its own loopback) extracts the
 * snapshot into a scratch directory beside the snapshots and says which ports to use; then,
 * from the image of the node's `etcd` container, etcd-snapshot-drill-restore restores it and
 * etcd-snapshot-drill-member serves it, both in the supervisor's PID and network namespace; the
 * supervisor reads the census back and tears everything down. Why it is built so that nothing
 * outlives the supervisor: agent/protocol/drill.ts, docs/reliability.md.
 */
import type { NodeConfig } from '../../config/cluster.js';
import type { Confinement } from '../../docker/confinement.js';
import { describeDockerError, isNotFound } from '../../docker/engine.js';
import { runOneOffContainer, type OneOffContainerHooks, type OneOffOutcome } from '../../docker/one-off-container.js';
import { deadline } from '../../deadline.js';
import {
  DRILL_MOUNT,
  ETCD_PROGRAMS,
  etcdErrorLine,
  memberCommand,
  restoreCommand,
  type DrillCommand,
  type RestoreTool,
} from '../../etcd/restore-drill.js';
import { OperatorError } from '../../errors.js';
import { CONTAINER_BACKUP_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import type { RestoreDrilled, RestoredCopy } from '../../model/restore.js';
import { MEMBER_STARTED, agentDrillArgs, parseDrillReadyLine, parseDrillResultLine, type DrillReady } from '../../agent/protocol/drill.js';
import { failureMessage } from '../node-ssh.js';
import type { Outcome } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { CONTAINER_NAMES, agentResult, agentSuccess, ensureAgentImage, runAgentContainer } from './agent-container.js';
import { withNodeEngine, type NodeEngine } from './engine.js';
import { limitsOf, type AgentLimits, type DockerRuntimeOptions } from './options.js';

/** The drill's etcd containers, beside the supervisor CONTAINER_NAMES.drill. */
export const DRILL_ETCD_CONTAINERS = { restore: 'etcd-snapshot-drill-restore', member: 'etcd-snapshot-drill-member' } as const;

/** The supervisor gets this long after SIGTERM to kill the drill's processes and remove its scratch directory. */
const SUPERVISOR_STOP_GRACE_SECONDS = 20;

/** The image of the node's etcd container: its id (what runs) and its name (what the operator reads). */
interface EtcdImage {
  id: string;
  name: string;
}

/** Never throws: the drill's outcome, or why it could not run, naming the node and the copy. */
export async function drillOnNode(node: NodeConfig, name: string, scope: RunScope, options: DockerRuntimeOptions, placedCopy?: string): Promise<Outcome<RestoreDrilled>> {
  const warnings: string[] = [];
  try {
    const result = await withNodeEngine(node, scope, async (engine) => {
      const image = await ensureAgentImage(engine, options.image);
      const etcd = await etcdImageOf(engine);
      return runDrill(engine, { agentImage: image, etcd, name, ...(placedCopy ? { placedCopy } : {}), limits: limitsOf(options), warnings });
    });
    return { ok: true, result, warnings };
  } catch (error) {
    return { ok: false, error: failureMessage(error, node, scope), warnings };
  }
}

/** The cluster's own etcd: the image of the node's `etcd` container, running or not (the drill never needs the live member). */
async function etcdImageOf({ node, docker, scope }: NodeEngine): Promise<EtcdImage> {
  try {
    const inspected = await deadline(docker.getContainer('etcd').inspect(), scope.timeouts.dockerApiMs, `inspecting the etcd container on host ${node.address}`, scope.signal);
    return { id: inspected.Image, name: inspected.Config.Image || inspected.Image };
  } catch (error) {
    if (isNotFound(error)) {
      throw new OperatorError(`host ${node.address}: there is no etcd container, whose image the restore drill runs (the drill uses the cluster's own etcd)`);
    }
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot inspect the etcd container on host ${node.address}: ${describeDockerError(error)}`);
  }
}

interface DrillRun {
  agentImage: string;
  etcd: EtcdImage;
  name: string;
  placedCopy?: string;
  limits: AgentLimits;
  warnings: string[];
}

async function runDrill(engine: NodeEngine, run: DrillRun): Promise<RestoreDrilled> {
  const { scope } = engine;
  let stdin: NodeJS.WritableStream | undefined;
  let announceReady: (ready: DrillReady) => void = () => undefined;
  const ready = new Promise<DrillReady>((resolve) => (announceReady = resolve));
  const supervisor = runAgentContainer(engine, {
    job: 'drill',
    image: run.agentImage,
    cmd: agentDrillArgs({
      name: run.name,
      timeoutSeconds: Math.max(10, Math.floor(scope.timeouts.snapshotMs / 1000) - 10),
      ...(run.placedCopy ? { placedCopy: run.placedCopy } : {}),
    }),
    binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}`],
    snapshotName: run.name,
    onStdoutLine: (line) => {
      const parsed = parseDrillReadyLine(line);
      if (parsed) announceReady(parsed);
    },
    limits: run.limits,
    container: { networkMode: 'none', holdStdin: (stream) => (stdin = stream), stopGraceSeconds: SUPERVISOR_STOP_GRACE_SECONDS },
  });
  // Settled either way, so that every path below can wait for it.
  const supervisorDone = supervisor.then(
    (outcome) => ({ outcome }),
    (error: unknown) => ({ error }),
  );
  let member: Promise<unknown> | undefined;
  let memberExit: OneOffOutcome | undefined;
  let failure: unknown;
  const copy = `${NODE_SNAPSHOT_DIR}/${run.placedCopy ?? `${run.name}.zip`}`;
  let tool: RestoreTool | undefined;
  try {
    const first = await Promise.race([ready.then((value) => ({ ready: value })), supervisorDone]);
    if ('ready' in first) {
      const drill = first.ready;
      const etcdContainer = etcdContainerSpec(engine, run, drill);
      tool = await restoreWithImageTool(engine, run, drill, etcdContainer, copy);
      const memberRun = runOneOffContainer(engine.docker, engine.node.address, etcdContainer('member', memberCommand(drill.ports, drill.token)), containerLimits(scope));
      member = memberRun.catch(() => undefined);
      stdin?.write(`${MEMBER_STARTED}\n`);
      // The member exits when the supervisor's teardown kills it, or on its own: which one, the supervisor's result says.
      const raced = await Promise.race([supervisorDone.then(() => undefined), memberRun.then((outcome) => ({ member: outcome }))]);
      if (raced !== undefined) memberExit = raced.member;
    }
  } catch (error) {
    failure = error;
  } finally {
    // The supervisor's cue to tear down (it also does when it has its result).
    stdin?.end();
  }
  const done = await supervisorDone;
  await member;
  if (failure !== undefined) throw failure;
  if ('error' in done) throw done.error;
  if (done.outcome.removalError) run.warnings.push(done.outcome.removalError);
  const result = agentResult(done.outcome, parseDrillResultLine, engine, 'restore drill');
  if (!result.ok && memberExit !== undefined) {
    throw new OperatorError(
      `${copy} on host ${engine.node.address} restored, but the etcd member started on it exited (status ${memberExit.exitCode}) before it answered: ` +
        (etcdErrorLine(`${memberExit.stdout}\n${memberExit.stderr}`) ?? 'it printed nothing'),
    );
  }
  const restored: RestoredCopy = agentSuccess(done.outcome, parseDrillResultLine, engine, 'restore drill');
  return { ...restored, tool: tool ?? 'etcd', image: run.etcd.name };
}

/** The one-off container of a drill's etcd program: the etcd image, inside the supervisor's namespaces, the scratch directory its only bind. */
function etcdContainerSpec(engine: NodeEngine, run: DrillRun, drill: DrillReady) {
  const supervisor = `container:${CONTAINER_NAMES.drill}`;
  return (role: keyof typeof DRILL_ETCD_CONTAINERS, command: DrillCommand) => ({
    name: DRILL_ETCD_CONTAINERS[role],
    image: run.etcd.id,
    entrypoint: command.entrypoint,
    cmd: command.cmd,
    env: command.env,
    binds: [`${NODE_SNAPSHOT_DIR}/${drill.scratch}:${DRILL_MOUNT}`],
    labels: { 'io.rke-etcd-snapshot.name': run.name },
    // The restore needs no network at all; the member shares the supervisor's loopback, and nothing else.
    networkMode: role === 'member' ? supervisor : 'none',
    pidMode: supervisor,
    // Root, so that the supervisor (root, no capability) owns and can remove what etcd writes.
    user: '0:0',
    confinement: drillEtcdConfinement(run.limits),
    purpose: 'the restore drill',
  });
}

/**
 * The restore, with etcdutl where the image has it, else etcdctl (found through the archive API on
 * the created container: the image may have no shell to ask). A failed restore names the copy and
 * etcd's own error line.
 */
async function restoreWithImageTool(
  engine: NodeEngine,
  run: DrillRun,
  drill: DrillReady,
  etcdContainer: ReturnType<typeof etcdContainerSpec>,
  copy: string,
): Promise<RestoreTool> {
  const { node, docker, scope } = engine;
  for (const tool of ['etcdutl', 'etcdctl'] as const) {
    // HEAD of the archive API: the file's stat, without its bytes (a GET would stream the whole binary).
    const hasTool = async (container: Parameters<NonNullable<OneOffContainerHooks['beforeStart']>>[0]) => {
      const what = `looking for ${tool} in ${run.etcd.name} on host ${node.address}`;
      const found = await deadline(container.infoArchive({ path: ETCD_PROGRAMS[tool] }), scope.timeouts.dockerApiMs, what, scope.signal).then(
        () => true,
        (error: unknown) => {
          if (isNotFound(error)) return false;
          throw error;
        },
      );
      if (!found) throw new ToolAbsent();
    };
    const outcome = await runOneOffContainer(docker, node.address, etcdContainer('restore', restoreCommand(tool, drill.ports, drill.token)), containerLimits(scope), {
      beforeStart: hasTool,
    }).catch((error: unknown) => {
      if (error instanceof ToolAbsent) return undefined;
      throw error;
    });
    if (outcome === undefined) continue;
    if (outcome.removalError) run.warnings.push(outcome.removalError);
    if (outcome.exitCode !== 0) {
      const said = etcdErrorLine(`${outcome.stdout}\n${outcome.stderr}`) ?? `exit status ${outcome.exitCode}, no output`;
      throw new OperatorError(`${copy} on host ${node.address} did not restore (${tool} snapshot restore, image ${run.etcd.name}): ${said}`);
    }
    scope.log.debug(`host ${node.address}: ${copy} restored with ${tool} of ${run.etcd.name}`);
    return tool;
  }
  throw new OperatorError(
    `host ${node.address}: the etcd image ${run.etcd.name} has neither ${ETCD_PROGRAMS.etcdutl} nor ${ETCD_PROGRAMS.etcdctl}, so the restore drill cannot restore with it`,
  );
}

class ToolAbsent extends Error {}

function containerLimits(scope: RunScope) {
  return { runTimeoutMs: scope.timeouts.snapshotMs, apiTimeoutMs: scope.timeouts.dockerApiMs, signal: scope.signal };
}

/**
 * etcd in the drill: no capability, no privilege gain, its image read-only, the scratch directory
 * its only writable place; memory for a member that maps its database (the kernel reclaims file
 * pages under the limit), the agents' process bound raised for Go's threads, and their CPU weight.
 */
function drillEtcdConfinement(limits: AgentLimits): Confinement {
  return {
    capAdd: [],
    readonlyRootfs: true,
    tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=16m,mode=1777' },
    memoryBytes: 1024 * 1024 * 1024,
    pidsLimit: 256,
    cpuShares: limits.cpuShares,
    ...(limits.cpus !== undefined ? { cpus: limits.cpus } : {}),
  };
}
