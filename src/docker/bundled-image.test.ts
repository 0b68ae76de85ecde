import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { locateBundledAgentImage } from './bundled-image.js';
import { tempDir } from '../../test/support/temp-dir.js';

function imageDir(manifest: unknown): string {
  const dir = tempDir('rke-bundled-');
  writeFileSync(path.join(dir, 'image.json'), JSON.stringify(manifest));
  return dir;
}

test('image.json gives one image per architecture, each tar beside it', async () => {
  const dir = imageDir({
    images: {
      amd64: { tag: 'rke-snapshot-agent:1-a', tar: 'rke-snapshot-agent-amd64.tar', platform: 'linux/amd64' },
      arm64: { tag: 'rke-snapshot-agent:1-b', tar: 'rke-snapshot-agent-arm64.tar', platform: 'linux/arm64' },
      riscv64: { tag: 'ignored', tar: 'ignored.tar' },
    },
    tag: 'rke-snapshot-agent:1-a',
    tar: 'rke-snapshot-agent-amd64.tar',
  });
  assert.deepEqual(await locateBundledAgentImage(dir), {
    amd64: { tag: 'rke-snapshot-agent:1-a', tarPath: path.join(dir, 'rke-snapshot-agent-amd64.tar') },
    arm64: { tag: 'rke-snapshot-agent:1-b', tarPath: path.join(dir, 'rke-snapshot-agent-arm64.tar') },
  });
});

test('a missing, single-image or malformed image.json says to rebuild', async () => {
  await assert.rejects(locateBundledAgentImage(path.join(tmpdir(), 'rke-no-such-dir')), /the backup agent image is not built .*npm run build:agent-image/);
  await assert.rejects(locateBundledAgentImage(imageDir({ tag: 'x', tar: 'x.tar' })), /lists no image; rebuild it/);
  await assert.rejects(locateBundledAgentImage(imageDir({ images: { arm64: { tag: 1, tar: 'x' } } })), /malformed \(images\.arm64\)/);
});
