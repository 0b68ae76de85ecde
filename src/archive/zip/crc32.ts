import * as zlib from 'node:zlib';

/** CRC-32 (IEEE 802.3, as ZIP uses it), continuing from `previous` for streamed data. */
export type Crc32 = (data: Uint8Array, previous?: number) => number;

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let value = byte;
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
    table[byte] = value >>> 0;
  }
  return table;
}

export const tableCrc32: Crc32 = (data, previous = 0) => {
  let crc = ~previous >>> 0;
  for (let index = 0; index < data.length; index++) {
    crc = (TABLE[(crc ^ data[index]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  }
  return ~crc >>> 0;
};

// zlib.crc32 exists from Node 20.15 / 22.2 and is much faster; older Node 20 falls back.
const nativeCrc32 = (zlib as { crc32?: Crc32 }).crc32;

export const crc32: Crc32 = nativeCrc32 ?? tableCrc32;
