import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnsTable, markdownTable, percentile, ratio, rate, replaceGenerated } from './table.js';

test('ratios and rates read as the table shows them', () => {
  assert.equal(ratio(95, 100), '0.95');
  assert.equal(ratio(1, 0), '');
  assert.equal(rate(100 * 1024 * 1024, 2000), '50.0 MiB/s');
});

test('the table has a header, a rule and one line per row, columns aligned', () => {
  const table = markdownTable([{ item: 1, what: 'throughput', size: '1 GiB', ours: '90 MiB/s', reference: '100 MiB/s', ratio: '0.90', target: '≥ 0.95' }]);
  const lines = table.split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^\| # \| measurement \| DB size \| ours/);
  assert.equal(new Set(lines.map((line) => line.length)).size, 1);
});

test('the generated block is replaced in place, or appended once', () => {
  const first = replaceGenerated('# Performance\n\nprose\n', 'table one');
  assert.match(first, /prose\n\n<!-- bench:begin .*-->\ntable one\n<!-- bench:end -->\n$/);
  const second = replaceGenerated(first + '\nafter\n', 'table two');
  assert.ok(second.includes('table two') && !second.includes('table one') && second.endsWith('\nafter\n'));
});

test('each part of the bench has its own block: writing one leaves the other', () => {
  const both = replaceGenerated(replaceGenerated('# Performance\n', 'classic'), 'datasets one', 'datasets');
  const again = replaceGenerated(both, 'datasets two', 'datasets');
  assert.ok(again.includes('classic') && again.includes('datasets two') && !again.includes('datasets one'));
  assert.match(again, /<!-- datasets:begin .*-->\ndatasets two\n<!-- datasets:end -->/);
});

test('a table of any columns: short rows are padded, every line as wide as the header', () => {
  const lines = columnsTable(['data', 'etcdctl', 'ours'], [['json', '3.0 s', '3.1 s'], ['random', '2.4 s']]).split('\n');
  assert.equal(lines.length, 4);
  assert.equal(new Set(lines.map((line) => line.length)).size, 1);
  assert.match(lines[3]!, /^\| random \| 2\.4 s +\| +\|$/);
});

test('percentiles by nearest rank', () => {
  const values = Array.from({ length: 100 }, (_, index) => 100 - index); // 100..1, unsorted
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});
