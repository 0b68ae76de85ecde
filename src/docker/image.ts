import { createReadStream } from 'node:fs';
import type Docker from 'dockerode';
import { InterruptedError, deadline } from '../deadline.js';
import { OperatorError } from '../errors.js';
import { describeDockerError, isNotFound } from './engine.js';
import type { ImagePlatform } from './platform.js';
import { describePullFailure, scrub, type ResolvedImage } from './registry.js';

/** An image the CLI carries with it as a `docker save` tarball (our backup agent). */
export interface BundledImage {
  tag: string;
  tarPath: string;
}

/** The bundled agent, one image per node architecture (agent-image/build.sh). */
export type BundledImages = Partial<Record<ImagePlatform, BundledImage>>;

/**
 * Where the nodes' engines get the agent image: the CLI loads the bundled tarball built for
 * each engine's architecture, or the engine pulls a registry image (with the credentials of
 * its `private_registries` entry).
 */
export type ImageSource = { kind: 'bundled'; images: BundledImages } | { kind: 'registry'; image: ResolvedImage };

/** What one engine gets: the bundled image chosen for its architecture, or the registry image. */
export type NodeImage = { kind: 'bundled'; image: BundledImage } | { kind: 'registry'; image: ResolvedImage };

export interface EnsureImageOptions {
  host: string;
  /** Loading or pulling an image moves tens of MiB: allow more than a plain API call. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** For debug lines; never given a credential. */
  debug?: (message: string) => void;
}

/** Make sure the node's engine has the image; returns the reference to run. */
export async function ensureImage(docker: Docker, source: NodeImage, options: EnsureImageOptions): Promise<string> {
  const reference = source.kind === 'bundled' ? source.image.tag : source.image.reference;
  if (await imageExists(docker, reference, options)) return reference;
  if (source.kind === 'bundled') {
    const what = `loading image ${reference}`;
    await deadline(loadBundledImage(docker, source.image), options.timeoutMs, `${what} on host ${options.host}`, options.signal).catch(
      (error: unknown) => {
        if (error instanceof OperatorError) throw error;
        throw new OperatorError(`${what} on host ${options.host} failed: ${describeDockerError(error)}`);
      },
    );
  } else {
    await pullRegistryImage(docker, source.image, options);
  }
  if (!(await imageExists(docker, reference, options))) {
    const what = source.kind === 'bundled' ? 'loading' : 'pulling';
    throw new OperatorError(`${what} image ${reference} on host ${options.host} reported success, but the engine does not list it`);
  }
  return reference;
}

/**
 * The node's engine pulls the image itself; the login, if any, goes only in the pull
 * request's X-Registry-Auth header (dockerode's `authconfig`), never in a log line.
 */
async function pullRegistryImage(docker: Docker, image: ResolvedImage, options: EnsureImageOptions): Promise<void> {
  const login = image.registry?.credentials;
  options.debug?.(
    `host ${options.host}: pulling image ${image.reference} from registry ${image.registryHost} ` +
      (image.registry === undefined
        ? '(no private_registries entry matches: anonymous)'
        : `with ${login === undefined ? 'no login (' + image.registry.field + ' has no user/password)' : 'the login of ' + image.registry.field}`),
  );
  const work = (async () => {
    const output = await docker.pull(image.reference, login === undefined ? {} : { authconfig: login.authconfig() });
    await followProgress(docker, output);
  })();
  const context = { host: options.host, image: image.reference, registryHost: image.registryHost, ...(image.registry ? { registry: image.registry } : {}) };
  await deadline(work, options.timeoutMs, `pulling image ${image.reference} from registry ${image.registryHost} on host ${options.host}`, options.signal).catch(
    (error: unknown) => {
      if (error instanceof InterruptedError) throw error;
      if (error instanceof OperatorError) {
        // deadline's own "did not finish within": say what can be done about it.
        const hint = /did not finish within/.test(error.message)
          ? `; check that the node reaches registry ${image.registryHost}, or allow more time with --image-timeout`
          : '';
        throw new OperatorError(scrub(error.message, login) + hint);
      }
      const statusCode = (error as { statusCode?: number }).statusCode;
      throw new OperatorError(describePullFailure(pullErrorText(error), context, statusCode));
    },
  );
}

async function imageExists(docker: Docker, reference: string, options: EnsureImageOptions): Promise<boolean> {
  try {
    await deadline(docker.getImage(reference).inspect(), 30_000, `inspecting image ${reference} on host ${options.host}`, options.signal);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`cannot inspect image ${reference} on host ${options.host}: ${describeDockerError(error)}`);
  }
}

async function loadBundledImage(docker: Docker, image: BundledImage): Promise<void> {
  const output = await docker.loadImage(createReadStream(image.tarPath), { quiet: true });
  await followProgress(docker, output);
}

/**
 * What the engine said about a failed pull. For streamed endpoints docker-modem leaves
 * `json` empty and puts the engine's message in its own: "(HTTP code 500) server error - MESSAGE ".
 */
function pullErrorText(error: unknown): string {
  const json = (error as { json?: { message?: string } | null }).json;
  if (json && typeof json === 'object' && typeof json.message === 'string' && json.message !== '') return json.message;
  const wrapped = /^\(HTTP code \d+\) [^-]*- (.+)$/s.exec(error instanceof Error ? error.message : '');
  if (wrapped?.[1] !== undefined && wrapped[1].trim() !== '') return wrapped[1].trim();
  return describeDockerError(error);
}

/** Docker reports load/pull failures inside the progress stream, not as HTTP errors. */
function followProgress(docker: Docker, output: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      output,
      (error: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (error) {
          reject(error);
          return;
        }
        const failed = events.find((event) => event.error !== undefined || event.errorDetail !== undefined);
        if (failed) reject(new Error(failed.errorDetail?.message ?? failed.error ?? 'unknown error'));
        else resolve();
      },
    );
  });
}
