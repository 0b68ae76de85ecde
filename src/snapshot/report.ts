import type { ObjectProtection } from '../model/snapshot.js';
import type { NodeResult, NodeTimings } from './result.js';

const TIMING_LABELS: Array<[keyof NodeTimings, string]> = [
  ['sshConnectMs', 'ssh'],
  ['dockerChecksMs', 'docker checks'],
  ['imageMs', 'image'],
  ['containerStartMs', 'container start'],
  ['agentMs', 'agent'],
  ['containerRemoveMs', 'container removal'],
];

/** "ssh 120 ms, docker checks 31 ms, ..." for the phases that ran. */
export function formatTimings(timings: NodeTimings): string {
  return TIMING_LABELS.filter(([key]) => timings[key] !== undefined)
    .map(([key, label]) => `${label} ${timings[key]} ms`)
    .join(', ');
}

const HEADERS = ['NODE', 'STATUS', 'FILE', 'SIZE', 'REVISION', 'SHA256', 'TIME', 'S3'];

/** The per-node result table printed at the end of a run, errors in full below it. */
export function formatResultTable(results: NodeResult[]): string {
  const rows = results.map((result) => [
    nodeName(result),
    result.ok ? 'ok' : 'FAILED',
    result.file ?? '-',
    result.size === undefined ? '-' : formatBytes(result.size),
    result.revision === undefined ? '-' : String(result.revision),
    result.sha256 ?? '-',
    `${(result.durationMs / 1000).toFixed(1)}s`,
    result.upload ? 'uploaded' : result.uploadError ? 'FAILED' : '-',
  ]);
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  const errors = results.flatMap((result) => [
    ...(result.ok ? [] : [`${nodeName(result)}: ${result.error ?? 'failed'}`]),
    ...(result.uploadError ? [`${nodeName(result)}: upload: ${result.uploadError}`] : []),
  ]);
  const uploaded = results.find((result) => result.upload);
  return [
    line(HEADERS),
    ...rows.map(line),
    ...pkiBundleRows(results),
    ...(uploaded ? ['', uploadLine(uploaded), ...bundleUploadLine(uploaded)] : []),
    ...(errors.length ? ['', 'Errors:', ...errors.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

/** Where the run's one S3 copy is, from which node, and how it was checked. */
function uploadLine(result: NodeResult): string {
  const upload = result.upload!;
  if ('reportedBy' in upload) {
    const size = upload.size === undefined ? '' : `: ${formatBytes(upload.size)}`;
    return `S3: s3://${upload.bucket}/${upload.key} uploaded from ${nodeName(result)}${size}, as reported by the rke-tools container (that contract gives no checksum to verify it by)`;
  }
  const version = upload.versionId ? `, version ${upload.versionId}` : '';
  return (
    `S3: s3://${upload.bucket}/${upload.key} uploaded from ${nodeName(result)}: ${formatBytes(upload.size)}, ` +
    `sha256 ${upload.sha256}${upload.protection?.age ? ' (of the plain zip)' : ''}, verified by ${upload.verifiedBy === 'etag' ? 'ETag' : 'size only'}${version}` +
    protectionNote(upload.protection)
  );
}

/** SPEC §7: the encryption and lock as the server reported them for the stored object. */
export function protectionNote(protection: ObjectProtection | undefined): string {
  if (protection === undefined) return '';
  const parts: string[] = [];
  if (protection.age) parts.push(`age-encrypted for ${protection.age.recipients} recipient(s)`);
  if (protection.serverSideEncryption) parts.push(`server-side encryption ${protection.serverSideEncryption}${protection.kmsKeyId ? ` (key ${protection.kmsKeyId})` : ''}`);
  if (protection.customerKeyAlgorithm) parts.push(`SSE-C ${protection.customerKeyAlgorithm}`);
  if (protection.objectLock) parts.push(`locked until ${protection.objectLock.retainUntil} (${protection.objectLock.mode})`);
  if (protection.legalHold) parts.push(`legal hold ${protection.legalHold}`);
  return parts.length === 0 ? '' : `; ${parts.join(', ')}`;
}

const PKI_HEADERS = ['NODE', 'PKI BUNDLE', 'SIZE', 'SHA256'];

/** --pki-bundle: a second block, one row per node that wrote its bundle (absent without the flag). */
function pkiBundleRows(results: NodeResult[]): string[] {
  const rows = results.flatMap((result) =>
    result.pkiBundle ? [[nodeName(result), result.pkiBundle.file, formatBytes(result.pkiBundle.size), result.pkiBundle.sha256]] : [],
  );
  if (rows.length === 0) return [];
  const widths = PKI_HEADERS.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return ['', line(PKI_HEADERS), ...rows.map(line)];
}

/** The bundle's own line under the S3 line; it never starts with "S3: " so that line stays the snapshot's. */
function bundleUploadLine(result: NodeResult): string[] {
  const upload = result.upload!;
  const bundle = 'pkiBundle' in upload ? upload.pkiBundle : undefined;
  if (!bundle) return [];
  const version = bundle.versionId ? `, version ${bundle.versionId}` : '';
  return [
    `S3 PKI bundle: s3://${upload.bucket}/${bundle.key} uploaded from ${nodeName(result)}: ${formatBytes(bundle.size)}, ` +
      `sha256 ${bundle.sha256}, verified by ${bundle.verifiedBy === 'etag' ? 'ETag' : 'size only'}${version}`,
  ];
}

function nodeName(result: NodeResult): string {
  return result.hostnameOverride ? `${result.address} (${result.hostnameOverride})` : result.address;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
