/**
 * The layout stays as docs/architecture.md draws it: no module imports a higher layer, no
 * import circle, and nothing outside src/agent/ reaches into the agent but its protocol.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './support/lab.js';

const run = promisify(execFile);

test('src/ has no upward import, no circle, and no import into agent/ but its protocol', async () => {
  const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'scripts', 'layout-report.mjs'), '--strict']);
  assert.match(stdout, /^upward imports: 0$/m, stdout);
  assert.match(stdout, /^circles: 0$/m, stdout);
  assert.match(stdout, /^imports into agent\/ from outside \(other than agent\/protocol\/\): 0$/m, stdout);
});
