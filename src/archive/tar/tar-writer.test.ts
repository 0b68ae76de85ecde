import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, lstat, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { perTestDirectory } from '../../../test/support/case-dirs.js';
import { listTar } from './tar-reader.js';
import { BLOCK_SIZE, TarSizeError, entryHeaderBlocks, paxRecord, tarStream, type TarEntryHeader, type TarInput } from './tar-writer.js';

const run = promisify(execFile);
const cases = await perTestDirectory('tar-writer-test-');

const MTIME = 1_700_000_000;
const dir = (name: string, mode = 0o755): TarInput => ({ header: { name, type: 'directory', mode, uid: 0, gid: 0, size: 0, mtimeSeconds: MTIME } });
const file = (name: string, content: Buffer, mode = 0o600): TarInput => ({
  header: { name, type: 'file', mode, uid: 1000, gid: 1001, size: content.length, mtimeSeconds: MTIME },
  content: async function* () {
    // In two parts, to exercise content that arrives in pieces.
    yield content.subarray(0, Math.floor(content.length / 2));
    yield content.subarray(Math.floor(content.length / 2));
  },
});
const symlink = (name: string, target: string): TarInput => ({
  header: { name, type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtimeSeconds: MTIME, linkName: target },
});

async function collect(inputs: TarInput[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of tarStream(inputs)) parts.push(part);
  return Buffer.concat(parts);
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const bytes = (length: number, seed: number) => Buffer.from(Array.from({ length }, (_, index) => (index * 31 + seed) % 256));

const longDirectory = `etc/kubernetes/ssl/${'d'.repeat(90)}/${'e'.repeat(50)}/`;
const veryLongName = `etc/kubernetes/ssl/${'x'.repeat(120)}/${'y'.repeat(150)}.pem`;
const contents = {
  empty: Buffer.alloc(0),
  one: Buffer.from('a'),
  block: bytes(BLOCK_SIZE, 1),
  blockPlusOne: bytes(BLOCK_SIZE + 1, 2),
  large: bytes(200_000, 3),
  unicode: Buffer.from('ключ\n'),
  long: bytes(700, 4),
  veryLong: bytes(10, 5),
};
const sample: TarInput[] = [
  dir('etc/kubernetes/ssl/'),
  file('etc/kubernetes/ssl/empty.pem', contents.empty, 0o644),
  file('etc/kubernetes/ssl/one.pem', contents.one),
  file('etc/kubernetes/ssl/block.pem', contents.block, 0o400),
  file('etc/kubernetes/ssl/block-plus-one.pem', contents.blockPlusOne),
  file('etc/kubernetes/ssl/large.pem', contents.large),
  file('etc/kubernetes/ssl/ключ.pem', contents.unicode),
  symlink('etc/kubernetes/ssl/link.pem', 'one.pem'),
  symlink('etc/kubernetes/ssl/long-link.pem', `../${'t'.repeat(120)}.pem`),
  dir(longDirectory, 0o700),
  file(`${longDirectory}long.pem`, contents.long),
  file(veryLongName, contents.veryLong),
];

test('a header block is ustar with GNU tar\'s checksum format', () => {
  const header: TarEntryHeader = { name: 'etc/kubernetes/ssl/kube-ca.pem', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1234, mtimeSeconds: MTIME };
  const block = entryHeaderBlocks(header);
  assert.equal(block.length, BLOCK_SIZE);
  assert.equal(block.subarray(0, 30).toString(), 'etc/kubernetes/ssl/kube-ca.pem');
  assert.equal(block.subarray(100, 108).toString('latin1'), '0000644\0');
  assert.equal(block.subarray(124, 136).toString('latin1'), '00000002322\0');
  assert.equal(block.subarray(136, 148).toString('latin1'), `${MTIME.toString(8).padStart(11, '0')}\0`);
  assert.equal(String.fromCharCode(block[156]!), '0');
  assert.equal(block.subarray(257, 265).toString('latin1'), 'ustar\u000000');
  let sum = 0;
  for (let offset = 0; offset < BLOCK_SIZE; offset++) sum += offset >= 148 && offset < 156 ? 0x20 : block[offset]!;
  assert.equal(block.subarray(148, 156).toString('latin1'), `${sum.toString(8).padStart(6, '0')}\0 `);
});

test('names up to 255 bytes fit ustar (prefix + name); longer ones get a PAX header', () => {
  assert.equal(entryHeaderBlocks(sample[10]!.header).length, BLOCK_SIZE);
  const withPax = entryHeaderBlocks(sample[11]!.header);
  assert.equal(String.fromCharCode(withPax[156]!), 'x');
  assert.ok(withPax.length > 2 * BLOCK_SIZE && withPax.length % BLOCK_SIZE === 0);
});

test('a PAX record counts its own length digits', () => {
  for (const valueLength of [0, 1, 85, 86, 87, 88, 990, 991, 992, 993, 994, 995, 996]) {
    const record = paxRecord('path', 'v'.repeat(valueLength));
    assert.equal(Buffer.byteLength(record), Number(record.slice(0, record.indexOf(' '))), `value of ${valueLength}`);
    assert.ok(record.endsWith('\n'));
  }
});

test('GNU tar and Python read the archive: names, types, modes, owners, content, link targets', async () => {
  const archive = await collect(sample);
  assert.equal(archive.length % BLOCK_SIZE, 0);
  const path = join(cases.path, 'sample.tar');
  await writeFile(path, archive);

  const out = join(cases.path, 'out');
  await run('mkdir', [out]);
  await run('tar', ['-xpf', path, '-C', out, '--same-owner', '--numeric-owner']);
  for (const input of sample) {
    const extracted = join(out, input.header.name);
    const stats = await lstat(extracted);
    if (input.header.type === 'file') {
      const actual = await readFile(extracted);
      const chunks: Buffer[] = [];
      for await (const chunk of input.content!()) chunks.push(Buffer.from(chunk));
      assert.ok(actual.equals(Buffer.concat(chunks)), input.header.name);
      assert.equal(stats.mode & 0o7777, input.header.mode, input.header.name);
      assert.equal(stats.uid, 1000);
      assert.equal(stats.gid, 1001);
      assert.equal(Math.floor(stats.mtimeMs / 1000), MTIME);
    } else if (input.header.type === 'symlink') {
      assert.ok(stats.isSymbolicLink());
      assert.equal(await readlink(extracted), input.header.linkName);
    } else {
      assert.ok(stats.isDirectory());
    }
  }

  const { stdout } = await run('python3', [
    '-c',
    'import sys, tarfile, json\nwith tarfile.open(sys.argv[1]) as t: print(json.dumps([[m.name, m.type.decode(), m.mode, m.size, m.linkname] for m in t.getmembers()]))',
    path,
  ]);
  const expected = sample.map(({ header }) => [
    header.name.replace(/\/$/, ''),
    { file: '0', directory: '5', symlink: '2' }[header.type],
    header.mode,
    header.size,
    header.linkName ?? '',
  ]);
  assert.deepEqual(JSON.parse(stdout), expected);
});

test('listTar reads back what was written, with each file\'s SHA-256', async () => {
  const archive = await collect(sample);
  const listed = await listTar(once(archive));
  assert.deepEqual(
    listed.map((entry) => [entry.name, entry.type, entry.mode, entry.size, entry.linkName]),
    sample.map(({ header }) => [header.name, header.type, header.mode, header.size, header.linkName]),
  );
  assert.equal(listed[5]!.sha256, sha256(contents.large));
  assert.equal(listed[11]!.sha256, sha256(contents.veryLong));
});

test('listTar refuses a damaged header and a truncated archive', async () => {
  const archive = await collect(sample.slice(0, 3));
  const damaged = Buffer.from(archive);
  damaged[BLOCK_SIZE + 5] = damaged[BLOCK_SIZE + 5]! ^ 0xff; // the second header's name
  await assert.rejects(listTar(once(damaged)), /header checksum/);
  await assert.rejects(listTar(once(archive.subarray(0, archive.length - BLOCK_SIZE))), /zero block is not followed|end-of-archive/);
  await assert.rejects(listTar(once(archive.subarray(0, BLOCK_SIZE + 100))), /truncated/);
});

test('content that does not have the announced size fails the archive', async () => {
  const shorter: TarInput = { header: { ...sample[2]!.header, size: 5 }, content: async function* () { yield Buffer.from('abc'); } };
  await assert.rejects(collect([shorter]), (error: unknown) => error instanceof TarSizeError && error.actual === 3);
  const longer: TarInput = { header: { ...sample[2]!.header, size: 2 }, content: async function* () { yield Buffer.from('abc'); } };
  await assert.rejects(collect([longer]), TarSizeError);
});

test('names that would escape the extraction directory, and impossible entries, are refused', () => {
  const base: TarEntryHeader = { name: 'a', type: 'file', mode: 0o600, uid: 0, gid: 0, size: 0, mtimeSeconds: MTIME };
  assert.throws(() => entryHeaderBlocks({ ...base, name: '/etc/passwd' }), /relative path/);
  assert.throws(() => entryHeaderBlocks({ ...base, name: 'etc/../../x' }), /relative path/);
  assert.throws(() => entryHeaderBlocks({ ...base, type: 'directory' }), /end with '\/'/);
  assert.throws(() => entryHeaderBlocks({ ...base, size: 8 * 1024 ** 3 }), /size .* out of range/);
  assert.throws(() => entryHeaderBlocks({ ...base, type: 'symlink' }), /needs a target/);
});
