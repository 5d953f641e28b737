import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter } from './bitstream.js';
import { IeeeDecoder, IeeeEncoder } from './ieee.js';
import { decodeMeasures, decodeSplit, encodeMeasures, encodeSplit, Encoding } from './index.js';

function roundTrip(values: Float64Array): Uint8Array {
  const w = new BitWriter();
  const e = new IeeeEncoder(w);
  for (const v of values) e.put(v);
  e.finishInto(w);
  const bytes = w.bytes();
  const d = new IeeeDecoder(new BitReader(bytes));
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = d.next();
  assert.deepEqual(new Uint8Array(out.buffer), new Uint8Array(values.buffer), 'bit-exact');
  return bytes;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

test('ieee codec: bit-exact on special, mixed-sign, subnormal and integral values', () => {
  roundTrip(new Float64Array([0, -0, 1, -1, Infinity, -Infinity, NaN, 5e-324, -5e-324, Number.MAX_VALUE, 2 ** -1074 * 3, 1e300, -1e-300]));
  roundTrip(new Float64Array([42, 42, 42]));
  roundTrip(new Float64Array([-3.5, -7.25, -1e10]));
  roundTrip(new Float64Array(Array.from({ length: 100 }, (_, i) => i * 1024)));
  roundTrip(new Float64Array(Array.from({ length: 100 }, (_, i) => Math.fround(i / 7))));
  roundTrip(new Float64Array(0));
  const r = lcg(7);
  roundTrip(new Float64Array(Array.from({ length: 1000 }, () => (r() - 0.5) * 10 ** Math.floor(r() * 600 - 300))));
});

test('ieee codec: uniform random doubles cost well under 64 bits', () => {
  const r = lcg(1);
  const values = new Float64Array(3600);
  for (let i = 0; i < values.length; i++) values[i] = (r() + r() / 4294967296) * 100;
  const bytes = roundTrip(values);
  assert.ok(bytes.length / values.length < 7, `${bytes.length / values.length} B per value`);
  const positions = Uint32Array.from(values, (_, i) => i);
  const split = encodeSplit(positions, values);
  assert.equal(split[0], Encoding.SplitIeee);
  assert.deepEqual(decodeSplit(split).values, values);
  const ts = BigInt64Array.from(values, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n);
  const m = encodeMeasures(ts, values);
  assert.equal(m[0], Encoding.MeasuresIeee);
  assert.deepEqual(decodeMeasures(m), { ts, values });
});
