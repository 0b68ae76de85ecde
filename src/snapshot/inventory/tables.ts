/** The tables of ls, rm, prune and verify (`--output table`), with their error and note lines. */
import { locationLabel, type Location } from '../../model/location.js';
import { formatBytes } from '../report.js';
import { groupByName, newest, type LocationListing } from './listing.js';
import type { LocationRemoval } from './removal.js';
import { pruneStatus, type LocationPrune } from './prune.js';
import { restoreSummary } from './restore.js';
import type { LocationVerification } from './verification.js';
import type { Census } from '../../model/census.js';

/** The ls table: one row per snapshot name, where it is and where it is missing; then PKI bundles, then errors. */
export function formatLsTable(listings: LocationListing[]): string {
  const { snapshots, pkiBundles } = groupByName(listings);
  const rows = snapshots.map((group) => {
    const kinds = [...new Set(group.copies.map((copy) => copy.kind + (copy.encryption?.length ? ` (${copy.encryption.join(', ')})` : '')))].sort().join('+');
    const sizes = [...new Set(group.copies.map((copy) => formatBytes(copy.size)))];
    return [
      group.name,
      kinds,
      newest(group.copies).replace(/\.\d{3}Z$/, 'Z'),
      sizes.join(', '),
      [...new Set(group.copies.map(locationLabel))].join(', '),
      group.missingOn.length ? group.missingOn.join(', ') : '-',
    ];
  });
  const lines = rows.length ? table(['NAME', 'KIND', 'MODIFIED', 'SIZE', 'LOCATIONS', 'MISSING ON'], rows) : ['No snapshots found.'];
  if (pkiBundles.length) {
    lines.push('', ...table(['PKI BUNDLE', 'LOCATION', 'MODIFIED', 'SIZE', 'SHA256'], pkiBundles.map((copy) => [
      copy.file, locationLabel(copy), copy.modified.replace(/\.\d{3}Z$/, 'Z'), formatBytes(copy.size), copy.sha256 ?? '-',
    ])));
  }
  return [...lines, ...errorLines(listings)].join('\n');
}

function errorLines(outcomes: Array<Location & ({ ok: true } | { ok: false; error: string })>): string[] {
  const errors = outcomes.flatMap((outcome) => (outcome.ok ? [] : [`  ${locationLabel(outcome)}: ${outcome.error}`]));
  return errors.length ? ['', 'Errors:', ...errors] : [];
}

export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function formatRmTable(name: string, removals: LocationRemoval[]): string {
  const rows = removals.map((removal) => {
    if (!removal.ok) return [locationLabel(removal), 'FAILED', '-'];
    const entry = removal.names.find((n) => n.name === name);
    const status = entry?.status ?? 'missing';
    const detail = [
      ...(entry?.removed ?? []).map((file) => `${file.file} (${formatBytes(file.size)})`),
      ...(entry?.refused ?? []).map((file) => `${file.file}: ${file.reason}`),
    ];
    return [locationLabel(removal), status === 'refused' ? 'REFUSED' : status, detail.join(', ') || '-'];
  });
  return [...table(['LOCATION', 'STATUS', 'FILES'], rows), ...errorLines(removals)].join('\n');
}

export function formatPruneTable(keep: number, dryRun: boolean, prunes: LocationPrune[]): string {
  const rows: string[][] = [];
  for (const prune of prunes) {
    if (!prune.ok) {
      rows.push([locationLabel(prune), '-', 'FAILED']);
      continue;
    }
    for (const name of prune.plan.keep) rows.push([locationLabel(prune), name, 'kept']);
    for (const { name } of prune.plan.unordered) rows.push([locationLabel(prune), name, 'kept (cannot be ordered)']);
    for (const name of prune.plan.remove) rows.push([locationLabel(prune), name, pruneStatus(prune, name, dryRun)]);
  }
  const errors = prunes.flatMap((prune) => {
    if (!prune.ok) return [`  ${locationLabel(prune)}: ${prune.error}`];
    const lines = prune.plan.unordered.map((u) => `  ${locationLabel(prune)}: ${u.name} kept: ${u.reason}`);
    if (prune.removal && !prune.removal.ok) lines.push(`  ${locationLabel(prune)}: ${prune.removal.error}`);
    for (const entry of prune.removal?.ok ? prune.removal.names : []) {
      for (const refused of entry.refused) lines.push(`  ${locationLabel(prune)}: ${refused.file}: ${refused.reason}`);
    }
    return lines;
  });
  const head = `${dryRun ? 'Dry run: k' : 'K'}eeping the ${keep} newest snapshot(s) per location`;
  return [head, ...(rows.length ? table(['LOCATION', 'SNAPSHOT', 'ACTION'], rows) : ['No snapshots found.']), ...(errors.length ? ['', 'Notes and errors:', ...errors] : [])].join('\n');
}

