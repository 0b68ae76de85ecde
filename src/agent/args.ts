import { OperatorError } from '../errors.js';
import { validateSnapshotName } from '../snapshot/naming.js';
import type { AgentSaveRequest } from './protocol.js';

export type AgentCommand = { command: 'save'; request: AgentSaveRequest } | { command: 'version' };

export const AGENT_USAGE =
  'usage: agent save --name NAME --endpoint https://HOST:2379 --cacert FILE --cert FILE --key FILE ' +
  '[--health-timeout SECONDS] [--overwrite] | agent version';

const DEFAULT_HEALTH_TIMEOUT_SECONDS = 30;
const VALUE_OPTIONS = ['name', 'endpoint', 'cacert', 'cert', 'key', 'health-timeout'] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

/** Parses the agent's arguments, as protocol.ts's agentSaveArgs writes them (`--flag=value` also accepted). */
export function parseAgentArgs(argv: readonly string[]): AgentCommand {
  const [command, ...rest] = argv;
  if (command === 'version' && rest.length === 0) return { command: 'version' };
  if (command !== 'save') throw new OperatorError(`unknown agent command ${JSON.stringify(command ?? '')}; ${AGENT_USAGE}`);
  const { values, overwrite } = readOptions(rest);
  const required = (option: ValueOption): string => {
    const value = values.get(option);
    if (value === undefined || value === '') throw new OperatorError(`agent save: --${option} is required; ${AGENT_USAGE}`);
    return value;
  };
  const request: AgentSaveRequest = {
    name: required('name'),
    endpoint: required('endpoint'),
    cacert: required('cacert'),
    cert: required('cert'),
    key: required('key'),
    overwrite,
    healthTimeoutSeconds: parseSeconds(values.get('health-timeout')),
  };
  // The CLI validated it; checked again because it becomes a path here.
  validateSnapshotName(request.name);
  return { command: 'save', request };
}

function readOptions(args: readonly string[]): { values: Map<ValueOption, string>; overwrite: boolean } {
  const values = new Map<ValueOption, string>();
  let overwrite = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--overwrite') {
      overwrite = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const option = match?.[1] as ValueOption | undefined;
    if (match === null || option === undefined || !VALUE_OPTIONS.includes(option)) {
      throw new OperatorError(`agent save: unknown argument ${JSON.stringify(arg)}; ${AGENT_USAGE}`);
    }
    const value = match[2] ?? args[++index];
    if (value === undefined) throw new OperatorError(`agent save: --${option} needs a value`);
    if (values.has(option)) throw new OperatorError(`agent save: --${option} is given twice`);
    values.set(option, value);
  }
  return { values, overwrite };
}

function parseSeconds(text: string | undefined): number {
  if (text === undefined) return DEFAULT_HEALTH_TIMEOUT_SECONDS;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0)) {
    throw new OperatorError(`agent save: --health-timeout must be a positive number of seconds, not ${JSON.stringify(text)}`);
  }
  return seconds;
}
