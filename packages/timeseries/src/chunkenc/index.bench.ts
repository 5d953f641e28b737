// Full split codec (positions + best value codec): node packages/timeseries/dist/chunkenc/index.bench.js
import { runBench } from './bench-util.js';
import { decodeSplit, encodeSplit } from './index.js';

runBench('encodeSplit / decodeSplit', {
  encode: (ds) => encodeSplit(ds.positions, ds.values),
  decode: (b) => decodeSplit(b).values.length,
});
