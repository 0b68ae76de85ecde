/**
 * Driving a backup image that speaks only rke-tools' command line (rancher/rke-tools, or
 * anything compatible), as RKE drives it: `etcd-backup save --once` in the
 * `etcd-snapshot-once` container, S3 settings as flags, keys base64 in its environment.
 * There is no result line: the outcome is the exit status and the log, then the file
 * the node now has is checked through the engine's archive API (exists, regular, not
 * empty, written by this run, a zip whose first entry is /backup/NAME), reading only its
 * first bytes.
 */
import path from 'node:path';
import { CONTAINER_BACKUP_DIR, CONTAINER_KUBERNETES_DIR, CONTAINER_SSL_DIR, NODE_SNAPSHOT_DIR } from '../../model/paths.js';
import {
  IMAGE_CONTRACT_LABEL,
  RKE_TOOLS_SKIPPED_UPLOAD,
  RKE_TOOLS_UPLOAD_FAILURE,
  rkeToolsSaveInvocation,
  secretForms,
} from '../../rke-tools/contract.js';
import { deadline } from '../../deadline.js';
import { readContainerFileHead } from '../../docker/container-file.js';
import { describeDockerError } from '../../docker/engine.js';
import { runOneOffContainer } from '../../docker/one-off-container.js';
import { singleFileTar, zipFirstEntryName } from '../../docker/tar-head.js';
import { OperatorError, messageOf } from '../../errors.js';
import { redactSecrets } from '../../s3/errors.js';
import { snapshotObjectKey } from '../../s3/key.js';
import type { S3Settings } from '../../s3/settings.js';
import type { Logger } from '../../log.js';
import type { NodeResult, ReportedUpload } from '../result.js';
import type { SaveJob, UploadJob } from '../runtime.js';
import { CONTAINER_NAMES, agentConfinement } from './agent-container.js';
import type { NodeEngine } from './engine.js';
import type { AgentLimits, DockerRuntimeOptions, ImageContract } from './options.js';

/**
 * `auto`: the bundled agent is native; another image is native only if it carries our
 * label (`io.rke-etcd-snapshot.contract=native`, set by agent-image/build.sh), else it
 * is driven as rke-tools.
 */
export async function resolveImageContract({ node, docker, scope }: NodeEngine, image: string, options: DockerRuntimeOptions): Promise<ImageContract> {
  const choice = options.imageContract ?? 'auto';
  if (choice !== 'auto') return choice;
  if (options.image.kind === 'bundled') return 'native';
  const inspected = await deadline(docker.getImage(image).inspect(), scope.timeouts.dockerApiMs, `inspecting image ${image} on host ${node.address}`, scope.signal).catch(
    (error: unknown) => {
      if (error instanceof OperatorError) throw error;
      throw new OperatorError(`cannot inspect image ${image} on host ${node.address}: ${describeDockerError(error)}`);
    },
  );
  const contract = inspected.Config?.Labels?.[IMAGE_CONTRACT_LABEL] === 'native' ? 'native' : 'rke-tools';
  scope.log.debug(`host ${node.address}: image ${image} is driven with the ${contract} contract`);
  return contract;
}

/** What the node's snapshot came to, as far as this contract can tell. */
export type RkeToolsSnapshot = Pick<NodeResult, 'file' | 'size'>;

/** The `etcd-snapshot-once` container with rke-tools' command line, then a check of the file. */
export async function rkeToolsSnapshot(engine: NodeEngine, image: string, job: SaveJob, limits: AgentLimits): Promise<{ snapshot: RkeToolsSnapshot; warnings: string[] }> {
  if (job.pkiBundle) {
    throw new OperatorError(
      `host ${engine.node.address}: ${image} speaks rke-tools' command line, which has no PKI bundle; --pki-bundle needs an image with the bundled agent's protocol`,
    );
  }
  const { snapshot, warnings } = await runRkeToolsSave(engine, image, job, { replaceOwnFile: false, limits });
  return { snapshot, warnings };
}

/**
 * The S3 step with this contract. rke-tools has no upload-only command: the chosen node
 * takes its snapshot again with the S3 flags, which replaces the file this run wrote
 * there with the copy that goes to S3 (the node's row is updated to match).
 */
