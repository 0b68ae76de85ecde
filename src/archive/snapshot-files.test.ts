import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { localDirectory } from './snapshot-directory.js';
import { listSnapshotFiles, removeSnapshotFiles, sweepTemporaryFiles } from './snapshot-files.js';
import { classifyEntry, validateRemovableName } from '../model/names.js';
import { tempDir } from '../../test/support/temp-dir.js';

function backupDir(): { dir: string; outside: string } {
  const root = tempDir('snapshot-files-');
  const dir = path.join(root, 'backup');
  const outside = path.join(root, 'outside');
  mkdirSync(dir);
  mkdirSync(outside);
  return { dir, outside };
}

const directory = (dir: string) => localDirectory(dir, '/opt/rke/etcd-snapshots');

test('classifies zip, raw, PKI bundle; hidden temporary files are not snapshots', () => {
  assert.deepEqual(classifyEntry('a.zip'), { kind: 'zip', name: 'a' });
  assert.deepEqual(classifyEntry('pki.bundle.tar.gz'), { kind: 'pki-bundle', name: 'pki.bundle.tar.gz' });
  assert.deepEqual(classifyEntry('old-raw'), { kind: 'raw', name: 'old-raw' });
  assert.equal(classifyEntry('.a.zip.tmp-0123abcd'), undefined);
  assert.deepEqual(classifyEntry('.zip'), undefined);
});

