import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OperatorError } from '../errors.js';
import { imageForEngine, platformOfEngine } from './platform.js';

const images = { amd64: 'agent:amd64', arm64: 'agent:arm64' };

test("an engine's architecture picks the image built for it", () => {
  assert.deepEqual(imageForEngine(images, 'x86_64', '10.0.0.1'), { platform: 'amd64', image: 'agent:amd64' });
  assert.deepEqual(imageForEngine(images, 'aarch64', '10.0.0.2'), { platform: 'arm64', image: 'agent:arm64' });
  // Go's names, as some engines report them.
  assert.equal(platformOfEngine('amd64'), 'amd64');
  assert.equal(platformOfEngine('arm64'), 'arm64');
  assert.equal(platformOfEngine('toString'), undefined);
});

test('an architecture without an image is refused with one line naming the node and the architecture', () => {
  assert.throws(
    () => imageForEngine(images, 'ppc64le', '10.0.0.3'),
    (error: unknown) => {
      assert.ok(error instanceof OperatorError);
      assert.equal(
        error.message,
        "host 10.0.0.3: its Docker engine's architecture is ppc64le (docker info), and the bundled backup agent image exists only for linux/amd64 and linux/arm64; pass --backup-image with an image built for it",
      );
      assert.ok(!error.message.includes('\n'));
      return true;
    },
  );
  assert.throws(() => imageForEngine({ amd64: 'agent:amd64' }, 'aarch64', '10.0.0.4'), /host 10\.0\.0\.4: .*architecture is aarch64 .*only for linux\/amd64;/);
  assert.throws(() => imageForEngine(images, '', '10.0.0.5'), /architecture is not reported/);
});
