import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkedColumn, PageRows } from './page-rows.js';

test('a chunked column keeps values across chunk boundaries', () => {
  const column = new ChunkedColumn((length) => new Float64Array(length));
  for (const row of [0, 65_535, 65_536, 200_000]) column.set(row, row * 1.5 + 2 ** 40);
  for (const row of [0, 65_535, 65_536, 200_000]) assert.equal(column.get(row), row * 1.5 + 2 ** 40);
  assert.equal(column.get(1), 0);
});

test('page rows in ascending order are found by id, past one chunk', () => {
  const rows = new PageRows();
  const ids = Array.from({ length: 150_000 }, (_, index) => 2 + index * 3);
  ids.forEach((id, index) => assert.equal(rows.add(id), index));
  assert.equal(rows.size, ids.length);
  for (const index of [0, 1, 65_535, 65_536, 149_999]) assert.equal(rows.find(ids[index] as number), index);
  assert.equal(rows.find(3), undefined);
  assert.equal(rows.find(1), undefined);
  assert.equal(rows.find(2 + 150_000 * 3), undefined);
});

test('page rows out of order are found too, and the last row of an id added twice wins', () => {
  const rows = new PageRows();
  for (const id of [10, 40, 20, 30, 20, 5]) rows.add(id);
  assert.equal(rows.find(10), 0);
  assert.equal(rows.find(40), 1);
  assert.equal(rows.find(20), 4);
  assert.equal(rows.find(30), 3);
  assert.equal(rows.find(5), 5);
  assert.equal(rows.find(25), undefined);
  rows.add(25); // the sorted index is made again after an add
  assert.equal(rows.find(25), 6);
  assert.equal(rows.find(40), 1);
});

test('no rows: nothing is found', () => {
  assert.equal(new PageRows().find(2), undefined);
});
