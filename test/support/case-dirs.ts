import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach } from 'node:test';

/**
 * A fresh empty directory for every test of the calling file, all under one temp
 * root that is removed after the file's tests. Call at module level; read `.path`
 * inside a test (`.root` is outside every test's directory).
 */
export async function perTestDirectory(prefix: string): Promise<{ readonly root: string; readonly path: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  let counter = 0;
  const current = { root, path: root };
  beforeEach(async () => {
    current.path = join(root, `case-${++counter}`);
    await mkdir(current.path);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return current;
}
