import { createReadStream } from 'node:fs';
import type Docker from 'dockerode';
import { deadline } from '../deadline.js';
import { OperatorError } from '../errors.js';
import { describeDockerError, isNotFound } from './engine.js';

/** An image the CLI carries with it as a `docker save` tarball (our backup agent). */
export interface BundledImage {
  tag: string;
  tarPath: string;
}

export type ImageSource = { kind: 'bundled'; image: BundledImage } | { kind: 'registry'; reference: string };

export interface EnsureImageOptions {
  host: string;
  /** Loading or pulling an image moves tens of MiB: allow more than a plain API call. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Make sure the node's engine has the image; returns the reference to run. */
export async function ensureImage(docker: Docker, source: ImageSource, options: EnsureImageOptions): Promise<string> {
  const reference = source.kind === 'bundled' ? source.image.tag : source.reference;
  if (await imageExists(docker, reference, options)) return reference;
  const what = source.kind === 'bundled' ? `loading image ${reference}` : `pulling image ${reference}`;
  const work = source.kind === 'bundled' ? loadBundledImage(docker, source.image) : pullImage(docker, reference);
  await deadline(work, options.timeoutMs, `${what} on host ${options.host}`, options.signal).catch((error: unknown) => {
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`${what} on host ${options.host} failed: ${describeDockerError(error)}`);
  });
  if (!(await imageExists(docker, reference, options))) {
    throw new OperatorError(`${what} on host ${options.host} reported success, but the engine does not list it`);
  }
  return reference;
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

async function pullImage(docker: Docker, reference: string): Promise<void> {
  const output = await docker.pull(reference);
  await followProgress(docker, output);
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
