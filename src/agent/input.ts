import { OperatorError } from '../errors.js';
import type { AgentInput } from './protocol.js';

/** The state file is a few hundred KiB; this only stops a runaway writer. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Parses the standard input document. Empty input means "no document". Never echoes
 * the content: it carries secrets.
 */
export function parseAgentInput(text: string): AgentInput {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which may hold secrets.
    throw new OperatorError("the agent's standard input is not a JSON document");
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OperatorError("the agent's standard input must be a JSON object");
  }
  const { stateFileBase64 } = value as Record<string, unknown>;
  if (stateFileBase64 === undefined) return {};
  if (typeof stateFileBase64 !== 'string' || !BASE64.test(stateFileBase64) || stateFileBase64.length % 4 !== 0) {
    throw new OperatorError("the agent's standard input: stateFileBase64 must be a base64 string");
  }
  return { stateFileBase64 };
}

export async function readAllInput(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_INPUT_BYTES) throw new OperatorError(`the agent's standard input is larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}
