import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { perTestDirectory } from '../../test/support/case-dirs.js';
import { checkPkiBundleTarget, pkiBundleTarget, scanPkiDirectory, writePkiBundle } from './pki-bundle.js';

const run = promisify(execFile);
const cases = await perTestDirectory('pki-bundle-test-');

/** An RKE-like /etc/kubernetes/ssl and an empty snapshots directory, in the test's directory. */
async function layout(): Promise<{ ssl: string; backup: string }> {
  const ssl = join(cases.path, 'kubernetes', 'ssl');
  const backup = join(cases.path, 'backup');
  await mkdir(ssl, { recursive: true });
  await mkdir(backup);
  await writeFile(join(ssl, 'kube-ca.pem'), '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n', { mode: 0o644 });
  await writeFile(join(ssl, 'kube-node.pem'), 'node cert\n', { mode: 0o644 });
  await writeFile(join(ssl, 'kube-node-key.pem'), 'node key\n', { mode: 0o600 });
  await writeFile(join(ssl, 'kubecfg-kube-node.yaml'), 'apiVersion: v1\n', { mode: 0o644 });
  return { ssl, backup };
}

const SSL = '/etc/kubernetes/ssl';

test('the bundle is a 0600 gzip tar of the ssl directory under etc/kubernetes/ssl/, identical to the files', async () => {
  const { ssl, backup } = await layout();
  const previous = process.umask(0);
  let bundle;
  try {
    bundle = await writePkiBundle(await scanPkiDirectory(ssl, SSL), pkiBundleTarget(backup));
  } finally {
    process.umask(previous);
  }
  assert.equal(bundle.file, '/opt/rke/etcd-snapshots/pki.bundle.tar.gz');
  assert.equal(bundle.entries, 5);
  const path = join(backup, 'pki.bundle.tar.gz');
  assert.equal((await lstat(path)).mode & 0o777, 0o600);
  assert.equal((await lstat(path)).size, bundle.size);
  assert.deepEqual(await readdir(backup), ['pki.bundle.tar.gz']);

  const { stdout } = await run('tar', ['-tzf', path]);
  assert.deepEqual(stdout.trim().split('\n'), [
    'etc/kubernetes/ssl/',
    'etc/kubernetes/ssl/kube-ca.pem',
    'etc/kubernetes/ssl/kube-node-key.pem',
    'etc/kubernetes/ssl/kube-node.pem',
    'etc/kubernetes/ssl/kubecfg-kube-node.yaml',
  ]);
  // RKE v0.1.x's restore: tar xzvf pki.bundle.tar.gz -C /etc/kubernetes/.tmp/ --strip-components 3
  const restored = join(cases.path, 'restored');
  await mkdir(restored);
  await run('tar', ['-xzpf', path, '-C', restored, '--strip-components', '3']);
  assert.deepEqual((await readdir(restored)).sort(), (await readdir(ssl)).sort());
  for (const name of await readdir(ssl)) {
    assert.ok((await readFile(join(restored, name))).equals(await readFile(join(ssl, name))), name);
    assert.equal((await lstat(join(restored, name))).mode & 0o777, (await lstat(join(ssl, name))).mode & 0o777, name);
  }
});

test('an existing bundle is replaced atomically, and a symlink at its name is replaced, not written through', async () => {
  const { ssl, backup } = await layout();
  const outside = join(cases.path, 'precious');
  await writeFile(outside, 'precious');
  await symlink(outside, join(backup, 'pki.bundle.tar.gz'));
  const first = await writePkiBundle(await scanPkiDirectory(ssl, SSL), pkiBundleTarget(backup));
  assert.ok((await lstat(join(backup, 'pki.bundle.tar.gz'))).isFile());
  assert.equal(await readFile(outside, 'utf8'), 'precious');
  await writeFile(join(ssl, 'kube-node.pem'), 'renewed node cert\n');
  const second = await writePkiBundle(await scanPkiDirectory(ssl, SSL), pkiBundleTarget(backup));
  assert.notEqual(second.sha256, first.sha256);
  assert.deepEqual(await readdir(backup), ['pki.bundle.tar.gz']);
});

