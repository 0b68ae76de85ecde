/** The benchmark's results as rows, and the table they print as. Pure. */

export interface BenchRow {
  /** Which measurement of docs/performance.md (1..7). */
  item: number;
  what: string;
  /** DB size the row was measured at, or '' when it does not apply. */
  size: string;
  ours: string;
  reference: string;
  /** ours / reference in the direction where higher is better, or '' when there is no reference. */
  ratio: string;
  target: string;
}

export function ratio(value: number, reference: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return '';
  return (value / reference).toFixed(2);
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
export const rate = (bytes: number, ms: number) => `${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(1)} MiB/s`;
export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const HEADERS = ['#', 'measurement', 'DB size', 'ours', 'reference', 'ratio', 'target'];

/** A Markdown table (also readable as plain text on a terminal). */
export function markdownTable(rows: readonly BenchRow[]): string {
  return columnsTable(HEADERS, rows.map((row) => [String(row.item), row.what, row.size, row.ours, row.reference, row.ratio, row.target]));
}

/** A Markdown table of any columns, padded so that it also reads as plain text. */
export function columnsTable(headers: readonly string[], cells: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((line) => (line[column] ?? '').length)));
  const line = (values: readonly string[]) => `| ${widths.map((width, column) => (values[column] ?? '').padEnd(width)).join(' | ')} |`;
  return [line(headers), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/**
 * Replaces what lies between the two markers of `part` (kept) with `generated`; appends both
 * if absent. Each part of the bench writes its own block, so a run of one part leaves the others.
 */
export function replaceGenerated(document: string, generated: string, part = 'bench'): string {
  const begin = `<!-- ${part}:begin (written by npm run bench) -->`;
  const end = `<!-- ${part}:end -->`;
  const block = `${begin}\n${generated.trimEnd()}\n${end}`;
  const from = document.indexOf(begin);
  const to = document.indexOf(end);
  if (from === -1 || to < from) return `${document.trimEnd()}\n\n${block}\n`;
  return document.slice(0, from) + block + document.slice(to + end.length);
}

/** The p-th percentile (0..100) of `values` by the nearest-rank method; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
