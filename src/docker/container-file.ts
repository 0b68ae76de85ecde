import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { deadline } from '../deadline.js';
import { parseTarHead, type TarHead } from './tar-head.js';
import { isNotFound } from './engine.js';

/** Docker's long-name and PAX headers come first; past this, something is wrong. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * The type, mode, size and first `wantData` bytes of a file as a container sees it
 * (binds included), through the archive API: only the start of the tar stream is read,
 * then the request is dropped. Works on created and exited containers. Undefined when
 * the path does not exist.
 */
export async function readContainerFileHead(
  container: Docker.Container,
  path: string,
  wantData: number,
  timeoutMs: number,
  what: string,
  signal?: AbortSignal,
): Promise<TarHead | undefined> {
  let stream: Readable;
  try {
    stream = (await deadline(container.getArchive({ path }), timeoutMs, what, signal)) as unknown as Readable;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    return await deadline(readHead(stream, wantData), timeoutMs, what, signal);
  } finally {
    stream.destroy();
  }
}

function readHead(stream: Readable, wantData: number): Promise<TarHead> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const finish = (error?: Error, head?: TarHead) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      if (head) resolve(head);
      else reject(error ?? new Error('no archive'));
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        const head = parseTarHead(buffered, wantData);
        if (head) finish(undefined, head);
        else if (buffered.length > MAX_HEAD_BYTES) finish(new Error(`no file header in the first ${MAX_HEAD_BYTES} bytes of the archive`));
      } catch (error) {
        finish(error as Error);
      }
    };
    const onEnd = () => finish(new Error('the archive ended before the file header'));
    const onError = (error: Error) => finish(error);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
