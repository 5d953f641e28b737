// Scaled-decimal value column against XOR and IEEE coding of the same columns: the float
// sums and means of 60-point buckets of 3-decimal walks (what a 1-minute series of 1 s
// data stores): node packages/timeseries/dist/chunkenc/scaled-decimal.bench.js
import { BitReader, BitWriter } from './bitstream.js';
import { runBench } from './bench-util.js';
import { dense, randomWalk3, type Dataset } from './datasets.js';
import { IeeeDecoder, writeIeeeColumn } from './ieee.js';
import { XorDecoder, XorEncoder } from './xor.js';
import { encodeScaledDecimal, findScaledDecimal, readScaledDecimalHeader, ScaledDecimalDecoder, scaledDecimalHeader } from './scaled-decimal.js';

function buckets(kind: 'sum' | 'mean', seed: number, sigma: number): Dataset {
  const n = 3600;
  const w = randomWalk3(60 * n, seed, sigma);
  const values = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    let s = 0;
    for (let i = 0; i < 60; i++) s += w[60 * b + i];
    values[b] = kind === 'sum' ? s : s / 60;
  }
  return { name: `${kind} of 60 walk3 values, sd ${sigma / 1000}`, positions: dense(n), values };
}

const sets = [buckets('sum', 1, 500), buckets('mean', 1, 500), buckets('sum', 2, 50), buckets('mean', 2, 50)];

runBench('scaled decimal values only (scale and divisor search included in encode)', {
  encode: (ds) => {
    const sd = findScaledDecimal(ds.values);
    if (sd === null) throw new Error(`${ds.name}: no scaled decimal fits`);
    const h = scaledDecimalHeader(sd);
    const b = encodeScaledDecimal(ds.values, sd) as Uint8Array;
    const out = new Uint8Array(h.length + b.length);
    out.set(h);
    out.set(b, h.length);
    return out;
  },
  decode: (b, ds) => {
    const h = readScaledDecimalHeader(b, 0);
    const d = new ScaledDecimalDecoder(b, h.start, h);
    let s = 0;
    for (let i = 0; i < ds.values.length; i++) s += d.next();
    return s;
  },
}, sets);

runBench('XOR values only, same columns', {
  encode: (ds) => {
    const w = new BitWriter(ds.values.length * 8);
    new XorEncoder(w).putAll(ds.values);
    return w.bytes();
  },
  decode: (b, ds) => {
    const d = new XorDecoder(new BitReader(b));
    let s = 0;
    for (let i = 0; i < ds.values.length; i++) s += d.next();
    return s;
  },
}, sets);

runBench('IEEE fields values only, same columns', {
  encode: (ds) => {
    const w = new BitWriter(ds.values.length * 8);
    writeIeeeColumn(w, ds.values);
    return w.bytes();
  },
  decode: (b, ds) => {
    const d = new IeeeDecoder(new BitReader(b));
    let s = 0;
    for (let i = 0; i < ds.values.length; i++) s += d.next();
    return s;
  },
}, sets);
