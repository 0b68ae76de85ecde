/** `verify --name NAME` (container etcd-snapshot-verify, /backup read-only): one node's copy checked. */
import type { CopyCheck, Failure } from '../../model/snapshot.js';
import { outcomeCheck, parseLastResult } from './wire.js';

export type AgentVerifyResult = CopyCheck | Failure;

export function agentVerifyArgs(name: string): string[] {
  return ['verify', '--name', name];
}

export function parseVerifyResultLine(stdout: string): AgentVerifyResult | undefined {
  return parseLastResult(stdout, outcomeCheck<AgentVerifyResult>((record) => typeof record.file === 'string' && typeof record.status === 'string'));
}