export async function rkeToolsUpload(
  engine: NodeEngine,
  image: string,
  job: UploadJob,
  limits: AgentLimits,
): Promise<{ uploaded: ReportedUpload; rewrote: RkeToolsSnapshot; warnings: string[] }> {
  const { node, scope } = engine;
  const settings = job.s3;
  if (settings.credentials) warnKeysInEnvironmentOnce(scope.log);
  scope.log.info(`[${node.address}] rke-tools has no upload-only command: taking snapshot ${job.name} again there, with the S3 flags`);
  const { snapshot, stderr, warnings } = await runRkeToolsSave(engine, image, job, { replaceOwnFile: true, s3: settings, limits });
  const key = snapshotObjectKey(settings.folder, job.name);
  if (stderr.includes(RKE_TOOLS_SKIPPED_UPLOAD)) {
    throw new OperatorError(
      `host ${node.address}: s3://${settings.bucketName}/${key} already exists (from an earlier run) and the bucket is unversioned: ` +
        'an rke-tools image keeps it and uploads nothing, --overwrite cannot change that; remove the object or use another --name',
    );
  }
  const reported = /Successfully uploaded \[([^\]]*)\] of size \[(\d+)\]/.exec(stderr);
  return {
    uploaded: { reportedBy: 'rke-tools', bucket: settings.bucketName, key, ...(reported ? { size: Number(reported[2]) } : {}), warnings: [] },
    rewrote: snapshot,
    warnings,
  };
}

const warnedRuns = new WeakSet<object>();

/** Once per run: this contract has no other way to hand the keys over. */
function warnKeysInEnvironmentOnce(log: Logger): void {
  if (warnedRuns.has(log)) return;
  warnedRuns.add(log);
  log.warn(
    'the backup image speaks rke-tools\' command line: the S3 access and secret keys go base64-encoded into the environment of its ' +
      'etcd-snapshot-once container, readable with "docker inspect" on that node while it exists (it is removed after the run); ' +
      'the bundled agent takes them on stdin instead',
  );
}

interface SaveOptions {
  /** The S3 step: the file this run wrote may be replaced. */
  replaceOwnFile: boolean;
  s3?: S3Settings;
  limits: AgentLimits;
}

