import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter } from './bitstream.js';
import { DecimalDecoder, DecimalEncoder, findScale, MAX_SCALE, type DecimalOrder } from './decimal.js';
import { randomWalk3 } from './datasets.js';

function bitsOf(v: number): bigint {
  return new BigUint64Array(Float64Array.of(v).buffer)[0];
}

function roundTrip(vs: Float64Array, order: DecimalOrder): number {
  const s = findScale(vs);
  assert.ok(s >= 0);
  const w = new BitWriter();
  const e = new DecimalEncoder(w, s, order);
  for (const v of vs) e.put(v);
  const fin = w.clone();
  e.finishInto(fin);
  const b = fin.bytes();
  const r = new BitReader(b);
  const d = new DecimalDecoder(r, s, order);
  for (let i = 0; i < vs.length; i++) assert.equal(bitsOf(d.next()), bitsOf(vs[i]), `value ${i}: ${vs[i]}`);
  assert.equal(r.overrun, false);
  return b.length;
}

test('findScale picks the smallest exact power of ten', () => {
  assert.equal(findScale(Float64Array.of()), 0);
  assert.equal(findScale(Float64Array.of(1, 2, -3e12)), 0);
  assert.equal(findScale(Float64Array.of(1.5, 2)), 1);
  assert.equal(findScale(Float64Array.of(0.001, 2.5, -7.25)), 3);
  assert.equal(findScale(Float64Array.of(0.1, 0.2, 0.3)), 1);
  assert.equal(findScale(Float64Array.of(123456.789012)), 6);
  assert.equal(findScale(Float64Array.of(1e-9)), 9);
});

test('findScale rejects what would not round-trip', () => {
  assert.equal(findScale(Float64Array.of(0.1 + 0.2)), -1); // 0.30000000000000004
  assert.equal(findScale(Float64Array.of(1, -0)), -1); // -0 would decode as +0
  assert.equal(findScale(Float64Array.of(Math.PI)), -1);
  assert.equal(findScale(Float64Array.of(1e-10)), -1);
  assert.equal(findScale(Float64Array.of(5e-324)), -1);
  assert.equal(findScale(Float64Array.of(2 ** 60)), -1); // beyond the exact integer budget
  assert.equal(findScale(Float64Array.of(Infinity)), -1);
  assert.equal(findScale(Float64Array.of(NaN)), -1);
  assert.ok(MAX_SCALE >= 6);
});

test('decimals round-trip bit for bit at both orders', () => {
  const cases = [
    Float64Array.of(0),
    Float64Array.of(1.234, -5.678, 0, 1e6, -1e6, 0.001, 999999.999),
    Float64Array.of(2 ** 49, -(2 ** 49), 2 ** 49, 0, -(2 ** 49)), // extreme second differences
    randomWalk3(5000, 3),
    Float64Array.from({ length: 2000 }, (_, i) => Math.round(i * 1.1 * 1000) / 1000),
  ];
  for (const c of cases) {
    roundTrip(c, 1);
    roundTrip(c, 2);
  }
});

test('a 3-decimal random walk costs about its entropy, a linear counter almost nothing', () => {
  const rw = randomWalk3(3600, 1);
  assert.ok(roundTrip(rw, 1) / 3600 < 1.15);
  const lin = Float64Array.from({ length: 3600 }, (_, i) => 1000 + i * 5);
  assert.ok(roundTrip(lin, 2) <= 16);
});

test('put rejects a value that is not exact at the scale', () => {
  const e = new DecimalEncoder(new BitWriter(), 2, 1);
  e.put(1.25);
  assert.throws(() => e.put(1.255), RangeError);
  assert.throws(() => new DecimalEncoder(new BitWriter(), MAX_SCALE + 1, 1), RangeError);
});
