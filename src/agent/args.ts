import { OperatorError } from '../errors.js';
import { normalizeEndpoint, normalizeFolder } from '../s3/settings.js';
import { parseProtectionJson } from '../s3/protection.js';
import { validateSnapshotName } from '../model/names.js';
import { COMPRESSION_MODES, isCompressionMode, type CompressionMode } from '../model/compression.js';
import type { AgentRemoveRequest } from './protocol/files.js';
import type { AgentS3Command } from './protocol/s3.js';
import type { S3Target } from '../s3/settings.js';
import type { AgentSaveRequest } from './protocol/save.js';
import { PLACED_COPY_PATTERN, type DrillRequest } from './protocol/drill.js';
import type { UploadRequest } from '../s3/upload/upload.js';
import { validateRemovableName } from '../model/names.js';

export type AgentCommand =
  | { command: 'save'; request: AgentSaveRequest }
  | { command: 'upload'; request: UploadRequest }
  | { command: 'list' }
  | { command: 'remove'; request: AgentRemoveRequest }
  | { command: 'verify'; name: string }
  | { command: 'sweep'; name: string }
  | { command: 'drill'; request: DrillRequest }
  | { command: AgentS3Command; target: S3Target; names: string[] }
  | { command: 'version' };

export const AGENT_USAGE =
  'usage: agent save --name NAME --endpoint https://HOST:2379 --cacert FILE --cert FILE --key FILE ' +
  '[--health-timeout SECONDS] [--compression auto|fast|standard|none] [--overwrite] [--pki-bundle] | ' +
  'agent upload --name NAME --endpoint HOST[:PORT] --bucket BUCKET --folder FOLDER [--region REGION] [--sha256 HEX] [--protection JSON] [--overwrite] [--pki-bundle] | ' +
  'agent list | agent remove --name NAME [--name NAME ...] | agent verify --name NAME | agent sweep --name NAME | agent drill --name NAME --timeout SECONDS [--placed-copy .restore-drill-HEX.zip] | ' +
  'agent s3-list|s3-remove|s3-verify --endpoint HOST[:PORT] --bucket BUCKET --folder FOLDER [--region REGION] [--name NAME ...] | agent version';

const DEFAULT_HEALTH_TIMEOUT_SECONDS = 30;
const SAVE_OPTIONS = ['name', 'endpoint', 'cacert', 'cert', 'key', 'health-timeout', 'compression'] as const;
const UPLOAD_OPTIONS = ['name', 'endpoint', 'bucket', 'folder', 'region', 'sha256', 'protection'] as const;

/** Parses the agent's arguments, as agent/protocol/'s agentSaveArgs, agentUploadArgs, ... write them (`--flag=value` also accepted). */
export function parseAgentArgs(argv: readonly string[]): AgentCommand {
  const [command, ...rest] = argv;
  if (command === 'version' && rest.length === 0) return { command: 'version' };
  if (command === 'save') return { command: 'save', request: parseSave(rest) };
  if (command === 'upload') return { command: 'upload', request: parseUpload(rest) };
  if (command === 'list' && rest.length === 0) return { command: 'list' };
  if (command === 'remove') return { command: 'remove', request: parseRemove(rest) };
  if (command === 'verify' || command === 'sweep') {
    const { names } = parseRemove(rest, command);
    if (names.length !== 1) throw new OperatorError(`agent ${command}: give exactly one --name`);
    return { command, name: names[0]! };
  }
  if (command === 's3-list' || command === 's3-remove' || command === 's3-verify') return parseS3(command, rest);
  if (command === 'drill') return { command: 'drill', request: parseDrill(rest) };
  throw new OperatorError(`unknown agent command ${JSON.stringify(command ?? '')}; ${AGENT_USAGE}`);
}

