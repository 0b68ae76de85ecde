/**
 * Errors meant for the operator: what failed, where (node, file, flag, bucket) and,
 * where we know it, what to do. The CLI prints `message` once, on one line, without
 * a stack trace. Anything that is not an OperatorError is a bug and keeps its stack
 * (printed under --debug).
 */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
  }
}

/** Collapse newlines so that every operator-facing error is exactly one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** The message of any thrown value, on one line. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return oneLine(error.message);
  return oneLine(String(error));
}
