import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { CorruptBatchError, decodeBatch, encodeBatch, entryViews, FIXED_HEADER, headerLength, parseHeader, type BatchEntry } from './batch-format.js';
import type { Measures } from './types.js';

/** Any int64 timestamps and any double bit patterns (NaN payloads included): the format stores raw words. */
const part: fc.Arbitrary<Measures> = fc.uint8Array({ maxLength: 40 * 16 }).map((b) => {
  const n = Math.floor(b.length / 16);
  const words = new Uint8Array(n * 16);
  words.set(b.subarray(0, n * 16));
  return { ts: new BigInt64Array(words.buffer, 0, n), values: new Float64Array(words.buffer, n * 8, n) };
});
const metricId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const batch = fc.uniqueArray(fc.tuple(metricId, fc.array(part, { minLength: 1, maxLength: 3 }), fc.nat({ max: 0xffff })), { maxLength: 12, selector: ([id]) => id });

function fileOf(parts: ArrayBufferView[]): Buffer {
  return Buffer.concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));
}

function concatParts(parts: Measures[]): { ts: Uint8Array; values: Uint8Array } {
  const bytes = (a: ArrayBufferView): number[] => [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];
  return { ts: Uint8Array.from(parts.flatMap((p) => bytes(p.ts))), values: Uint8Array.from(parts.flatMap((p) => bytes(p.values))) };
}

function sameMeasures(actual: Measures, parts: Measures[]): void {
  const want = concatParts(parts);
  assert.deepEqual(new Uint8Array(actual.ts.buffer, actual.ts.byteOffset, actual.ts.byteLength), want.ts);
  assert.deepEqual(new Uint8Array(actual.values.buffer, actual.values.byteOffset, actual.values.byteLength), want.values);
}

test('batches: any metrics, parts, int64 timestamps and double bit patterns round-trip, whole and per sack', () => {
  fc.assert(
    fc.property(batch, (items) => {
      const sacks = new Map(items.map(([id, , sack]) => [id, sack]));
      const enc = encodeBatch(new Map(items.map(([id, parts]) => [id, parts])), (id) => sacks.get(id) ?? 0);
      const file = fileOf(enc.buffers);
      assert.equal(file.length, enc.byteLength);
      const whole = decodeBatch(file, 'f');
      assert.equal(whole.size, items.length);
      for (const [id, parts] of items) sameMeasures(whole.get(id)!, parts);
      // A sack's reader: the header, then only its own contiguous range (as FileIncomingStore reads it).
      const entries = parseHeader(file.subarray(0, headerLength(file, 'f', file.length)), file.length, 'f');
      for (const sack of new Set(sacks.values())) {
        const mine = entries.filter((e) => e.sack === sack);
        const start = mine[0].offset;
        const end = mine[mine.length - 1].offset + mine[mine.length - 1].count * 16;
        const data = Buffer.from(new ArrayBuffer(end - start));
        file.copy(data, 0, start, end);
        const got = entryViews(data, start, mine, 'f');
        for (const e of mine) sameMeasures(got.get(e.metricId)!, items.find(([id]) => id === e.metricId)![1]);
      }
    }),
    { numRuns: 200 },
  );
});

/** Recomputes the header CRC, so the layout checks behind it are what gets tested. */
function resealed(file: Buffer): Buffer {
  if (file.length >= FIXED_HEADER) {
    const len = file.readUInt32LE(12);
    if (len >= FIXED_HEADER && len <= file.length) file.writeUInt32LE(crc32(file.subarray(FIXED_HEADER, len)), 16);
  }
  return file;
}

function readsOrRejects(file: Buffer): void {
  try {
    decodeBatch(file, 'f');
  } catch (err) {
    if (!(err instanceof CorruptBatchError)) throw err;
  }
  let entries: BatchEntry[] | null = null;
  try {
    entries = parseHeader(file.subarray(0, headerLength(file, 'f', file.length)), file.length, 'f');
  } catch (err) {
    if (!(err instanceof CorruptBatchError)) throw err;
  }
  // Whatever a header that passed its checks says must be readable within the file.
  for (const e of entries ?? []) assert.ok(e.offset + e.count * 16 <= file.length);
}

test('batches: arbitrary and mutated files (header CRC made right) decode or throw CorruptBatchError', () => {
  const m = (n: number): Measures => ({ ts: BigInt64Array.from({ length: n }, (_, i) => BigInt(i) - 3n), values: Float64Array.from({ length: n }, (_, i) => i / 3) });
  const valid = fileOf(encodeBatch(new Map([['a', [m(3)]], ['metric-b', [m(2), m(1)]], ['c', [m(0)]]]), (id) => id.length).buffers);
  const mutation = fc.oneof(
    fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
      const b = Buffer.from(valid);
      b[at] ^= x;
      return b;
    }),
    fc.tuple(fc.nat({ max: 80 }), fc.constantFrom(0xffffffff, 0x80000000, 0x7ffffff8, 2 ** 31 - 8, 1 << 20)).map(([at, v]) => {
      const b = Buffer.from(valid);
      b.writeUInt32LE(v, Math.min(at, valid.length - 4) & ~3);
      return b;
    }),
    fc.nat({ max: valid.length }).map((k) => Buffer.from(valid.subarray(0, k))),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((x) => Buffer.concat([valid, x])),
  );
  const random = fc.uint8Array({ maxLength: 120 }).map((b) => {
    const f = Buffer.alloc(Math.max(FIXED_HEADER, b.length));
    f.set(b);
    f.writeUInt32LE(0x49594c54, 0);
    f.writeUInt32LE(1 + (b[0] ?? 0) % 2, 4);
    return f;
  });
  fc.assert(
    fc.property(fc.oneof(mutation, random), (f) => readsOrRejects(resealed(f))),
    { numRuns: 500 },
  );
});

test('a header length past the end of the file is rejected before the header is read (no 4 GiB buffer)', () => {
  const file = fileOf(encodeBatch(new Map([['m', [{ ts: BigInt64Array.of(1n), values: Float64Array.of(2) }]]]), () => 0).buffers);
  for (const claimed of [2 ** 31, 2 ** 32 - 8, file.length + 8]) {
    const f = Buffer.from(file);
    f.writeUInt32LE(claimed, 12);
    assert.throws(() => headerLength(f, 'f', f.length), CorruptBatchError);
  }
  assert.equal(headerLength(file, 'f', file.length), file.readUInt32LE(12));
});

test('header counts of 2^31 or 2^32 - 1 entries or points are CorruptBatchError', () => {
  const file = fileOf(encodeBatch(new Map([['m', [{ ts: BigInt64Array.of(1n), values: Float64Array.of(2) }]]]), () => 0).buffers);
  for (const [at, v] of [[8, 2 ** 31], [8, 2 ** 32 - 1], [FIXED_HEADER, 2 ** 31], [FIXED_HEADER, 2 ** 32 - 1]]) {
    const f = Buffer.from(file);
    f.writeUInt32LE(v, at);
    assert.throws(() => decodeBatch(resealed(f), 'f'), CorruptBatchError);
  }
});
