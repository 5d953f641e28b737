import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter } from './bitstream.js';
import { RiceDecoder, RiceEncoder } from './rice.js';
import { zigzag } from './varint.js';
import { gaussian, rng } from './datasets.js';

/** Encode (with -1 meaning the special marker), decode, compare; returns the byte size. */
function roundTrip(zs: number[]): number {
  const w = new BitWriter();
  const e = new RiceEncoder(w);
  for (const z of zs) {
    if (z < 0) e.putSpecial();
    else e.put(z);
  }
  const fin = w.clone();
  e.finishInto(fin);
  const b = fin.bytes();
  const r = new BitReader(b);
  const d = new RiceDecoder(r);
  for (let i = 0; i < zs.length; i++) assert.equal(d.get(), zs[i], `value ${i}`);
  assert.equal(r.overrun, false);
  return b.length;
}

test('empty, single and extreme values round-trip', () => {
  roundTrip([]);
  roundTrip([0]);
  roundTrip([2 ** 53 - 1]);
  roundTrip([2 ** 53 - 1, 0, 2 ** 53 - 1, 1, 2 ** 32, 2 ** 32 - 1, 2 ** 31]);
});

test('long zero runs cost a few bytes, also after a non-zero and at the end', () => {
  const zs = new Array<number>(100_000).fill(0);
  assert.ok(roundTrip(zs) <= 6);
  zs[50_000] = 7;
  zs[50_001] = 1;
  assert.ok(roundTrip(zs) <= 12);
});

test('special markers interleave with runs and ordinary values', () => {
  roundTrip([-1, 0, 0, 0, -1, 5, -1, 1000, 0, 0, -1, 0, 2 ** 50, -1]);
  roundTrip([0, 0, 0, 0, -1]);
});

test('scale changes are tracked: small, huge, small again', () => {
  const r = rng(3);
  const zs: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const scale = i < 1000 ? 4 : i < 2000 ? 2 ** 45 : 16;
    zs.push(Math.floor(r() * scale));
  }
  roundTrip(zs);
});

test('geometric-ish data costs close to its entropy', () => {
  // Discrete Gaussian with sigma 100: entropy ~ 8.69 bits per value.
  const g = gaussian(rng(5));
  const zs: number[] = [];
  for (let i = 0; i < 20_000; i++) zs.push(zigzag(Math.round(g() * 100)));
  const bits = (roundTrip(zs) * 8) / zs.length;
  assert.ok(bits < 8.69 * 1.06, `${bits} bits/value`);
});

test('a truncated stream is detected', () => {
  const w = new BitWriter();
  const e = new RiceEncoder(w);
  for (let i = 0; i < 100; i++) e.put(1000 + i);
  const b = w.bytes().subarray(0, 20);
  const r = new BitReader(b);
  const d = new RiceDecoder(r);
  let err = false;
  try {
    for (let i = 0; i < 100; i++) d.get();
  } catch {
    err = true;
  }
  assert.ok(err || r.overrun);
});
