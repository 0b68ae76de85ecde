/** docker runtime, save: RKE's checks on the node, then the agent (or an rke-tools image) in `etcd-snapshot-once`. */
import { agentSaveArgs, parseSaveResultLine } from '../../agent/protocol/save.js';
import { parseProgressLine, type AgentInput } from '../../agent/protocol/wire.js';
import type { NodeConfig } from '../../config/cluster.js';
import { OperatorError } from '../../errors.js';
import { DEFAULT_COMPRESSION } from '../../model/compression.js';
import { isCensus } from '../../model/census.js';
import { CONTAINER_BACKUP_DIR, CONTAINER_SSL_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import type { CopyCheck, SavedSnapshot } from '../../model/snapshot.js';
import { EngineLostError } from '../../docker/engine-watch.js';
import { KILLED_STATUS } from '../../docker/exit-events.js';
import { failureMessage } from '../node-ssh.js';
import { nodeSslDir, withNodePaths } from '../node-paths.js';
import type { NodeResult, NodeTimings } from '../result.js';
import type { SaveJob } from '../runtime.js';
import type { RunScope } from '../scope.js';
import { agentSuccess, ensureAgentImage, runAgentContainer } from './agent-container.js';
import { sweepAfterKill } from './files.js';
import { limitsOf, type AgentLimits, type DockerRuntimeOptions } from './options.js';
import { checkEngine, checkEtcdRunning, engineInfo, withNodeEngine, type NodeEngine } from './engine.js';
import { findCopyAfterEngineLoss } from './engine-lost.js';
import { resolveImageContract, rkeToolsSnapshot } from './rke-tools-image.js';

/** Take one node's snapshot. Never throws: failures become the result's `error`. */
export async function saveOnNode(node: NodeConfig, job: SaveJob, scope: RunScope, options: DockerRuntimeOptions): Promise<NodeResult> {
  const started = Date.now();
  const base = { address: node.address, hostnameOverride: node.hostnameOverride };
  const warnings: string[] = [];
  const timings: NodeTimings = {};
  let lapStart = started;
  const lap = (phase: 'sshConnectMs' | 'dockerChecksMs' | 'imageMs') => {
    const now = Date.now();
    timings[phase] = now - lapStart;
    lapStart = now;
  };
  try {
    scope.progress?.({ node: node.address, phase: 'connecting' });
    const result = await withNodeEngine(node, scope, async (engine) => {
      lap('sshConnectMs');
      await checkEngine(engine, options.ignoreDockerVersion);
      const { clockOffsetMs } = await engineInfo(engine);
      await checkEtcdRunning(engine);
      lap('dockerChecksMs');
      scope.progress?.({ node: node.address, phase: 'image' });
      const image = await ensureAgentImage(engine, options.image);
      const contract = await resolveImageContract(engine, image, options);
      lap('imageMs');
      scope.progress?.({ node: node.address, phase: 'snapshot' });
      if (contract === 'rke-tools') {
        const written = await rkeToolsSnapshot(engine, image, job, limitsOf(options));
        warnings.push(...written.warnings);
        return written.snapshot;
      }
      try {
        return savedFields(await runSnapshotAgent(engine, { image, job, limits: limitsOf(options), timings, warnings }));
      } catch (error) {
        if (!(error instanceof EngineLostError)) throw error;
        scope.progress?.({ node: node.address, phase: 'verify' });
        const found = await findCopyAfterEngineLoss(engine, { lost: error, name: job.name, clockOffsetMs });
        warnings.push(found.note);
        return checkedFields(found.copy);
      }
    });
    return { ...base, ...result, ok: true, warnings, durationMs: Date.now() - started, timings };
  } catch (error) {
    return { ...base, ok: false, error: failureMessage(error, node, scope), warnings, durationMs: Date.now() - started, timings };
  }
}

/** One node's save: what it runs, and the node's row it fills in (timings, warnings). */
interface SnapshotRun {
  image: string;
  job: SaveJob;
  limits: AgentLimits;
  timings: NodeTimings;
  warnings: string[];
}

/**
 * The agent's `save` in `etcd-snapshot-once`: the snapshots directory bound read-write (the
 * only place it writes), the certificates read-only. A container it could not remove is
 * added to `warnings`; one its memory limit killed has its temporary file swept.
 */
async function runSnapshotAgent(engine: NodeEngine, { image, job, limits, timings, warnings }: SnapshotRun): Promise<SavedSnapshot> {
  const { node, scope } = engine;
  const input: AgentInput = job.stateFile ? { stateFileBase64: job.stateFile.toString('base64') } : {};
  const outcome = await runAgentContainer(engine, {
    job: 'save',
    image,
    snapshotName: job.name,
    cmd: agentSaveArgs({
      name: job.name,
      endpoint: `https://${node.internalAddress}:2379`,
      cacert: `${CONTAINER_SSL_DIR}/kube-ca.pem`,
      cert: `${CONTAINER_SSL_DIR}/kube-node.pem`,
      key: `${CONTAINER_SSL_DIR}/kube-node-key.pem`,
      overwrite: job.overwrite,
      healthTimeoutSeconds: 30,
      ...(job.pkiBundle ? { pkiBundle: true } : {}),
      // Sent only when it is not the default: a copy of an older agent (--backup-image) does not know the flag.
      ...(job.compression && job.compression !== DEFAULT_COMPRESSION ? { compression: job.compression } : {}),
    }),
    binds: [`${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}`, `${nodeSslDir(scope.cluster.prefixPath)}:${CONTAINER_SSL_DIR}:ro`],
    input,
    limits,
    onStdoutLine: (line) => {
      const progress = parseProgressLine(line);
      if (progress !== undefined) scope.progress?.({ node: node.address, phase: progress.phase, ...(progress.bytes === undefined ? {} : { bytes: progress.bytes }) });
    },
  });
  if (outcome.removalError) warnings.push(outcome.removalError);
  // Killed (its memory limit, `docker kill`, the kernel): it could not remove its temporary file.
  if (outcome.oomKilled || outcome.exitCode === KILLED_STATUS) warnings.push(...(await sweepAfterKill(engine, { image, name: job.name, limits })));
  timings.containerStartMs = outcome.timings.startMs;
  timings.agentMs = outcome.timings.runMs;
  timings.containerRemoveMs = outcome.timings.removeMs;
  let saved;
  try {
    saved = agentSuccess(outcome, parseSaveResultLine, engine, 'snapshot');
  } catch (error) {
    if (error instanceof OperatorError) throw new OperatorError(withNodePaths(error.message, scope.cluster.prefixPath));
    throw error;
  }
  if (job.pkiBundle && saved.pkiBundle === undefined) {
    throw new OperatorError(
      `host ${node.address}: the snapshot agent wrote ${saved.file} but reported no PKI bundle; the image given with --backup-image may not support --pki-bundle`,
    );
  }
  return saved;
}

/** The node's row from the agent's report: the copy's fields, and the agent's peak memory. */
function savedFields(saved: SavedSnapshot): CopyFields {
  return {
    file: saved.file,
    size: saved.size,
    sha256: saved.sha256,
    snapshotSize: saved.snapshotSize,
    snapshotSha256: saved.snapshotSha256,
    ...(typeof saved.revision === 'number' ? { revision: saved.revision } : {}),
    ...censusFields(saved),
    stateFileIncluded: saved.stateFileIncluded,
    ...(saved.pkiBundle ? { pkiBundle: saved.pkiBundle } : {}),
    ...(saved.peakRssBytes !== undefined ? { agentPeakRssBytes: saved.peakRssBytes } : {}),
  };
}

type CopyFields = Omit<NodeResult, 'address' | 'hostnameOverride' | 'ok' | 'durationMs' | 'warnings'>;

/** The node's row from a copy verified over SSH (the engine was lost before the agent reported). */
function checkedFields(copy: CopyCheck): CopyFields {
  return {
    file: copy.file,
    size: copy.size ?? 0,
    sha256: copy.sha256 ?? '',
    ...(copy.snapshotSize !== undefined ? { snapshotSize: copy.snapshotSize } : {}),
    ...(copy.snapshotSha256 !== undefined ? { snapshotSha256: copy.snapshotSha256 } : {}),
    ...(typeof copy.revision === 'number' ? { revision: copy.revision } : {}),
    ...censusFields(copy),
    stateFileIncluded: copy.stateFileIncluded ?? false,
  };
}

/** The census an agent reported, if it has a census's shape (an image given with --backup-image may be older, or another). */
function censusFields(reported: Pick<CopyCheck, 'census' | 'censusProblem'>): Pick<CopyFields, 'census' | 'censusProblem'> {
  if (isCensus(reported.census)) return { census: reported.census };
  return typeof reported.censusProblem === 'string' ? { censusProblem: reported.censusProblem } : {};
}
