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

/** The search as its contract states it: every pair in order, the first of least head cost. */
function referenceSearch(values: Float64Array): ScaledDecimal | null {
  const DIVISORS = [1, 60, 3600, 6, 10, 12, 30, 2, 3, 4, 5, 15, 20, 24, 120, 300, 360, 600, 720, 1440];
  const n = Math.min(values.length, 8);
  const f = new Float64Array(2);
  const u = new BigInt64Array(f.buffer);
  const bits = (x: number): number => (x === 0 ? 0 : Math.floor(Math.log2(x)) + 1);
  let best: ScaledDecimal | null = null;
  let bestCost = 44 * n + 1;
  for (const c of DIVISORS) {
    for (let s = 0; s <= 6; s++) {
      let cost = 0;
      let prev = 0;
      let ok = n > 0;
      for (let j = 0; j < n && ok; j++) {
        const v = values[j];
        if (!Number.isFinite(v) || Object.is(v, -0)) { ok = false; break; }
        const i = Math.round(v * c * 10 ** s) || 0;
        if (Math.abs(i) >= 2 ** 50) { ok = false; break; }
        const q = c === 1 ? i / 10 ** s : i / 10 ** s / c;
        f[0] = v;
        f[1] = q;
        if (Math.sign(v) * Math.sign(q) < 0 || (Object.is(q, -0) !== Object.is(v, -0) && q === 0)) { ok = false; break; }
        const r = Number(u[0] - u[1]);
        if (Math.abs(r) >= 2 ** 40 || (u[0] < 0n) !== (u[1] < 0n)) { ok = false; break; }
        if (j > 0) cost += bits(Math.abs(i - prev));
        cost += bits(Math.abs(r));
        prev = i;
      }
      if (ok && cost < bestCost) {
        bestCost = cost;
        best = { scale: s, divisor: c };
      }
    }
  }
  if (best === null) return null;
  return encodeScaledDecimal(values, best) === null ? null : best;
}

test('scaled decimal: the search returns the first pair of least cost over the head', () => {
  const columns: Float64Array[] = [];
  for (const per of [1, 2, 7, 60, 400, 3600]) {
    const w = randomWalk3(per * 9, per, 500);
    const sums = new Float64Array(9);
    const means = new Float64Array(9);
    const stds = new Float64Array(9);
    for (let b = 0; b < 9; b++) {
      let s = 0;
      for (let i = 0; i < per; i++) s += w[b * per + i];
      let d = 0;
      for (let i = 0; i < per; i++) d += (w[b * per + i] - s / per) ** 2;
      sums[b] = s;
      means[b] = s / per;
      stds[b] = Math.sqrt(d / Math.max(1, per - 1));
    }
    for (const col of [sums, means, stds]) for (const n of [1, 2, 7, 9]) columns.push(col.slice(0, n));
  }
  columns.push(Float64Array.of(1, NaN), Float64Array.of(-0), Float64Array.of(0.1 + 0.2, -1 / 3), Float64Array.from({ length: 9 }, (_, i) => Math.sin(i) * 1e5));
  for (const col of columns) assert.deepEqual(findScaledDecimal(col), referenceSearch(col), `column ${[...col].join(', ')}`);
});
