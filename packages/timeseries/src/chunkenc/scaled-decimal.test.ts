import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeScaledDecimal, findScaledDecimal, readScaledDecimalHeader, ScaledDecimalDecoder, scaledDecimalBytes, scaledDecimalHeader, type ScaledDecimal } from './scaled-decimal.js';
import { randomWalk3 } from './datasets.js';
import { assertSameBits } from './properties.js';

function roundTrip(values: Float64Array, sd: ScaledDecimal): number {
  const b = encodeScaledDecimal(values, sd)!.slice();
  const d = new ScaledDecimalDecoder(b, 0, sd);
  assertSameBits(Float64Array.from(values, () => d.next()), values);
  assert.equal(d.overrun, false);
  assert.equal(scaledDecimalBytes(values, sd), scaledDecimalHeader(sd).length + b.length);
  return b.length;
}

/** Per bucket of `per` points of a 3-decimal walk: the float sum and the float mean, as the engine computes them. */
function buckets(per: number, n: number): { sums: Float64Array; means: Float64Array } {
  const w = randomWalk3(per * n, 7, 500);
  const sums = new Float64Array(n);
  const means = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    let s = 0;
    for (let i = 0; i < per; i++) s += w[b * per + i];
    sums[b] = s;
    means[b] = s / per;
  }
  return { sums, means };
}

test('scaled decimal: sums and means of 3-decimal values cost about half what a double does', () => {
  const { sums, means } = buckets(60, 1000);
  // Several pairs fit (3 decimals and divisor 1, or 2 decimals and divisor 10, for sums).
  const sSum = findScaledDecimal(sums)!;
  const sMean = findScaledDecimal(means)!;
  for (const [values, sd] of [[sums, sSum], [means, sMean]] as const) {
    const bits = (8 * roundTrip(values, sd)) / values.length;
    assert.ok(bits < 32, `${bits.toFixed(1)} bits per value at ${JSON.stringify(sd)}`);
  }
});

test('scaled decimal: columns it cannot code give null', () => {
  assert.equal(encodeScaledDecimal(Float64Array.of(1, NaN), { scale: 3, divisor: 1 }), null);
  assert.equal(encodeScaledDecimal(Float64Array.of(-0), { scale: 0, divisor: 1 }), null);
  assert.equal(encodeScaledDecimal(Float64Array.of(1e300), { scale: 0, divisor: 1 }), null);
  // Far from any decimal at that scale: a residual of over 2^40 ulps.
  assert.equal(encodeScaledDecimal(Float64Array.of(Math.PI), { scale: 0, divisor: 1 }), null);
  assert.equal(findScaledDecimal(new Float64Array(0)), null);
  // Full-precision noise is too: no pair costs under 44 bits per value.
  assert.equal(findScaledDecimal(Float64Array.from({ length: 64 }, (_, i) => Math.sin(i) * 1e-7 + 1 / (i + 3))), null);
  assert.throws(() => encodeScaledDecimal(Float64Array.of(1), { scale: 3, divisor: 0 }), RangeError);
});

test('scaled decimal: extremes, signs and subnormals round-trip', () => {
  roundTrip(Float64Array.of(5e-324, 0, 1e-320, -3, 2 ** 49, -(2 ** 49)), { scale: 0, divisor: 1 });
  roundTrip(Float64Array.of(-2.5, 0.1 + 0.2), { scale: 1, divisor: 1 });
  // A negative value that rounds to the integer 0 would need q = -0: refused.
  assert.equal(encodeScaledDecimal(Float64Array.of(-5e-324), { scale: 0, divisor: 1 }), null);
  roundTrip(Float64Array.of(0.1 + 0.2, -(0.1 + 0.7), 1 / 3, -2 / 3), { scale: 1, divisor: 3 });
});

test('scaled decimal: the header round-trips and bad ones are CorruptDataError', () => {
  const h = scaledDecimalHeader({ scale: 4, divisor: 3600 });
  assert.deepEqual(readScaledDecimalHeader(Uint8Array.from([9, ...h]), 1), { scale: 4, divisor: 3600, start: 1 + h.length });
  assert.throws(() => readScaledDecimalHeader(Uint8Array.of(10, 1), 0), /bad scaled decimal header/);
  assert.throws(() => readScaledDecimalHeader(Uint8Array.of(3, 0), 0), /bad scaled decimal header/);
  assert.throws(() => readScaledDecimalHeader(Uint8Array.of(3), 1), /missing/);
});
