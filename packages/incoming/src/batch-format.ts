// Binary layout of one batch file (all integers little-endian):
//
//   0  magic "TLYI"            4  u32 format version (1)
//   8  u32 entry count        12  u32 header length (multiple of 8, includes this block)
//  16  u32 CRC-32 of header bytes [24, header length)
//  20  u32 CRC-32 of every data byte after the header
//  24  entries: u32 count, u64 data offset, u16 id byte length, id (UTF-8); zero padding to 8
//  then, per entry at its offset: count BigInt64 timestamps, then count Float64 values.
//
// Raw arrays make writing a writev of the caller's own buffers (no copy) and reading a
// pair of typed-array views over the file buffer. Two CRCs let backlog() trust a header
// without reading the data, while readBatch() still verifies everything it hands out.
import { endianness } from 'node:os';
import { crc32 } from './crc32.js';
import type { Measures } from './types.js';

const MAGIC = 0x49594c54; // "TLYI" read as little-endian u32
const VERSION = 1;
export const FIXED_HEADER = 24;

if (endianness() !== 'LE') {
  // Raw arrays are written in host order; a big-endian host would need byte swapping.
  throw new Error('@tally/incoming supports little-endian hosts only');
}

/** A batch file whose bytes do not match its checksums or layout (torn write, bit rot). */
export class CorruptBatchError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`corrupt incoming batch ${file}: ${reason}`);
    this.name = 'CorruptBatchError';
  }
}

export interface BatchEntry {
  metricId: string;
  count: number;
  offset: number;
}

export interface EncodedBatch {
  buffers: ArrayBufferView[];
  byteLength: number;
}

/** Encodes metrics (each possibly in several parts, from merged callers) as file buffers. */
export function encodeBatch(metrics: Map<string, Measures[]>): EncodedBatch {
  const ids = [...metrics.keys()].map((id) => Buffer.from(id, 'utf8'));
  const entriesLen = ids.reduce((n, id) => n + 14 + id.length, 0);
  const headerLen = align8(FIXED_HEADER + entriesLen);
  const header = Buffer.alloc(headerLen);
  const data: ArrayBufferView[] = [];
  let offset = headerLen;
  let pos = FIXED_HEADER;
  let dataCrc = 0;
  let i = 0;
  for (const parts of metrics.values()) {
    const count = parts.reduce((n, p) => n + p.ts.length, 0);
    pos = writeEntry(header, pos, ids[i++], count, offset);
    offset += count * 16;
    for (const p of parts) data.push(p.ts);
    for (const p of parts) data.push(p.values);
  }
  for (const view of data) dataCrc = crc32(view, dataCrc);
  writeFixed(header, metrics.size, headerLen, dataCrc);
  return { buffers: [header, ...data], byteLength: offset };
}

function writeEntry(header: Buffer, pos: number, id: Buffer, count: number, offset: number): number {
  header.writeUInt32LE(count, pos);
  header.writeBigUInt64LE(BigInt(offset), pos + 4);
  header.writeUInt16LE(id.length, pos + 12);
  id.copy(header, pos + 14);
  return pos + 14 + id.length;
}

function writeFixed(header: Buffer, entries: number, headerLen: number, dataCrc: number): void {
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(VERSION, 4);
  header.writeUInt32LE(entries, 8);
  header.writeUInt32LE(headerLen, 12);
  header.writeUInt32LE(crc32(header.subarray(FIXED_HEADER)), 16);
  header.writeUInt32LE(dataCrc, 20);
}

/** Header length announced by the fixed block, so a reader knows how much to read. */
export function headerLength(fixed: Buffer, file: string): number {
  if (fixed.length < FIXED_HEADER || fixed.readUInt32LE(0) !== MAGIC) {
    throw new CorruptBatchError(file, 'bad magic or truncated header');
  }
  if (fixed.readUInt32LE(4) !== VERSION) throw new CorruptBatchError(file, 'unknown version');
  const len = fixed.readUInt32LE(12);
  if (len < FIXED_HEADER || len % 8 !== 0) throw new CorruptBatchError(file, 'bad header length');
  return len;
}

/**
 * Parses and verifies a complete header. `fileSize` is checked against the entries so a
 * truncated file is caught even when only the header was read.
 */
export function parseHeader(header: Buffer, fileSize: number, file: string): BatchEntry[] {
  const headerLen = headerLength(header, file);
  if (header.length < headerLen) throw new CorruptBatchError(file, 'truncated header');
  if (crc32(header.subarray(FIXED_HEADER, headerLen)) !== header.readUInt32LE(16)) {
    throw new CorruptBatchError(file, 'header checksum mismatch');
  }
  const entries = readEntries(header, headerLen, file);
  const expected = entries.reduce((n, e) => n + e.count * 16, headerLen);
  if (expected !== fileSize) {
    throw new CorruptBatchError(file, `size ${fileSize}, header says ${expected}`);
  }
  return entries;
}

function readEntries(header: Buffer, headerLen: number, file: string): BatchEntry[] {
  const n = header.readUInt32LE(8);
  const entries: BatchEntry[] = [];
  let pos = FIXED_HEADER;
  let expectedOffset = headerLen;
  for (let i = 0; i < n; i++) {
    if (pos + 14 > headerLen) throw new CorruptBatchError(file, 'entries overflow header');
    const count = header.readUInt32LE(pos);
    const offset = Number(header.readBigUInt64LE(pos + 4));
    const idLen = header.readUInt16LE(pos + 12);
    if (offset !== expectedOffset || pos + 14 + idLen > headerLen) {
      throw new CorruptBatchError(file, 'inconsistent entry');
    }
    const metricId = header.toString('utf8', pos + 14, pos + 14 + idLen);
    entries.push({ metricId, count, offset });
    pos += 14 + idLen;
    expectedOffset += count * 16;
  }
  return entries;
}

/** Decodes a whole file, verifying both checksums. Arrays are views over `bytes`. */
export function decodeBatch(bytes: Buffer, file: string): Map<string, Measures> {
  const data = alignedCopy(bytes);
  const entries = parseHeader(data, data.length, file);
  const headerLen = data.readUInt32LE(12);
  if (crc32(data.subarray(headerLen)) !== data.readUInt32LE(20)) {
    throw new CorruptBatchError(file, 'data checksum mismatch');
  }
  const out = new Map<string, Measures>();
  for (const e of entries) {
    if (out.has(e.metricId)) throw new CorruptBatchError(file, `duplicate metric ${e.metricId}`);
    const base = data.byteOffset + e.offset;
    out.set(e.metricId, {
      ts: new BigInt64Array(data.buffer, base, e.count),
      values: new Float64Array(data.buffer, base + e.count * 8, e.count),
    });
  }
  return out;
}

/** Typed-array views need 8-byte alignment; copy only in the rare case a buffer lacks it. */
function alignedCopy(bytes: Buffer): Buffer {
  if (bytes.byteOffset % 8 === 0) return bytes;
  const copy = Buffer.from(new ArrayBuffer(bytes.length));
  bytes.copy(copy);
  return copy;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
