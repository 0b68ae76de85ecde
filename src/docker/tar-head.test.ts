import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseTarHead, singleFileTar, zipFirstEntryName } from './tar-head.js';
import { tempDir } from '../../test/support/temp-dir.js';

test('reads the first entry of a tar as GNU tar writes it, short and long names', () => {
  const dir = tempDir('tar-head-');
  for (const name of ['snap.zip', `${'n'.repeat(150)}.zip`]) {
    writeFileSync(path.join(dir, name), Buffer.from('PK\x03\x04rest of the file'), { mode: 0o600 });
    const tar = execFileSync('tar', ['--format=pax', '-C', dir, '-cf', '-', name]);
    assert.equal(parseTarHead(tar.subarray(0, 100), 4), undefined, 'needs more bytes');
    const head = parseTarHead(tar, 4);
    assert.deepEqual(
      { ...head, data: head?.data.toString('latin1') },
      { type: 'file', mode: 0o600, size: 20, mtime: Math.floor(statSync(path.join(dir, name)).mtimeMs / 1000), data: 'PK\x03\x04' },
    );
  }
});

test('singleFileTar round-trips through GNU tar, including a name longer than 100 bytes', () => {
  const dir = tempDir('tar-put-');
  for (const name of ['x.rkestate', `${'s'.repeat(190)}.rkestate`]) {
    const tar = singleFileTar(name, Buffer.from('{"state":1}'), 0o400, 1_700_000_000);
    const file = path.join(dir, 'a.tar');
    writeFileSync(file, tar);
    execFileSync('tar', ['-C', dir, '-xf', file]);
    assert.equal(readFileSync(path.join(dir, name), 'utf8'), '{"state":1}');
    assert.equal(statSync(path.join(dir, name)).mode & 0o777, 0o400);
    const head = parseTarHead(tar, 100);
    assert.equal(head?.size, 11);
    assert.equal(head?.mtime, 1_700_000_000);
  }
});

test('an empty or corrupt archive is an error, not a file', () => {
  assert.throws(() => parseTarHead(Buffer.alloc(1024), 4), /empty/);
  const tar = singleFileTar('a', Buffer.from('x'), 0o600, 0);
  tar[0] = 0x62;
  assert.throws(() => parseTarHead(tar, 1), /corrupt/);
});

test("a zip's first entry name, from its local header", () => {
  const name = Buffer.from('/backup/snap');
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(name.length, 26);
  assert.equal(zipFirstEntryName(Buffer.concat([header, name])), '/backup/snap');
  assert.equal(zipFirstEntryName(Buffer.from('not a zip at all, no no no no no')), undefined);
  assert.equal(zipFirstEntryName(header), undefined, 'the name is cut off');
});
