import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter } from './bitstream.js';
import { XorDecoder, XorEncoder } from './xor.js';
import { rng } from './datasets.js';

function bitsOf(v: number): bigint {
  return new BigUint64Array(Float64Array.of(v).buffer)[0];
}

function roundTrip(vs: ArrayLike<number>): number {
  const w = new BitWriter();
  const e = new XorEncoder(w);
  for (let i = 0; i < vs.length; i++) e.put(vs[i]);
  const b = w.bytes();
  const r = new BitReader(b);
  const d = new XorDecoder(r);
  for (let i = 0; i < vs.length; i++) assert.equal(bitsOf(d.next()), bitsOf(vs[i]), `value ${i}: ${vs[i]}`);
  assert.equal(r.overrun, false);
  return b.length;
}

test('adversarial floats round-trip bit for bit', () => {
  roundTrip([]);
  roundTrip([0]);
  roundTrip([-0]);
  roundTrip([0, -0, 0, -0]);
  roundTrip([5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MAX_VALUE]);
  roundTrip([1, 1 + Number.EPSILON, 1, -1, 1e300, 1e-300, 0.1, 0.2, 0.30000000000000004]);
  roundTrip([Infinity, -Infinity, NaN, 1]);
});

test('random bit patterns (every field width and window) round-trip', () => {
  const r = rng(4);
  const u = new Uint32Array(2 * 20_000);
  for (let i = 0; i < u.length; i++) {
    // Mix full-random words with sparse ones so that all leading/trailing counts occur.
    const m = r();
    u[i] = m < 0.3 ? 0 : m < 0.6 ? (Math.floor(r() * 2 ** 32) >>> Math.floor(r() * 32)) << Math.floor(r() * 32) : Math.floor(r() * 2 ** 32);
  }
  roundTrip(new Float64Array(u.buffer));
});

test('constant series cost one bit per repeated value', () => {
  const vs = new Float64Array(8000).fill(3.14159);
  assert.ok(roundTrip(vs) <= 8000 / 8 + 12);
});

test('slowly varying floats compress below raw', () => {
  const vs = new Float64Array(3600);
  for (let i = 0; i < vs.length; i++) vs[i] = 20 + Math.sin(i / 100);
  assert.ok(roundTrip(vs) < 3600 * 8);
});