export function formatVerifyTable(name: string, verifications: LocationVerification[]): string {
  const rows = verifications.map((v) => {
    if (!v.ok) return [locationLabel(v), 'FAILED', '-', '-', '-', '-', '-', '-'];
    const copy = v.copy;
    return [
      locationLabel(v),
      copy.status === 'ok' ? 'ok' : copy.status.toUpperCase(),
      copy.size === undefined ? '-' : formatBytes(copy.size),
      copy.modified?.replace(/\.\d{3}Z$/, 'Z') ?? '-',
      copy.revision === undefined ? '-' : String(copy.revision),
      copy.census === undefined ? '-' : formatCensus(copy.census),
      copy.snapshotSha256 ?? '-',
      copy.stateFileIncluded === undefined ? '-' : copy.stateFileIncluded ? 'yes' : 'no',
    ];
  });
  const problems = verifications.flatMap((v) => {
    if (!v.ok) return [`  ${locationLabel(v)}: ${v.error}`];
    if (v.copy.status === 'bad' || v.copy.status === 'differs') return [`  ${locationLabel(v)}: ${v.copy.file}: ${v.copy.problem ?? 'bad'}`];
    if (v.copy.status === 'missing') return [`  ${locationLabel(v)}: ${v.copy.file} is missing`];
    if (v.copy.status === 'encrypted') return [`  ${locationLabel(v)}: ${v.copy.file}: ${v.copy.problem ?? 'encrypted, not verified'}`];
    return [];
  });
  const notes = verifications.flatMap((v) => [
    ...(v.ok && v.copy.matches?.length ? [`  ${locationLabel(v)}: identical to the copy on ${v.copy.matches.join(', ')}`] : []),
    ...(v.ok && v.copy.censusNote ? [`  ${locationLabel(v)}: ${v.copy.censusNote}`] : []),
    ...(v.ok && v.copy.status === 'ok' && v.copy.censusProblem ? [`  ${locationLabel(v)}: ${v.copy.censusProblem}`] : []),
  ]);
  const restored = verifications.flatMap((v) => (v.ok && v.copy.restore?.ok ? [`  ${locationLabel(v)}: ${restoreSummary(v.copy.restore)}`] : []));
  problems.push(
    ...verifications.flatMap((v) => {
      const restore = v.ok ? v.copy.restore : undefined;
      if (!v.ok || restore === undefined) return [];
      if (!restore.ok) return [`  ${locationLabel(v)}: did not restore: ${restore.error}`];
      return restore.difference ? [`  ${locationLabel(v)}: ${v.copy.file}: the restored member differs from the snapshot's bbolt file (file vs restored): ${restore.difference}`] : [];
    }),
  );
  return [
    `Snapshot ${name}:`,
    ...table(['LOCATION', 'STATUS', 'SIZE', 'MODIFIED', 'REVISION', 'CENSUS', 'SNAPSHOT SHA256', 'STATE FILE'], rows),
    ...(notes.length ? ['', 'Compared:', ...notes] : []),
    ...(restored.length ? ['', 'Restore drill:', ...restored] : []),
    ...(problems.length ? ['', 'Problems:', ...problems] : []),
  ].join('\n');
}

/** A census in a table cell: live keys, then the largest resources, e.g. `5003 keys (pods 120, secrets 300, configmaps 80, +12 more)`. */
export function formatCensus(census: Census, shown = 3): string {
  const largest = Object.entries(census.resources).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  if (largest.length === 0) return `${census.keys} keys`;
  const parts = largest.slice(0, shown).map(([name, count]) => `${name} ${count}`);
  if (largest.length > shown) parts.push(`+${largest.length - shown} more`);
  return `${census.keys} keys (${parts.join(', ')})`;
}
