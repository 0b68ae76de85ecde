import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Directories made by tempDir in this test file's process, removed when it exits. */
const tempDirs: string[] = [];

/**
 * A new directory under the system's temp directory, removed with everything in it when the
 * test file's process exits, passed or failed (node --test runs each file in its own process):
 * tests copy whole snapshots there, a GiB or two per run of the suite.
 */
export function tempDir(prefix: string): string {
  if (tempDirs.length === 0) process.once('exit', () => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
