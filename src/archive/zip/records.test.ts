import assert from 'node:assert/strict';
import { test } from 'node:test';
import { locateCentralDirectory, parseCentralDirectory } from './directory-reader.js';
import {
  MAX_UINT32,
  dosDateTime,
  encodeCentralDirectoryHeader,
  encodeDataDescriptor,
  encodeDirectoryEnd,
  encodeLocalFileHeader,
  type EntryRecord,
} from './records.js';

const GiB = 1024 ** 3;
const modified = new Date('2024-05-06T07:08:10Z');

function record(overrides: Partial<EntryRecord> = {}): EntryRecord {
  return {
    name: '/backup/snap',
    mode: 0o600,
    modified,
    crc32: 0xdeadbeef,
    compressedSize: 1000,
    uncompressedSize: 5000,
    localHeaderOffset: 0,
    ...overrides,
  };
}

test('MS-DOS time: UTC fields, 2-second resolution, clamped to 1980', () => {
  const { date, time } = dosDateTime(modified);
  assert.equal(date, ((2024 - 1980) << 9) | (5 << 5) | 6);
  assert.equal(time, (7 << 11) | (8 << 5) | 5);
  assert.deepEqual(dosDateTime(new Date(0)), { date: (1 << 5) | 1, time: 0 });
});

test('the local header defers CRC and sizes to the data descriptor', () => {
  const header = encodeLocalFileHeader(record());
  assert.equal(header.readUInt32LE(0), 0x04034b50);
  assert.equal(header.readUInt16LE(6), 0x0808); // data descriptor + UTF-8
  assert.equal(header.readUInt16LE(8), 8); // deflate
  assert.equal(header.readUInt32LE(14), 0);
  assert.equal(header.readUInt32LE(18), 0);
  assert.equal(header.readUInt32LE(22), 0);
  assert.equal(header.toString('utf8', 30, 30 + header.readUInt16LE(26)), '/backup/snap');
});

test('data descriptor: 32-bit sizes when they fit, 64-bit past 4 GiB', () => {
  const small = encodeDataDescriptor(record());
  assert.equal(small.length, 16);
  assert.equal(small.readUInt32LE(4), 0xdeadbeef);
  assert.equal(small.readUInt32LE(12), 5000);
  const large = encodeDataDescriptor(record({ compressedSize: 4 * GiB + 1, uncompressedSize: 8 * GiB }));
  assert.equal(large.length, 24);
  assert.equal(large.readBigUInt64LE(8), BigInt(4 * GiB + 1));
  assert.equal(large.readBigUInt64LE(16), BigInt(8 * GiB));
});

test('central header past 4 GiB: 0xFFFFFFFF markers and a ZIP64 extra field, read back exactly', () => {
  const huge = record({ compressedSize: 3 * GiB, uncompressedSize: 8 * GiB + 7, localHeaderOffset: 6 * GiB + 3 });
  const header = encodeCentralDirectoryHeader(huge);
  assert.equal(header.readUInt16LE(6), 45); // version needed: ZIP64
  assert.equal(header.readUInt32LE(20), MAX_UINT32);
  assert.equal(header.readUInt32LE(24), MAX_UINT32);
  assert.equal(header.readUInt32LE(42), MAX_UINT32);
  const extraStart = 46 + header.readUInt16LE(28);
  assert.equal(header.readUInt16LE(extraStart), 0x0001);
  assert.equal(header.readUInt16LE(extraStart + 2), 24);
  assert.equal(header.readBigUInt64LE(extraStart + 4), BigInt(8 * GiB + 7)); // uncompressed first
  assert.equal(header.readBigUInt64LE(extraStart + 12), BigInt(3 * GiB)); // then compressed
  assert.equal(header.readBigUInt64LE(extraStart + 20), BigInt(6 * GiB + 3)); // then offset
  const [parsed] = parseCentralDirectory(header, 1);
  assert.deepEqual(
    { ...parsed },
    {
      name: '/backup/snap',
      flags: 0x0808,
      method: 8,
      crc32: 0xdeadbeef,
      compressedSize: 3 * GiB,
      uncompressedSize: 8 * GiB + 7,
      localHeaderOffset: 6 * GiB + 3,
      unixMode: 0o100600,
    },
  );
});

test('central header with only the offset past 4 GiB carries only the offset in ZIP64', () => {
  const header = encodeCentralDirectoryHeader(record({ localHeaderOffset: 5 * GiB }));
  assert.equal(header.readUInt32LE(20), 1000);
  assert.equal(header.readUInt32LE(24), 5000);
  const extraStart = 46 + header.readUInt16LE(28);
  assert.equal(header.readUInt16LE(extraStart + 2), 8);
  assert.equal(parseCentralDirectory(header, 1)[0]?.localHeaderOffset, 5 * GiB);
});

test('small central headers carry no ZIP64 field', () => {
  const header = encodeCentralDirectoryHeader(record());
  assert.equal(header.readUInt16LE(6), 20);
  assert.equal(header.readUInt16LE(30), 9); // only the extended timestamp
  assert.deepEqual(parseCentralDirectory(header, 1)[0]?.compressedSize, 1000);
});

test('directory end: plain record when it fits, ZIP64 record + locator past 4 GiB', () => {
  const plain = encodeDirectoryEnd({ entryCount: 2, directoryOffset: 1234, directorySize: 150 });
  assert.equal(plain.length, 22);
  assert.deepEqual(locateCentralDirectory(plain, 1384), {
    entryCount: 2, directoryOffset: 1234, directorySize: 150, endRecordsOffset: 1384, zip64: false,
  });

  const directoryOffset = 9 * GiB;
  const far = encodeDirectoryEnd({ entryCount: 2, directoryOffset, directorySize: 150 });
  assert.equal(far.length, 56 + 20 + 22);
  assert.equal(far.readUInt32LE(0), 0x06064b50);
  assert.equal(far.readUInt32LE(56), 0x07064b50);
  assert.equal(far.readBigUInt64LE(56 + 8), BigInt(directoryOffset + 150)); // locator → ZIP64 end record
  assert.equal(far.readUInt16LE(76 + 10), 0xffff);
  assert.equal(far.readUInt32LE(76 + 16), MAX_UINT32);
  assert.deepEqual(locateCentralDirectory(far, directoryOffset + 150), {
    entryCount: 2, directoryOffset, directorySize: 150, endRecordsOffset: directoryOffset + 150, zip64: true,
  });
});

test('names must be 1..65535 bytes', () => {
  assert.throws(() => encodeLocalFileHeader(record({ name: '' })), /1\.\.65535/);
});
