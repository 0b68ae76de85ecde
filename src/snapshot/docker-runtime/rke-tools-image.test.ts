import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkWrittenSnapshot, lastError } from './rke-tools-image.js';

const PATH = '/opt/rke/etcd-snapshots/snap.zip';

function zipHead(entry: string): Buffer {
  const name = Buffer.from(entry);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(name.length, 26);
  return Buffer.concat([header, name]);
}

const good = { type: 'file', size: 11_000, mtime: 1_700_000_100, data: zipHead('/backup/snap') };

test('a fresh, non-empty zip whose first entry is /backup/NAME is the snapshot', () => {
  assert.deepEqual(checkWrittenSnapshot(good, 'snap', PATH, 1_700_000_100_500), { file: PATH, size: 11_000 });
});

test('anything else after exit 0 is an error naming the file', () => {
  const refuses = (head: Parameters<typeof checkWrittenSnapshot>[0], pattern: RegExp) =>
    assert.throws(() => checkWrittenSnapshot(head, 'snap', PATH, 1_700_000_100_000), (error: Error) =>
      error.message.startsWith(`the rke-tools container exited 0, but ${PATH} `) && pattern.test(error.message));
  refuses(undefined, /is not there$/);
  refuses({ ...good, type: 'symlink' }, /is not a regular file \(symlink\)/);
  refuses({ ...good, size: 0 }, /is empty/);
  refuses({ ...good, mtime: 1_600_000_000 }, /was not written by this run/);
  refuses({ ...good, data: Buffer.from('this is plain text, not a zip file') }, /is not a zip archive/);
  refuses({ ...good, data: zipHead('backup/snap') }, /first entry is "backup\/snap", not "\/backup\/snap"/);
});

test("the error of an rke-tools run: its fatal line's message, else its last line", () => {
  const stderr = [
    'time="2024-05-01T12:00:00Z" level=info msg="Initializing Onetime Backup" name=snap',
    'time="2024-05-01T12:00:01Z" level=fatal msg="failed to upload etcd snapshot file: bucket \\"b\\" is not found"',
  ].join('\n');
  assert.equal(lastError(stderr), 'failed to upload etcd snapshot file: bucket "b" is not found');
  assert.equal(lastError('starting\nexec: not found\n'), 'exec: not found');
  assert.equal(lastError(''), 'no output');
});