function parseSave(args: readonly string[]): AgentSaveRequest {
  const { values, overwrite, pkiBundle } = readOptions('save', args, SAVE_OPTIONS);
  const required = requiredOption('save', values);
  const request: AgentSaveRequest = {
    name: required('name'),
    endpoint: required('endpoint'),
    cacert: required('cacert'),
    cert: required('cert'),
    key: required('key'),
    overwrite,
    healthTimeoutSeconds: parseSeconds(values.get('health-timeout')),
    ...(pkiBundle ? { pkiBundle } : {}),
    ...parseCompression(values.get('compression')),
  };
  // The CLI validated it; checked again because it becomes a path here.
  validateSnapshotName(request.name);
  return request;
}

function parseDrill(args: readonly string[]): DrillRequest {
  const { values } = readOptions('drill', args, ['name', 'timeout', 'placed-copy'] as const);
  const required = requiredOption('drill', values);
  const name = required('name');
  validateRemovableName(name);
  const timeoutSeconds = Number(required('timeout'));
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new OperatorError('agent drill: --timeout must be a whole number of seconds, at least 1');
  const placedCopy = values.get('placed-copy');
  if (placedCopy !== undefined && !PLACED_COPY_PATTERN.test(placedCopy)) throw new OperatorError('agent drill: --placed-copy must be a .restore-drill-<12 hex>.zip name');
  return { name, timeoutSeconds, ...(placedCopy === undefined ? {} : { placedCopy }) };
}

function parseCompression(value: string | undefined): { compression?: CompressionMode } {
  if (value === undefined) return {};
  if (!isCompressionMode(value)) throw new OperatorError(`agent save: --compression must be one of ${COMPRESSION_MODES.join(', ')}`);
  return { compression: value };
}

/** The CLI sends normalized values; anything else is refused rather than normalized again. */
function parseUpload(args: readonly string[]): UploadRequest {
  const { values, overwrite, pkiBundle } = readOptions('upload', args, UPLOAD_OPTIONS);
  const required = requiredOption('upload', values);
  const folder = values.get('folder');
  if (folder === undefined) throw new OperatorError(`agent upload: --folder is required (empty for none); ${AGENT_USAGE}`);
  const region = values.get('region');
  if (region === '') throw new OperatorError('agent upload: --region must not be empty');
  const protection = values.get('protection');
  const sha256 = values.get('sha256');
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) throw new OperatorError('agent upload: --sha256 must be 64 lower-case hex digits');
  const request: UploadRequest = {
    name: required('name'),
    endpoint: required('endpoint'),
    bucket: required('bucket'),
    folder,
    ...(region === undefined ? {} : { region }),
    overwrite,
    ...(pkiBundle ? { pkiBundle } : {}),
    ...(sha256 === undefined ? {} : { sha256 }),
    ...(protection === undefined ? {} : { protection: parseProtectionJson(protection) }),
  };
  validateSnapshotName(request.name);
  if (normalizeEndpoint(request.endpoint, 'agent upload: --endpoint', () => undefined) !== request.endpoint) {
    throw new OperatorError(`agent upload: --endpoint ${JSON.stringify(request.endpoint)} must be host[:port], without a scheme`);
  }
  if (normalizeFolder(folder) !== folder) {
    throw new OperatorError(`agent upload: --folder ${JSON.stringify(folder)} must have no leading, trailing or double slashes`);
  }
  return request;
}

