import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptDataError } from './errors.js';
import { decodeRawMeasures, decodeRawSplit, encodeRawMeasures, encodeRawSplit } from './raw.js';

test('raw split round-trips, including -0 and extreme magnitudes', () => {
  const positions = Uint32Array.of(0, 1, 7, 0xffffffff);
  const values = Float64Array.of(-0, 5e-324, Number.MAX_VALUE, -1.5);
  const b = encodeRawSplit(positions, values);
  assert.equal(b.byteLength, 5 + 4 * 12);
  const d = decodeRawSplit(b);
  assert.deepEqual(d.positions, positions);
  assert.ok(Object.is(d.values[0], -0));
  assert.deepEqual(d.values, values);
});

test('raw split decodes from an unaligned slice', () => {
  const b = encodeRawSplit(Uint32Array.of(3), Float64Array.of(2.5));
  const big = new Uint8Array(b.byteLength + 3);
  big.set(b, 3);
  assert.deepEqual(decodeRawSplit(big.subarray(3)).values, Float64Array.of(2.5));
});

test('raw measures round-trip, including int64 extremes and duplicates', () => {
  const ts = BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 5n, 5n, 0n);
  const values = Float64Array.of(1, 2, 3, 3, -0);
  const d = decodeRawMeasures(encodeRawMeasures(ts, values));
  assert.deepEqual(d.ts, ts);
  assert.deepEqual(d.values, values);
});

test('raw decoders reject truncated blobs', () => {
  const b = encodeRawSplit(Uint32Array.of(1, 2), Float64Array.of(1, 2));
  assert.throws(() => decodeRawSplit(b.subarray(0, b.length - 1)), CorruptDataError);
  const m = encodeRawMeasures(BigInt64Array.of(1n), Float64Array.of(1));
  assert.throws(() => decodeRawMeasures(m.subarray(0, 4)), CorruptDataError);
});