async function runRkeToolsSave(
  { node, docker, scope }: NodeEngine,
  image: string,
  job: Pick<SaveJob, 'name' | 'overwrite' | 'stateFile'>,
  options: SaveOptions,
): Promise<{ snapshot: RkeToolsSnapshot; stderr: string; warnings: string[] }> {
  const s3 = options.s3;
  const warnings: string[] = [];
  const invocation = rkeToolsSaveInvocation({
    name: job.name,
    internalAddress: node.internalAddress,
    cacert: `${CONTAINER_SSL_DIR}/kube-ca.pem`,
    cert: `${CONTAINER_SSL_DIR}/kube-node.pem`,
    key: `${CONTAINER_SSL_DIR}/kube-node-key.pem`,
    extraEnv: scope.cluster.etcd.extraEnv,
    ...(s3
      ? {
          s3: {
            endpoint: s3.endpoint,
            bucket: s3.bucketName,
            folder: s3.folder,
            ...(s3.region ? { region: s3.region } : {}),
            ...(s3.customCa ? { customCaPem: s3.customCa } : {}),
            ...(s3.credentials ? { credentials: s3.credentials } : {}),
          },
        }
      : {}),
  });
  const secrets = secretForms(s3?.credentials);
  const zipPath = `${CONTAINER_BACKUP_DIR}/${job.name}.zip`;
  const shownPath = `${NODE_SNAPSHOT_DIR}/${job.name}.zip`;
  const apiMs = scope.timeouts.dockerApiMs;
  let checked: RkeToolsSnapshot | undefined;
  let startedAt = 0;

  const outcome = await runOneOffContainer(
    docker,
    node.address,
    {
      name: CONTAINER_NAMES.save,
      image,
      cmd: invocation.cmd,
      env: invocation.env,
      // RKE binds the node's whole /etc/kubernetes and leaves the state file there when the
      // snapshot fails; only ssl/ is bound here, so the state file lives in the container's
      // own layer and goes with the container whatever happens.
      binds: [
        `${NODE_SNAPSHOT_DIR}:${CONTAINER_BACKUP_DIR}`,
        `${path.posix.join(scope.cluster.prefixPath, '/etc/kubernetes/ssl')}:${CONTAINER_SSL_DIR}:ro`,
      ],
      labels: { 'io.rke-etcd-snapshot.name': job.name },
      // afterExit reads the written file through the exited container; removed explicitly after that.
      autoRemove: false,
      // As confined as the bundled agent, but for the image's own file system: the state file is
      // put into its /etc/kubernetes before the start (rke-tools zips it from there).
      confinement: agentConfinement(options.limits, { readonlyRootfs: false }),
    },
    { runTimeoutMs: scope.timeouts.snapshotMs, apiTimeoutMs: apiMs, signal: scope.signal },
    {
      beforeStart: async (container) => {
        if (!job.overwrite && !options.replaceOwnFile) {
          const existing = await readContainerFileHead(container, zipPath, 0, apiMs, `checking ${shownPath} on host ${node.address}`, scope.signal);
          if (existing) throw new OperatorError(`host ${node.address}: ${shownPath} already exists on this node; pass --overwrite to replace it`);
        }
        // RKE deploys the state file before the container starts; rke-tools zips it when present.
        // It goes into the container's /etc/kubernetes, not the node's (see the binds).
        if (job.stateFile) {
          const tar = singleFileTar(`${job.name}.rkestate`, job.stateFile, 0o400, Math.floor(Date.now() / 1000));
          await deadline(container.putArchive(tar, { path: CONTAINER_KUBERNETES_DIR }), apiMs, `placing the state file on host ${node.address}`, scope.signal);
        }
        startedAt = Date.now();
      },
      afterExit: async (container, exitCode) => {
        if (exitCode !== 0) return;
        const state = await deadline(container.inspect(), apiMs, `inspecting ${CONTAINER_NAMES.save} on host ${node.address}`, scope.signal);
        const engineStarted = Date.parse(state.State.StartedAt);
        const head = await readContainerFileHead(container, zipPath, 30 + Buffer.byteLength(`/backup/${job.name}`), apiMs, `checking ${shownPath} on host ${node.address}`, scope.signal);
        checked = checkWrittenSnapshot(head, job.name, shownPath, Number.isNaN(engineStarted) ? startedAt : engineStarted);
        if (head && (head.mode & 0o077) !== 0) warnings.push(`${shownPath} has mode ${(head.mode & 0o777).toString(8)}; rke-tools makes it 0600`);
      },
    },
  ).catch((error: unknown) => {
    // Docker's own errors could quote the container's config; keep keys out whatever it says.
    const message = messageOf(error);
    const redacted = redactSecrets(message, secrets);
    if (message.includes(invocation.cmd[0]!) && /no such file/i.test(message)) {
      throw new OperatorError(
        `${redacted}; image ${image} has no ${invocation.cmd[0]}: it does not speak rke-tools' command line ` +
          '(pass --backup-image-contract native if it is a copy of the bundled agent)',
      );
    }
    throw redacted === message ? error : new OperatorError(redacted);
  });
  if (outcome.removalError) warnings.push(outcome.removalError);
  const stderr = redactSecrets(outcome.stderr, secrets);
  for (const line of stderr.split('\n').filter(Boolean)) scope.log.debug(`host ${node.address}: ${image}: ${line}`);
  if (outcome.exitCode !== 0) {
    const what = stderr.includes(RKE_TOOLS_UPLOAD_FAILURE) ? 'upload' : 'snapshot';
    throw new OperatorError(`host ${node.address}: the ${what} failed (rke-tools image ${image}, exit code ${outcome.exitCode}): ${lastError(stderr)}`);
  }
  if (!checked) throw new OperatorError(`host ${node.address}: ${shownPath} could not be checked after the rke-tools container exited`);
  return { snapshot: checked, stderr, warnings };
}

/** Sound and cheap: it is there, regular, not empty, written by this run, and a zip whose first entry is the snapshot. */
export function checkWrittenSnapshot(
  head: { type: string; size: number; mtime: number; data: Buffer } | undefined,
  name: string,
  shownPath: string,
  startedAtMs: number,
): RkeToolsSnapshot {
  const problem = (what: string) => new OperatorError(`the rke-tools container exited 0, but ${shownPath} ${what}`);
  if (!head) throw problem('is not there');
  if (head.type !== 'file') throw problem(`is not a regular file (${head.type})`);
  if (head.size === 0) throw problem('is empty');
  // Whole seconds in the archive; allow for that rounding.
  if (head.mtime * 1000 < startedAtMs - 2000) throw problem('was not written by this run (it is older than the container)');
  const first = zipFirstEntryName(head.data);
  if (first !== `/backup/${name}`) {
    throw problem(first === undefined ? 'is not a zip archive' : `is not a snapshot archive (its first entry is ${JSON.stringify(first)}, not "/backup/${name}")`);
  }
  return { file: shownPath, size: head.size };
}

/** rke-tools ends with `level=fatal msg="..."`; otherwise the last line it wrote. */
export function lastError(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  for (const line of lines.reverse()) {
    const match = /level=(?:fatal|error) msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (match) {
      try {
        return JSON.parse(`"${match[1]}"`) as string;
      } catch {
        return match[1]!;
      }
    }
  }
  return lines[0] ?? 'no output';
}