test('subdirectories and symlinks are kept as tar keeps them', async () => {
  const { ssl, backup } = await layout();
  await mkdir(join(ssl, 'old'));
  await writeFile(join(ssl, 'old', 'kube-ca.pem'), 'old ca\n');
  await symlink('kube-ca.pem', join(ssl, 'ca.pem'));
  await writePkiBundle(await scanPkiDirectory(ssl, SSL), pkiBundleTarget(backup));
  const { stdout } = await run('tar', ['-tvzf', join(backup, 'pki.bundle.tar.gz')]);
  assert.match(stdout, /^l.* etc\/kubernetes\/ssl\/ca\.pem -> kube-ca\.pem$/m);
  assert.match(stdout, /^d.* etc\/kubernetes\/ssl\/old\/$/m);
  assert.match(stdout, /^-.* etc\/kubernetes\/ssl\/old\/kube-ca\.pem$/m);
});

test('a FIFO in the ssl directory is refused at the scan, before anything is written', async () => {
  const { ssl } = await layout();
  await run('mkfifo', [join(ssl, 'pipe')]);
  await assert.rejects(scanPkiDirectory(ssl, SSL), {
    message: '--pki-bundle: /etc/kubernetes/ssl/pipe is not a regular file, directory or symlink (a FIFO); remove it or move it out of /etc/kubernetes/ssl',
  });
});

test('a missing, empty or non-directory ssl path is refused, naming it', async () => {
  await assert.rejects(scanPkiDirectory(join(cases.path, 'nowhere'), SSL), { message: '--pki-bundle: /etc/kubernetes/ssl does not exist on this node' });
  await mkdir(join(cases.path, 'empty'));
  await assert.rejects(scanPkiDirectory(join(cases.path, 'empty'), SSL), { message: '--pki-bundle: /etc/kubernetes/ssl holds no files; there are no certificates to bundle' });
  await writeFile(join(cases.path, 'file'), 'x');
  await assert.rejects(scanPkiDirectory(join(cases.path, 'file'), SSL), /is not a directory/);
});

test('a file rewritten after the scan is bundled as it is when read (size from the open file)', async () => {
  const { ssl, backup } = await layout();
  const scan = await scanPkiDirectory(ssl, SSL);
  await writeFile(join(ssl, 'kube-node-key.pem'), 'node key, rewritten longer\n');
  await writePkiBundle(scan, pkiBundleTarget(backup));
  assert.deepEqual(await readdir(backup), ['pki.bundle.tar.gz']);
  const { stdout } = await run('tar', ['-xzOf', join(backup, 'pki.bundle.tar.gz'), 'etc/kubernetes/ssl/kube-node-key.pem']);
  assert.equal(stdout, 'node key, rewritten longer\n');
});

test('a file that vanished after the scan fails the bundle, naming it, and leaves no file', async () => {
  const { ssl, backup } = await layout();
  const scan = await scanPkiDirectory(ssl, SSL);
  await run('rm', [join(ssl, 'kube-node.pem')]);
  await assert.rejects(writePkiBundle(scan, pkiBundleTarget(backup)), { message: '--pki-bundle: /etc/kubernetes/ssl/kube-node.pem does not exist on this node' });
  assert.deepEqual(await readdir(backup), []);
});

test('a directory at the bundle\'s name is refused before any work', async () => {
  const { backup } = await layout();
  await checkPkiBundleTarget(pkiBundleTarget(backup));
  await mkdir(join(backup, 'pki.bundle.tar.gz'));
  await assert.rejects(checkPkiBundleTarget(pkiBundleTarget(backup)), {
    message: '--pki-bundle: /opt/rke/etcd-snapshots/pki.bundle.tar.gz is a directory; move it away so that the bundle can take its name',
  });
});

test('an ssl directory that is itself a symlink is followed (as tar follows dir/); links inside it are not', async () => {
  const { ssl, backup } = await layout();
  const linked = join(cases.path, 'ssl-link');
  await symlink(ssl, linked);
  const bundle = await writePkiBundle(await scanPkiDirectory(linked, SSL), pkiBundleTarget(backup));
  assert.equal(bundle.entries, 5);
});
