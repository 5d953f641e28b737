// Binary layout of one batch file (all integers little-endian):
//
//   0  magic "TLYI"            4  u32 format version (2; 1 is still read)
//   8  u32 entry count        12  u32 header length (multiple of 8, includes this block)
//  16  u32 CRC-32 of header bytes [24, header length)
//  20  version 1: u32 CRC-32 of every data byte after the header; version 2: 0
//  24  entries: u32 count, u64 data offset, u16 id byte length, then in version 2 only
//      u16 sack and u32 CRC-32 of the entry's data; then the id (UTF-8); zero padding to 8
//  then, per entry at its offset: count BigInt64 timestamps, then count Float64 values.
//
// Version 2: one file holds the measures of one group commit for every sack it touches and
// is hard-linked into each of those sack folders (see FileIncomingStore). Entries are sorted
// by sack and carry their sack and their own checksum, so a sack's reader reads the header
// and then only its own contiguous range, and verifies only what it hands out.
// Version 1 files (one sack each, written before) are still read whole.
//
// Raw arrays make writing a writev of the caller's own buffers (no copy) and reading a
// pair of typed-array views over the file buffer. Two CRCs let backlog() trust a header
// without reading the data, while readBatch() still verifies everything it hands out.
import { endianness } from 'node:os';
import { crc32 } from 'node:zlib';
import type { Measures } from './types.js';

const MAGIC = 0x49594c54; // "TLYI" read as little-endian u32
const VERSION = 2;
const ENTRY_FIXED = [0, 14, 20] as const; // bytes of an entry before its id, by version
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
  /** The sack written with the entry; -1 in version 1 files. */
  sack: number;
  /** CRC-32 of the entry's data; null in version 1 files (one CRC covers all data). */
  crc: number | null;
}

export interface EncodedBatch {
  buffers: ArrayBufferView[];
  byteLength: number;
}

/** Bytes of data the measures take in a batch; throws TypeError on malformed input. */
export function validateMeasures(measures: Map<string, Measures>): number {
  let bytes = 0;
  for (const [id, m] of measures) {
    if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id) > 0xffff) {
      throw new TypeError(`invalid metric id ${JSON.stringify(id)}`);
    }
    if (!(m.ts instanceof BigInt64Array) || !(m.values instanceof Float64Array) || m.ts.length !== m.values.length) {
      throw new TypeError(`measures of ${id}: ts and values must be BigInt64Array/Float64Array of equal length`);
    }
    bytes += m.ts.length * 16;
  }
  return bytes;
}

/**
 * Encodes metrics (each possibly in several parts, from merged callers) as file buffers;
 * `sackOf` gives the sack written beside each entry.
 */
export function encodeBatch(metrics: Map<string, Measures[]>, sackOf: (metricId: string) => number): EncodedBatch {
  const items = [...metrics].map(([id, parts]) => ({ id: Buffer.from(id, 'utf8'), sack: sackOf(id), parts }));
  items.sort((a, b) => a.sack - b.sack);
  const entriesLen = items.reduce((n, it) => n + ENTRY_FIXED[VERSION] + it.id.length, 0);
  const headerLen = align8(FIXED_HEADER + entriesLen);
  const header = Buffer.alloc(headerLen);
  const data: ArrayBufferView[] = [];
  let offset = headerLen;
  let pos = FIXED_HEADER;
  for (const { id, sack, parts } of items) {
    const count = parts.reduce((n, p) => n + p.ts.length, 0);
    let crc = 0;
    for (const p of parts) crc = crc32(p.ts, crc);
    for (const p of parts) crc = crc32(p.values, crc);
    pos = writeEntry(header, pos, { id, sack, count, offset, crc });
    offset += count * 16;
    for (const p of parts) data.push(p.ts);
    for (const p of parts) data.push(p.values);
  }
  writeFixed(header, items.length, headerLen);
  return { buffers: [header, ...data], byteLength: offset };
}

function writeEntry(header: Buffer, pos: number, e: { id: Buffer; sack: number; count: number; offset: number; crc: number }): number {
  header.writeUInt32LE(e.count, pos);
  header.writeBigUInt64LE(BigInt(e.offset), pos + 4);
  header.writeUInt16LE(e.id.length, pos + 12);
  header.writeUInt16LE(e.sack, pos + 14);
  header.writeUInt32LE(e.crc, pos + 16);
  e.id.copy(header, pos + 20);
  return pos + 20 + e.id.length;
}

