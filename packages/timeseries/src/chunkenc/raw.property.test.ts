import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Encoding } from './encoding.js';
import { decodeRawMeasures, decodeRawSplit, encodeRawMeasures, encodeRawSplit } from './raw.js';
import { assertSameBits, decodesOrRejects, doubleColumn, mutated, timestampColumn } from './properties.js';

test('raw: any measures and splits round-trip bit for bit, also from unaligned slices', () => {
  fc.assert(
    fc.property(timestampColumn(100), doubleColumn(100), fc.integer({ min: 0, max: 7 }), (ts0, values0, pad) => {
      const n = Math.min(ts0.length, values0.length);
      const ts = ts0.subarray(0, n);
      const values = values0.subarray(0, n);
      const m = encodeRawMeasures(ts, values);
      const shifted = new Uint8Array(pad + m.length);
      shifted.set(m, pad);
      const dm = decodeRawMeasures(shifted.subarray(pad));
      assert.deepEqual(dm.ts, ts);
      assertSameBits(dm.values, values);
      const positions = Uint32Array.from(ts, (t) => Number(BigInt.asUintN(32, t)));
      const ds = decodeRawSplit(encodeRawSplit(positions, values));
      assert.deepEqual(ds.positions, positions);
      assertSameBits(ds.values, values);
    }),
    { numRuns: 200 },
  );
});

test('raw: arbitrary and mutated blobs decode or throw CorruptDataError', () => {
  const valid = encodeRawMeasures(BigInt64Array.of(1n, -2n, 3n), Float64Array.of(1, NaN, -0));
  const validSplit = encodeRawSplit(Uint32Array.of(0, 1, 7), Float64Array.of(1, NaN, -0));
  const blobs = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.of(Encoding.RawMeasures, ...b)),
    fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.of(Encoding.RawSplit, ...b)),
    mutated(valid),
    mutated(validSplit),
  );
  fc.assert(
    fc.property(blobs, (b) => {
      decodesOrRejects(() => decodeRawMeasures(b));
      decodesOrRejects(() => decodeRawSplit(b));
    }),
    { numRuns: 300 },
  );
});
