// Decimal value column alone: node packages/timeseries/dist/chunkenc/decimal.bench.js
// Datasets that are not short decimals (sine + float noise) are skipped.
import { BitReader, BitWriter } from './bitstream.js';
import { runBench } from './bench-util.js';
import { datasets } from './datasets.js';
import { DecimalDecoder, DecimalEncoder, findScale } from './decimal.js';

for (const order of [1, 2] as const) {
  runBench(
    `decimal values only, order ${order} (scale search included in encode)`,
    {
      encode: (ds) => {
        const s = findScale(ds.values);
        const w = new BitWriter(ds.values.length * 2);
        const e = new DecimalEncoder(w, s, order);
        for (let i = 0; i < ds.values.length; i++) e.put(ds.values[i]);
        const fin = w.clone();
        e.finishInto(fin);
        const b = fin.bytes();
        const out = new Uint8Array(b.length + 1);
        out[0] = s;
        out.set(b, 1);
        return out;
      },
      decode: (b, ds) => {
        const d = new DecimalDecoder(new BitReader(b, 1), b[0], order);
        let s = 0;
        for (let i = 0; i < ds.values.length; i++) s += d.next();
        return s;
      },
    },
    datasets().filter((ds) => findScale(ds.values) >= 0),
  );
}
