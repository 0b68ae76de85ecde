import { OperatorError } from '../errors.js';

/** A Node system error (fs, net): it has a string code such as ENOSPC. */
export function systemErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall } = error as NodeJS.ErrnoException;
  return typeof code === 'string' && typeof syscall === 'string' ? code : undefined;
}

const WHAT_CODES_MEAN: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  ENOTDIR: 'a path component is not a directory',
  ENOENT: 'no such file or directory',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
};

/**
 * An operator-facing error for a failed write of `displayPath` (the path as the node
 * sees it, not the container's). Errors that are not system errors pass unchanged.
 */
export function fileWriteError(error: unknown, displayPath: string): unknown {
  const code = systemErrorCode(error);
  if (code === undefined) return error;
  if (code === 'ENOSPC') return new OperatorError(`no space left on device writing ${displayPath}`, { cause: error });
  if (code === 'EDQUOT') return new OperatorError(`disk quota exceeded writing ${displayPath}`, { cause: error });
  const meaning = WHAT_CODES_MEAN[code];
  return new OperatorError(`cannot write ${displayPath}: ${meaning === undefined ? code : `${meaning} (${code})`}`, { cause: error });
}