function writeFixed(header: Buffer, entries: number, headerLen: number): void {
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(VERSION, 4);
  header.writeUInt32LE(entries, 8);
  header.writeUInt32LE(headerLen, 12);
  header.writeUInt32LE(crc32(header.subarray(FIXED_HEADER)), 16);
  header.writeUInt32LE(0, 20);
}

/**
 * Header length announced by the fixed block, so a reader knows how much to read. Given the
 * file's size, a length past it is rejected before anyone allocates a buffer for it.
 */
export function headerLength(fixed: Buffer, file: string, fileSize?: number): number {
  if (fixed.length < FIXED_HEADER || fixed.readUInt32LE(0) !== MAGIC) {
    throw new CorruptBatchError(file, 'bad magic or truncated header');
  }
  const version = fixed.readUInt32LE(4);
  if (version !== 1 && version !== 2) throw new CorruptBatchError(file, 'unknown version');
  const len = fixed.readUInt32LE(12);
  if (len < FIXED_HEADER || len % 8 !== 0) throw new CorruptBatchError(file, 'bad header length');
  if (fileSize !== undefined && len > fileSize) throw new CorruptBatchError(file, `header length ${len} past the end of the file`);
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
  const fixed = ENTRY_FIXED[header.readUInt32LE(4) === 1 ? 1 : 2];
  const entries: BatchEntry[] = [];
  let pos = FIXED_HEADER;
  let expectedOffset = headerLen;
  for (let i = 0; i < n; i++) {
    if (pos + fixed > headerLen) throw new CorruptBatchError(file, 'entries overflow header');
    const count = header.readUInt32LE(pos);
    const offset = Number(header.readBigUInt64LE(pos + 4));
    const idLen = header.readUInt16LE(pos + 12);
    const sack = fixed === 20 ? header.readUInt16LE(pos + 14) : -1;
    const crc = fixed === 20 ? header.readUInt32LE(pos + 16) : null;
    if (offset !== expectedOffset || pos + fixed + idLen > headerLen) {
      throw new CorruptBatchError(file, 'inconsistent entry');
    }
    const metricId = header.toString('utf8', pos + fixed, pos + fixed + idLen);
    entries.push({ metricId, count, offset, sack, crc });
    pos += fixed + idLen;
    expectedOffset += count * 16;
  }
  return entries;
}

/**
 * Decodes a whole file, verifying its checksums, and returns the entries `keep` accepts
 * (all by default). Arrays are views over `bytes`.
 */
export function decodeBatch(bytes: Buffer, file: string, keep: (e: BatchEntry) => boolean = () => true): Map<string, Measures> {
  const data = alignedCopy(bytes);
  const entries = parseHeader(data, data.length, file);
  if (data.readUInt32LE(4) === 1 && crc32(data.subarray(data.readUInt32LE(12))) !== data.readUInt32LE(20)) {
    throw new CorruptBatchError(file, 'data checksum mismatch');
  }
  return entryViews(data, 0, entries.filter(keep), file);
}

/**
 * Views over the data of `entries`, read into `data` starting at file offset `start` (an
 * 8-aligned one; `data` is copied if its own bytes are not); verifies each entry's own
 * checksum (version 2).
 */
export function entryViews(bytes: Buffer, start: number, entries: readonly BatchEntry[], file: string): Map<string, Measures> {
  const data = alignedCopy(bytes);
  const out = new Map<string, Measures>();
  for (const e of entries) {
    if (out.has(e.metricId)) throw new CorruptBatchError(file, `duplicate metric ${e.metricId}`);
    const at = e.offset - start;
    if (e.crc !== null && crc32(data.subarray(at, at + e.count * 16)) !== e.crc) {
      throw new CorruptBatchError(file, `data checksum mismatch (metric ${e.metricId})`);
    }
    const base = data.byteOffset + at;
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

/** One metric's measures as a batch of their own, the form a parked entry keeps (validated first). */
export function encodeParked(metricId: string, measures: Measures, sack: number): EncodedBatch {
  validateMeasures(new Map([[metricId, measures]]));
  return encodeBatch(new Map([[metricId, [measures]]]), () => sack);
}

/** The measures a parked entry keeps; CorruptBatchError when they fail their checks or are not `metricId`'s. */
export function decodeParked(bytes: Buffer, label: string, metricId: string): Measures {
  const got = decodeBatch(bytes, label).get(metricId);
  if (got === undefined) throw new CorruptBatchError(label, `no entry for metric ${metricId}`);
  return got;
}
