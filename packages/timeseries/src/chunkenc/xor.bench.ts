// XOR value column alone (+ dense-run positions cost excluded): node packages/timeseries/dist/chunkenc/xor.bench.js
import { BitReader, BitWriter } from './bitstream.js';
import { runBench } from './bench-util.js';
import { XorDecoder, XorEncoder } from './xor.js';

runBench('XOR values only', {
  encode: (ds) => {
    const w = new BitWriter(ds.values.length * 4);
    const e = new XorEncoder(w);
    for (let i = 0; i < ds.values.length; i++) e.put(ds.values[i]);
    return w.bytes();
  },
  decode: (b, ds) => {
    const d = new XorDecoder(new BitReader(b));
    let s = 0;
    for (let i = 0; i < ds.values.length; i++) s += d.next();
    return s;
  },
});