/** `s3-list` takes no --name, `s3-verify` exactly one, `s3-remove` at least one; values as the CLI normalized them. */
function parseS3(command: AgentS3Command, args: readonly string[]): AgentCommand {
  const values = new Map<string, string>();
  const names: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    const match = /^--(endpoint|bucket|folder|region|name)(?:=(.*))?$/s.exec(arg);
    if (match === null) throw new OperatorError(`agent ${command}: unknown argument ${JSON.stringify(arg)}; ${AGENT_USAGE}`);
    const option = match[1]!;
    const value = match[2] ?? args[++index];
    if (value === undefined) throw new OperatorError(`agent ${command}: --${option} needs a value`);
    if (option === 'name') {
      validateRemovableName(value);
      names.push(value);
      continue;
    }
    if (values.has(option)) throw new OperatorError(`agent ${command}: --${option} is given twice`);
    values.set(option, value);
  }
  const required = requiredOption(command, values as Map<'endpoint' | 'bucket', string>);
  const folder = values.get('folder');
  if (folder === undefined) throw new OperatorError(`agent ${command}: --folder is required (empty for none); ${AGENT_USAGE}`);
  const region = values.get('region');
  if (region === '') throw new OperatorError(`agent ${command}: --region must not be empty`);
  const target: S3Target = { endpoint: required('endpoint'), bucket: required('bucket'), folder, ...(region === undefined ? {} : { region }) };
  if (normalizeEndpoint(target.endpoint, `agent ${command}: --endpoint`, () => undefined) !== target.endpoint) {
    throw new OperatorError(`agent ${command}: --endpoint ${JSON.stringify(target.endpoint)} must be host[:port], without a scheme`);
  }
  if (normalizeFolder(folder) !== folder) throw new OperatorError(`agent ${command}: --folder ${JSON.stringify(folder)} must have no leading, trailing or double slashes`);
  const wanted = command === 's3-list' ? names.length === 0 : command === 's3-verify' ? names.length === 1 : names.length > 0;
  if (!wanted) {
    const rule = command === 's3-list' ? 'takes no --name' : command === 's3-verify' ? 'needs exactly one --name' : 'needs at least one --name';
    throw new OperatorError(`agent ${command} ${rule}; ${AGENT_USAGE}`);
  }
  return { command, target, names };
}

/** `remove --name A --name B`: every name must be a plain snapshot name (checked again: each becomes a path). */
function parseRemove(args: readonly string[], argsCommand = 'remove'): AgentRemoveRequest {
  const names: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    const match = /^--name(?:=(.*))?$/s.exec(arg);
    if (match === null) throw new OperatorError(`agent ${argsCommand}: unknown argument ${JSON.stringify(arg)}; ${AGENT_USAGE}`);
    const value = match[1] ?? args[++index];
    if (value === undefined) throw new OperatorError(`agent ${argsCommand}: --name needs a value`);
    validateRemovableName(value);
    names.push(value);
  }
  if (names.length === 0) throw new OperatorError(`agent ${argsCommand}: --name is required; ${AGENT_USAGE}`);
  return { names };
}

function requiredOption<Option extends string>(command: string, values: Map<Option, string>): (option: Option) => string {
  return (option) => {
    const value = values.get(option);
    if (value === undefined || value === '') throw new OperatorError(`agent ${command}: --${option} is required; ${AGENT_USAGE}`);
    return value;
  };
}

function readOptions<Option extends string>(
  command: string,
  args: readonly string[],
  known: readonly Option[],
): { values: Map<Option, string>; overwrite: boolean; pkiBundle: boolean } {
  const values = new Map<Option, string>();
  let overwrite = false;
  let pkiBundle = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--overwrite') {
      overwrite = true;
      continue;
    }
    if (arg === '--pki-bundle') {
      pkiBundle = true;
      continue;
    }
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    const option = match?.[1] as Option | undefined;
    if (match === null || option === undefined || !known.includes(option)) {
      throw new OperatorError(`agent ${command}: unknown argument ${JSON.stringify(arg)}; ${AGENT_USAGE}`);
    }
    const value = match[2] ?? args[++index];
    if (value === undefined) throw new OperatorError(`agent ${command}: --${option} needs a value`);
    if (values.has(option)) throw new OperatorError(`agent ${command}: --${option} is given twice`);
    values.set(option, value);
  }
  return { values, overwrite, pkiBundle };
}

function parseSeconds(text: string | undefined): number {
  if (text === undefined) return DEFAULT_HEALTH_TIMEOUT_SECONDS;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0)) {
    throw new OperatorError(`agent save: --health-timeout must be a positive number of seconds, not ${JSON.stringify(text)}`);
  }
  return seconds;
}
