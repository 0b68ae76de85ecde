import { OperatorError } from '../errors.js';
import { PKI_BUNDLE_FILE_NAME } from './paths.js';
import type { SnapshotFile } from './snapshot.js';

/** SPEC §4: longer names are refused (file systems allow 255 bytes, and ".zip" and temporary suffixes are added). */
export const MAX_SNAPSHOT_NAME_BYTES = 200;

/**
 * RKE's default name (rancher/rke cmd/etcd.go SnapshotSaveEtcdHostsFromCli):
 * "rke_etcd_snapshot_" + Go's time.RFC3339 of the local time, e.g.
 * rke_etcd_snapshot_2024-05-01T14:03:07+02:00 (or ...Z in UTC).
 */
export function defaultSnapshotName(now: Date): string {
  return `rke_etcd_snapshot_${rfc3339Local(now)}`;
}

/** The warning RKE logs when --name is not given. */
export function defaultNameWarning(name: string): string {
  return `Name of the snapshot is not specified, using [${name}]`;
}

/** Refuses names that are unsafe as a file name on the node or as an S3 key part (SPEC §4). */
export function validateSnapshotName(name: string): void {
  const problem = nameProblem(name);
  if (problem !== undefined) throw new OperatorError(`--name ${quoteName(name)}: a snapshot name ${problem}`);
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (LONE_SURROGATE.test(name)) return 'must be valid Unicode text';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_SNAPSHOT_NAME_BYTES) {
    return `must be at most ${MAX_SNAPSHOT_NAME_BYTES} bytes long (UTF-8), this one has ${bytes}`;
  }
  if (name.includes('/')) return 'must not contain "/"';
  if (name.includes('\\')) return 'must not contain "\\"';
  const control = CONTROL_CHARACTER.exec(name);
  if (control !== null) return `must not contain control characters (found ${quoteName(control[0])})`;
  return undefined;
}

// Half of a UTF-16 pair: such a string has no UTF-8 form.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// C0 (NUL, newline, ...), DEL and C1.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

// JSON.stringify escapes C0 but leaves these raw; a terminal may act on them.
const UNSAFE_FOR_TERMINAL = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const QUOTED_NAME_MAX_CHARS = 80;

/** The name in double quotes, escaped so that printing it cannot break or restyle the line. */
export function quoteName(name: string): string {
  const shown = name.length > QUOTED_NAME_MAX_CHARS ? `${name.slice(0, QUOTED_NAME_MAX_CHARS)}…` : name;
  return JSON.stringify(shown).replace(UNSAFE_FOR_TERMINAL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's time.RFC3339 ("2006-01-02T15:04:05Z07:00") in the Date's local time zone. */
function rfc3339Local(date: Date): string {
  const day = `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${day}T${time}${zoneSuffix(date)}`;
}

function zoneSuffix(date: Date): string {
  // getTimezoneOffset() is UTC minus local time, in minutes.
  const eastOfUtc = -date.getTimezoneOffset();
  if (eastOfUtc === 0) return 'Z';
  const sign = eastOfUtc > 0 ? '+' : '-';
  const minutes = Math.trunc(Math.abs(eastOfUtc));
  return `${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/**
 * Refuses what is not a plain snapshot name: the name rules of snapshot-save, plus names
 * that would reach another file (`X.zip` is snapshot X's zip, the PKI bundle, hidden
 * temporary files).
 */
export function validateRemovableName(name: string): void {
  validateSnapshotName(name);
  if (name.startsWith('.')) throw new OperatorError(`--name ${JSON.stringify(name)}: a snapshot name must not start with "." (those are temporary files)`);
  if (name === PKI_BUNDLE_FILE_NAME) throw new OperatorError(`--name ${JSON.stringify(name)}: that is the PKI bundle, not a snapshot`);
  if (name.endsWith('.zip')) {
    throw new OperatorError(`--name ${JSON.stringify(name)}: give the snapshot name without ".zip" (${JSON.stringify(name.slice(0, -4))})`);
  }
}

/**
 * What a directory entry is: a zip snapshot (NAME.zip), RKE v0.1.x's PKI bundle, or a raw
 * snapshot (RKE before zips wrote the etcd database as NAME). Hidden files are our (and
 * rke-tools') temporary files and are not snapshots.
 */
export function classifyEntry(file: string): Pick<SnapshotFile, 'kind' | 'name'> | undefined {
  if (file.startsWith('.')) return undefined;
  if (file === PKI_BUNDLE_FILE_NAME) return { kind: 'pki-bundle', name: file };
  if (file.endsWith('.zip') && file.length > '.zip'.length) return { kind: 'zip', name: file.slice(0, -'.zip'.length) };
  return { kind: 'raw', name: file };
}
