// Key columns alone: split positions and ns timestamps (regular 1 s, and with ms jitter).
// node packages/timeseries/dist/chunkenc/dod.bench.js
import { BitReader } from './bitstream.js';
import { runBench } from './bench-util.js';
import { datasets, rng } from './datasets.js';
import { PositionDecoder, PositionEncoder, TimestampDecoder, TimestampEncoder } from './dod.js';

const sets = datasets().filter((d) => d.name !== 'sine + float noise' && d.name !== 'counter (integer, jittery rate)');

runBench(
  'positions only (delta-of-delta)',
  {
    encode: (ds) => {
      const e = new PositionEncoder();
      for (let i = 0; i < ds.positions.length; i++) e.put(ds.positions[i]);
      return e.bytes();
    },
    decode: (b, ds) => {
      const d = new PositionDecoder(new BitReader(b));
      let s = 0;
      for (let i = 0; i < ds.positions.length; i++) s += d.next();
      return s;
    },
  },
  sets,
);

// Timestamps: 1 s apart at the dataset's positions, optionally with up to 1 ms of jitter.
function tsOf(positions: Uint32Array, jitter: boolean): BigInt64Array {
  const r = rng(99);
  const ts = new BigInt64Array(positions.length);
  for (let i = 0; i < ts.length; i++) {
    ts[i] = 1_700_000_000_000_000_000n + BigInt(positions[i]) * 1_000_000_000n + (jitter ? BigInt(Math.floor(r() * 1e6)) : 0n);
  }
  return ts;
}
for (const jitter of [false, true]) {
  const cache = new Map<Uint32Array, BigInt64Array>();
  const get = (p: Uint32Array) => {
    let t = cache.get(p);
    if (!t) cache.set(p, (t = tsOf(p, jitter)));
    return t;
  };
  runBench(
    `ns timestamps only${jitter ? ', up to 1 ms jitter' : ', exact 1 s'}`,
    {
      encode: (ds) => {
        const e = new TimestampEncoder();
        e.putAll(get(ds.positions));
        return e.bytes();
      },
      decode: (b, ds) => {
        const out = new BigInt64Array(ds.positions.length);
        new TimestampDecoder(new BitReader(b)).readInto(out, 0, out.length);
        return out.length;
      },
    },
    sets,
  );
}
