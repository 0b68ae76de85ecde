import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { perTestDirectory } from '../../test/support/case-dirs.js';
import { checkTargetFree, ensureDirectory, writeFileAtomically, type AtomicTarget } from './atomic-file.js';

const cases = await perTestDirectory('atomic-file-test-');

const target = (overrides: Partial<AtomicTarget> = {}): AtomicTarget => ({
  dir: cases.path,
  fileName: 'snap.zip',
  mode: 0o600,
  overwrite: false,
  displayPath: '/opt/rke/etcd-snapshots/snap.zip',
  ...overrides,
});
const refused = { message: '/opt/rke/etcd-snapshots/snap.zip already exists on this node; pass --overwrite to replace it' };
const writeText = (text: string) => async (file: import('node:fs/promises').FileHandle) => {
  await file.writeFile(text);
  return text.length;
};

test('writes the file with exactly the mode asked, leaving no temporary file', async () => {
  const previous = process.umask(0o077);
  try {
    const { value, stats } = await writeFileAtomically(target(), writeText('zip'));
    assert.equal(value, 3);
    assert.equal(stats.size, 3);
  } finally {
    process.umask(previous);
  }
  assert.equal(await readFile(join(cases.path, 'snap.zip'), 'utf8'), 'zip');
  assert.equal((await stat(join(cases.path, 'snap.zip'))).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(cases.path), ['snap.zip']);
});

test('an existing file is refused and left as it was', async () => {
  await writeFile(join(cases.path, 'snap.zip'), 'old');
  await assert.rejects(checkTargetFree(target()), refused);
  await assert.rejects(writeFileAtomically(target(), writeText('new')), refused);
  assert.equal(await readFile(join(cases.path, 'snap.zip'), 'utf8'), 'old');
  assert.deepEqual(await readdir(cases.path), ['snap.zip']);
});

test('a symlink at the final name is never followed: refused, even dangling', async () => {
  const outside = join(cases.root, `outside-${basename(cases.path)}`);
  await writeFile(outside, 'precious');
  await symlink(outside, join(cases.path, 'snap.zip'));
  await assert.rejects(writeFileAtomically(target(), writeText('new')), refused);
  await rm(join(cases.path, 'snap.zip'));
  await symlink(join(cases.root, 'nowhere'), join(cases.path, 'snap.zip'));
  await assert.rejects(writeFileAtomically(target(), writeText('new')), refused);
  assert.equal(await readFile(outside, 'utf8'), 'precious');
  await assert.rejects(lstat(join(cases.root, 'nowhere')), { code: 'ENOENT' });
});

test('--overwrite replaces a file, and replaces a symlink itself rather than writing through it', async () => {
  await writeFile(join(cases.path, 'snap.zip'), 'old');
  await checkTargetFree(target({ overwrite: true }));
  await writeFileAtomically(target({ overwrite: true }), writeText('new'));
  assert.equal(await readFile(join(cases.path, 'snap.zip'), 'utf8'), 'new');

  const outside = join(cases.root, `outside-${basename(cases.path)}`);
  await writeFile(outside, 'precious');
  await rm(join(cases.path, 'snap.zip'));
  await symlink(outside, join(cases.path, 'snap.zip'));
  assert.equal(await readlink(join(cases.path, 'snap.zip')), outside);
  await writeFileAtomically(target({ overwrite: true }), writeText('newer'));
  assert.ok((await lstat(join(cases.path, 'snap.zip'))).isFile());
  assert.equal(await readFile(join(cases.path, 'snap.zip'), 'utf8'), 'newer');
  assert.equal(await readFile(outside, 'utf8'), 'precious');
});

test('--overwrite does not replace a directory', async () => {
  await mkdir(join(cases.path, 'snap.zip'));
  await assert.rejects(checkTargetFree(target({ overwrite: true })), /is a directory/);
  await assert.rejects(writeFileAtomically(target({ overwrite: true }), writeText('x')), /is a directory/);
  assert.deepEqual(await readdir(cases.path), ['snap.zip']);
});

test('a failure while writing removes the temporary file and leaves no final file', async () => {
  await assert.rejects(
    writeFileAtomically(target(), async (file) => {
      await file.writeFile('partial');
      assert.equal((await readdir(cases.path)).length, 1, 'the temporary file exists meanwhile');
      assert.match((await readdir(cases.path))[0] ?? '', /^\.snap\.zip\.tmp-[0-9a-f]{12}$/);
      throw new Error('etcd went away');
    }),
    /etcd went away/,
  );
  assert.deepEqual(await readdir(cases.path), []);
});

test('ENOSPC names the node path', async () => {
  const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/backup/x'"), { code: 'ENOSPC', syscall: 'write' });
  await assert.rejects(
    writeFileAtomically(target(), async () => {
      throw enospc;
    }),
    { message: 'no space left on device writing /opt/rke/etcd-snapshots/snap.zip' },
  );
  assert.deepEqual(await readdir(cases.path), []);
});

test('the backup directory is created with mode 0700 when missing', async () => {
  const backup = join(cases.path, 'backup');
  await ensureDirectory(backup, '/opt/rke/etcd-snapshots');
  assert.equal((await stat(backup)).mode & 0o777, 0o700);
  await ensureDirectory(backup, '/opt/rke/etcd-snapshots');
  await writeFile(join(cases.path, 'file'), '');
  await assert.rejects(ensureDirectory(join(cases.path, 'file'), '/opt/rke/etcd-snapshots'), /is not a directory/);
});
