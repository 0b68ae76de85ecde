import { OperatorError } from '../errors.js';
import { checkPem } from '../s3/settings.js';
import type { AgentInput } from './protocol/wire.js';
import type { S3Secrets } from '../s3/settings.js';

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
  const { stateFileBase64, s3 } = value as Record<string, unknown>;
  return {
    ...(stateFileBase64 === undefined ? {} : { stateFileBase64: parseStateFile(stateFileBase64) }),
    ...(s3 === undefined ? {} : { s3: parseS3Input(s3) }),
  };
}

function parseStateFile(stateFileBase64: unknown): string {
  if (typeof stateFileBase64 !== 'string' || !BASE64.test(stateFileBase64) || stateFileBase64.length % 4 !== 0) {
    throw new OperatorError("the agent's standard input: stateFileBase64 must be a base64 string");
  }
  return stateFileBase64;
}

/** `s3`: both keys or neither (then the node's IAM role); a CA as PEM text. Empty strings count as absent. */
function parseS3Input(s3: unknown): S3Secrets {
  if (typeof s3 !== 'object' || s3 === null || Array.isArray(s3)) {
    throw new OperatorError("the agent's standard input: s3 must be an object");
  }
  const fields = s3 as Record<string, unknown>;
  const text = (field: keyof S3Secrets): string | undefined => {
    const value = fields[field];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new OperatorError(`the agent's standard input: s3.${field} must be a string`);
    return value;
  };
  const accessKeyId = text('accessKeyId');
  const secretAccessKey = text('secretAccessKey');
  const customCaPem = text('customCaPem');
  const sseCustomerKey = text('sseCustomerKey');
  if (sseCustomerKey !== undefined && (!BASE64.test(sseCustomerKey) || Buffer.from(sseCustomerKey, 'base64').length !== 32)) {
    throw new OperatorError("the agent's standard input: s3.sseCustomerKey must be base64 of 32 bytes");
  }
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new OperatorError("the agent's standard input: s3.accessKeyId and s3.secretAccessKey must be given together, or neither");
  }
  if (customCaPem !== undefined) checkPem(customCaPem, "the agent's standard input: s3.customCaPem");
  return {
    ...(accessKeyId === undefined ? {} : { accessKeyId }),
    ...(secretAccessKey === undefined ? {} : { secretAccessKey }),
    ...(customCaPem === undefined ? {} : { customCaPem }),
    ...(sseCustomerKey === undefined ? {} : { sseCustomerKey }),
  };
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
