import * as zlib from 'node:zlib';

// zlib.crc32 exists from Node 20.15 / 22.2; older Node 20 releases get the table version.
type Crc32 = (data: Uint8Array, value?: number) => number;
const native = (zlib as { crc32?: Crc32 }).crc32;

let table: Uint32Array | undefined;

function buildTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

function tableCrc32(data: Uint8Array, value = 0): number {
  table ??= buildTable();
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 (IEEE), chainable: crc32(b, crc32(a)) === crc32(a ++ b). */
export function crc32(data: ArrayBufferView, value = 0): number {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return native ? native(bytes, value) : tableCrc32(bytes, value);
}

/** Exposed for tests: the portable implementation must agree with zlib's. */
export const portableCrc32 = (data: Uint8Array, value = 0): number => tableCrc32(data, value);
