import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { OperatorError } from '../errors.js';
import { defaultNameWarning, defaultSnapshotName, quoteName, validateSnapshotName } from './names.js';

const originalTimeZone = process.env.TZ;

function inTimeZone(timeZone: string): void {
  process.env.TZ = timeZone;
}

afterEach(() => {
  if (originalTimeZone === undefined) delete process.env.TZ;
  else process.env.TZ = originalTimeZone;
});

describe('defaultSnapshotName', () => {
  const instant = new Date(Date.UTC(2024, 4, 1, 12, 3, 7, 999));

  it('formats UTC with Z and whole seconds', () => {
    inTimeZone('UTC');
    assert.equal(defaultSnapshotName(instant), 'rke_etcd_snapshot_2024-05-01T12:03:07Z');
  });

  it('formats a zone east of UTC with +hh:mm, in local time', () => {
    inTimeZone('Asia/Kolkata');
    assert.equal(defaultSnapshotName(instant), 'rke_etcd_snapshot_2024-05-01T17:33:07+05:30');
  });

  it('formats a zone west of UTC with -hh:mm and follows daylight saving time', () => {
    inTimeZone('America/New_York');
    assert.equal(defaultSnapshotName(instant), 'rke_etcd_snapshot_2024-05-01T08:03:07-04:00');
    assert.equal(defaultSnapshotName(new Date(Date.UTC(2024, 0, 1, 3, 0, 0))), 'rke_etcd_snapshot_2023-12-31T22:00:00-05:00');
  });

  it('produces a name that passes validation', () => {
    inTimeZone('Europe/Berlin');
    const name = defaultSnapshotName(instant);
    assert.equal(name, 'rke_etcd_snapshot_2024-05-01T14:03:07+02:00');
    assert.doesNotThrow(() => validateSnapshotName(name));
  });
});

describe('defaultNameWarning', () => {
  it('is RKE warning text', () => {
    assert.equal(
      defaultNameWarning('rke_etcd_snapshot_2024-05-01T12:03:07Z'),
      'Name of the snapshot is not specified, using [rke_etcd_snapshot_2024-05-01T12:03:07Z]',
    );
  });
});

function refusal(name: string): string {
  try {
    validateSnapshotName(name);
  } catch (error) {
    assert.ok(error instanceof OperatorError);
    assert.ok(!error.message.includes('\n'), 'one line');
    return error.message;
  }
  assert.fail(`${JSON.stringify(name)} should be refused`);
}

describe('validateSnapshotName', () => {
  it('accepts ordinary names, colons, plus signs and non-ASCII text', () => {
    for (const name of ['before-upgrade', 'nightly_2024-05-01', 'a:b', 'snap+1', 'sauvegarde-été', 'スナップ', '.hidden', 'x'.repeat(200)]) {
      assert.doesNotThrow(() => validateSnapshotName(name), name);
    }
  });

  it('refuses empty, "." and ".."', () => {
    assert.equal(refusal(''), '--name "": a snapshot name must not be empty');
    assert.equal(refusal('.'), '--name ".": a snapshot name must not be "." or ".."');
    assert.equal(refusal('..'), '--name "..": a snapshot name must not be "." or ".."');
  });

  it('refuses path separators', () => {
    assert.equal(refusal('../x'), '--name "../x": a snapshot name must not contain "/"');
    assert.equal(refusal('a/b'), '--name "a/b": a snapshot name must not contain "/"');
    assert.equal(refusal('a\\b'), '--name "a\\\\b": a snapshot name must not contain "\\"');
  });

  it('refuses NUL and control characters, quoting them escaped', () => {
    assert.equal(refusal('a\nb'), '--name "a\\nb": a snapshot name must not contain control characters (found "\\n")');
    assert.match(refusal('a\u0000b'), /found "\\u0000"/);
    assert.match(refusal('a\tb'), /found "\\t"/);
    assert.match(refusal('a\u007fb'), /^--name "a\\u007fb": .* \(found "\\u007f"\)$/);
    assert.match(refusal('a\u009bb'), /found "\\u009b"/);
    assert.match(refusal('\u001b[31mred'), /^--name "\\u001b\[31mred"/);
  });

  it('counts the limit in UTF-8 bytes', () => {
    assert.doesNotThrow(() => validateSnapshotName('é'.repeat(100)));
    assert.match(refusal('é'.repeat(101)), /must be at most 200 bytes long \(UTF-8\), this one has 202$/);
    assert.match(refusal('x'.repeat(201)), /this one has 201$/);
  });

  it('shortens a very long name in the message', () => {
    const message = refusal('y'.repeat(5000));
    assert.ok(message.length < 250, message);
    assert.match(message, /^--name "y{80}…"/);
  });

  it('refuses text that has no UTF-8 form', () => {
    assert.match(refusal('a\ud800b'), /must be valid Unicode text$/);
  });
});

describe('quoteName', () => {
  it('escapes line separators and bidirectional overrides', () => {
    assert.equal(quoteName('a\u2028b\u202ec'), '"a\\u2028b\\u202ec"');
  });
});