test('lists regular files with size, time and sha256; symlinks and directories are skipped, never followed', async () => {
  const { dir, outside } = backupDir();
  writeFileSync(path.join(dir, 'a.zip'), 'zip-a');
  utimesSync(path.join(dir, 'a.zip'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
  writeFileSync(path.join(dir, 'raw'), 'raw');
  writeFileSync(path.join(dir, 'pki.bundle.tar.gz'), 'bundle');
  writeFileSync(path.join(dir, '.b.zip.tmp-00'), 'tmp');
  writeFileSync(path.join(outside, 'secret'), 'secret');
  symlinkSync(path.join(outside, 'secret'), path.join(dir, 'link.zip'));
  mkdirSync(path.join(dir, 'sub.zip'));
  const listed = await listSnapshotFiles(directory(dir));
  assert.deepEqual(listed.files.map((f) => [f.file, f.kind, f.name, f.size]), [
    ['a.zip', 'zip', 'a', 5],
    ['pki.bundle.tar.gz', 'pki-bundle', 'pki.bundle.tar.gz', 6],
    ['raw', 'raw', 'raw', 3],
  ]);
  assert.equal(listed.files[0]!.modified, '2024-01-02T03:04:05.000Z');
  assert.match(listed.files[0]!.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(listed.skipped.map((s) => s.file).sort(), ['link.zip', 'sub.zip']);
  assert.match(listed.skipped.find((s) => s.file === 'link.zip')!.reason, /symlink/);
});

test('no sha256 above the size limit; a missing directory lists nothing', async () => {
  const { dir } = backupDir();
  writeFileSync(path.join(dir, 'big.zip'), Buffer.alloc(2048));
  const listed = await listSnapshotFiles(directory(dir), { sha256MaxBytes: 1024 });
  assert.equal(listed.files[0]!.sha256, undefined);
  const none = await listSnapshotFiles(directory(path.join(dir, 'absent')));
  assert.deepEqual(none.files, []);
});

test('removes NAME.zip and raw NAME; missing is reported, not an error', async () => {
  const { dir } = backupDir();
  writeFileSync(path.join(dir, 'a.zip'), 'zip');
  writeFileSync(path.join(dir, 'a'), 'raw');
  writeFileSync(path.join(dir, 'b.zip'), 'other');
  const result = await removeSnapshotFiles(directory(dir), ['a', 'gone']);
  assert.deepEqual(result.names.map((n) => [n.name, n.status, n.removed.map((r) => r.file)]), [
    ['a', 'removed', ['a.zip', 'a']],
    ['gone', 'missing', []],
  ]);
  assert.deepEqual(readdirSync(dir), ['b.zip']);
});

test('a symlink or directory of that name is refused and left alone; its target is untouched', async () => {
  const { dir, outside } = backupDir();
  writeFileSync(path.join(outside, 'victim'), 'keep me');
  symlinkSync(path.join(outside, 'victim'), path.join(dir, 'l.zip'));
  mkdirSync(path.join(dir, 'd.zip'));
  const result = await removeSnapshotFiles(directory(dir), ['l', 'd']);
  assert.deepEqual(result.names.map((n) => n.status), ['refused', 'refused']);
  assert.match(result.names[0]!.refused[0]!.reason, /symlink/);
  assert.ok(existsSync(path.join(outside, 'victim')));
  assert.deepEqual(readdirSync(dir).sort(), ['d.zip', 'l.zip']);
});

test('only plain snapshot names are removable', () => {
  for (const bad of ['', '..', 'a/b', '../x', 'x.zip', 'pki.bundle.tar.gz', '.a.zip.tmp-1', 'a\nb']) {
    assert.throws(() => validateRemovableName(bad), /--name/, bad);
  }
  validateRemovableName('rke_etcd_snapshot_2024-05-01T14:03:07+02:00');
});


test('sweep removes only our temporary names of the given files, regular files only, never through a symlink', async () => {
  const { dir, outside } = backupDir();
  const ours = ['.a.zip.tmp-0123456789ab', '.pki.bundle.tar.gz.tmp-ffffffffffff'];
  const others = ['.a.zip.tmp-0123', '.a.zip.tmp-0123456789abc', '.b.zip.tmp-0123456789ab', 'a.zip', '.a.zip.tmp-0123456789AB', 'x.a.zip.tmp-0123456789ab'];
  for (const file of [...ours, ...others]) writeFileSync(path.join(dir, file), 'x');
  writeFileSync(path.join(outside, 'target'), 'keep');
  symlinkSync(path.join(outside, 'target'), path.join(dir, '.a.zip.tmp-aaaaaaaaaaaa'));
  mkdirSync(path.join(dir, '.a.zip.tmp-bbbbbbbbbbbb'));
  const logged: string[] = [];
  const swept = await sweepTemporaryFiles(directory(dir), ['a.zip', 'pki.bundle.tar.gz'], (line) => logged.push(line));
  assert.deepEqual(swept.sort(), [...ours].sort());
  assert.deepEqual(readdirSync(dir).sort(), [...others, '.a.zip.tmp-aaaaaaaaaaaa', '.a.zip.tmp-bbbbbbbbbbbb'].sort());
  assert.equal(existsSync(path.join(outside, 'target')), true);
  assert.equal(logged.length, 2);
  assert.match(logged[0]!, /^removed \/opt\/rke\/etcd-snapshots\/\.\S+\.tmp-[0-9a-f]{12}, a temporary file an earlier run left \(1 bytes\)$/);
  assert.deepEqual(await sweepTemporaryFiles(directory(path.join(dir, 'absent')), ['a.zip']), []);
});

test('sweep removes other snapshots\' temporary files only once stale, and nothing but our names', async () => {
  const { dir } = backupDir();
  const stale = ['.old.zip.tmp-0123456789ab', '.pki.bundle.tar.gz.tmp-0123456789ab'];
  const fresh = ['.live.zip.tmp-0123456789ab'];
  const notOurs = ['.notes.txt.tmp-0123456789ab', 'old.zip', '.old.zip.tmp-XYZ'];
  const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
  for (const file of [...stale, ...fresh, ...notOurs]) writeFileSync(path.join(dir, file), 'x');
  for (const file of [...stale, ...notOurs]) utimesSync(path.join(dir, file), hourAgo, hourAgo);
  const swept = await sweepTemporaryFiles(directory(dir), ['a.zip'], undefined, { staleAfterMs: 10 * 60 * 1000 });
  assert.deepEqual(swept.sort(), [...stale].sort());
  assert.deepEqual(readdirSync(dir).sort(), [...fresh, ...notOurs].sort());
  // Without staleAfterMs only the given names' temporary files go.
  writeFileSync(path.join(dir, stale[0]!), 'x');
  utimesSync(path.join(dir, stale[0]!), hourAgo, hourAgo);
  assert.deepEqual(await sweepTemporaryFiles(directory(dir), ['a.zip']), []);
});
