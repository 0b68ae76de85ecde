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
  const cells = rows.map((row) => [String(row.item), row.what, row.size, row.ours, row.reference, row.ratio, row.target]);
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(HEADERS), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** Replaces what lies between the two markers (kept) with `generated`; appends both if absent. */
export function replaceGenerated(document: string, generated: string): string {
  const begin = '<!-- bench:begin (written by npm run bench) -->';
  const end = '<!-- bench:end -->';
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
