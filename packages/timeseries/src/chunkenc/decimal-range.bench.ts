// Decimal value column, range coded, against the Rice decimal codec on the same columns:
// node packages/timeseries/dist/chunkenc/decimal-range.bench.js
// Datasets that are not short decimals (sine + float noise) are skipped.
import { BitReader, BitWriter } from './bitstream.js';
import { runBench } from './bench-util.js';
import { datasets } from './datasets.js';
import { DecimalDecoder, DecimalEncoder, findScale } from './decimal.js';
import { DecimalRangeDecoder, encodeDecimalRange } from './decimal-range.js';

const decimalSets = datasets().filter((ds) => findScale(ds.values) >= 0);

for (const order of [1, 2] as const) {
  runBench(
    `decimal values only, Rice, order ${order} (scale search included in encode)`,
    {
      encode: (ds) => {
        const s = findScale(ds.values);
        const w = new BitWriter(ds.values.length * 2);
        const e = new DecimalEncoder(w, s, order);
        e.putAll(ds.values);
        e.finishInto(w);
        const b = w.bytes();
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
    decimalSets,
  );
  runBench(
    `decimal values only, range coded, order ${order} (scale search included in encode)`,
    {
      encode: (ds) => {
        const s = findScale(ds.values);
        const b = encodeDecimalRange(ds.values, s, order) as Uint8Array;
        const out = new Uint8Array(b.length + 1);
        out[0] = s;
        out.set(b, 1);
        return out;
      },
      decode: (b, ds) => {
        // readInto, as decodeSplit decodes this codec's columns.
        const d = new DecimalRangeDecoder(b, 1, b[0], order);
        const out = new Float64Array(ds.values.length);
        d.readInto(out, 0, out.length);
        return out[out.length - 1];
      },
    },
    decimalSets,
  );
}
