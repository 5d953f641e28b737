import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decimalColumnBits } from './decimal.js';
import { decimalRangeBytes, DecimalRangeDecoder, encodeDecimalRange } from './decimal-range.js';
import { randomWalk3 } from './datasets.js';
import { assertSameBits } from './properties.js';

function roundTrip(values: Float64Array, scale: number, order: 1 | 2): Uint8Array {
  const b = encodeDecimalRange(values, scale, order)!.slice();
  const d = new DecimalRangeDecoder(b, 0, scale, order);
  assertSameBits(Float64Array.from(values, () => d.next()), values);
  assert.equal(d.r.overrun, false);
  return b;
}

/** Entropy in bits of round(N(0, sigma)) (sigma >> 1): log2(sigma * sqrt(2 pi e)). */
const gaussianBits = (sigma: number) => Math.log2(sigma * Math.sqrt(2 * Math.PI * Math.E));

test('decimal range: a 3-decimal Gaussian walk costs within 0.08 bit of its entropy and less than Rice', () => {
  for (const sigma of [10, 100, 500]) {
    let bytes = 0;
    let rice = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const v = randomWalk3(3600, seed, sigma);
      bytes += roundTrip(v, 3, 1).length;
      rice += Math.ceil(decimalColumnBits(v, 3)[0] / 8);
    }
    const bits = (8 * bytes) / (8 * 3600);
    assert.ok(bits < gaussianBits(sigma) + 0.08, `sigma ${sigma}: ${bits.toFixed(3)} bits/point, entropy ${gaussianBits(sigma).toFixed(3)}`);
    assert.ok(bytes < rice, `sigma ${sigma}: ${bytes} bytes, Rice ${rice}`);
  }
});

test('decimal range: the estimate is within a few bytes of the coded size, for both orders', () => {
  for (const n of [1, 17, 60, 1000, 3600]) {
    const v = randomWalk3(n, n);
    const [e1, e2] = decimalRangeBytes(v, 3);
    assert.ok(Math.abs(e1 - roundTrip(v, 3, 1).length) <= 3, `n ${n} order 1`);
    assert.ok(Math.abs(e2 - roundTrip(v, 3, 2).length) <= 3, `n ${n} order 2`);
  }
});

test('decimal range: start-up values, extremes, signs and a counter with order 2', () => {
  roundTrip(new Float64Array(0), 0, 1);
  roundTrip(Float64Array.of(0), 0, 1);
  roundTrip(Float64Array.of(2 ** 50 - 1, -(2 ** 50 - 1), 0, 2 ** 50 - 1), 0, 1);
  roundTrip(Float64Array.of(2 ** 50 - 1, -(2 ** 50 - 1), 0, 2 ** 50 - 1), 0, 2);
  roundTrip(Float64Array.of(-0.001, 0.001, 123456.789, -5), 3, 2);
  const counter = Float64Array.from({ length: 3600 }, (_, i) => 1e9 + 1000 * i + (i % 7));
  const c2 = roundTrip(counter, 0, 2);
  assert.ok(c2.length < roundTrip(counter, 0, 1).length);
});

test('decimal range: a value not exact at the scale gives null, not a lossy column', () => {
  assert.equal(encodeDecimalRange(Float64Array.of(1.5, 0.1234), 3, 1), null);
  assert.equal(encodeDecimalRange(Float64Array.of(-0), 0, 1), null);
  assert.throws(() => encodeDecimalRange(Float64Array.of(1), 10, 1), RangeError);
});
