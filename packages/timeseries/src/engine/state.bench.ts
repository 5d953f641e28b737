// The state's buffer coding: node packages/timeseries/dist/engine/state.bench.js
// Folds of `batch` points (a 3-decimal walk at 1 s) into a buffer holding the current hour,
// as under a policy with 1 h buckets: encodeState with the buffer's chunks carried from
// fold to fold (what processMeasures does) against the buffer coded whole on every fold
// (what a state without chunks costs). Prints microseconds per fold and state bytes per
// buffered point at the end of the hour.
import type { Series } from '../aggregate.js';
import { extend, slice } from './series.js';
import { encodeState, nextChunks, type BufferChunk } from './state.js';

const S = 1_000_000_000n;
const HOUR = 3600;

function walk(n: number): Series {
  let x = 12_345;
  let v = 100;
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    v = Math.round((v + x / 2_147_483_648 - 0.5) * 1000) / 1000;
    ts[i] = BigInt(1_704_067_200 + i) * S;
    values[i] = v;
  }
  return { ts, values };
}

const points = walk(4 * HOUR);
const splits = new Map([['mean_3600000000000', new Set([0n])]]);

/** One pass over the points in folds of `batch`; returns µs per fold and bytes per point of the last state. */
function run(batch: number, chunked: boolean): { us: number; bytesPerPoint: number } {
  let buffer: Series = slice(points, 0, 0);
  let chunks: BufferChunk[] = [];
  let last = 0;
  let folds = 0;
  const t0 = performance.now();
  for (let i = 0; i < points.ts.length; i += batch) {
    const grown = extend(buffer, slice(points, i, Math.min(points.ts.length, i + batch)));
    const lastS = Number(grown.ts[grown.ts.length - 1] / S);
    const keepFrom = BigInt(lastS - (lastS % HOUR)) * S;
    let dropped = 0;
    while (grown.ts[dropped] < keepFrom) dropped++;
    const next = slice(grown, dropped);
    chunks = chunked ? nextChunks(chunks, buffer.ts.length, next, dropped) : [];
    const state = { buffer: next, splits, chunks: chunked ? chunks : undefined };
    last = encodeState(state).length / next.ts.length;
    buffer = next;
    folds++;
  }
  return { us: ((performance.now() - t0) * 1000) / folds, bytesPerPoint: last };
}

for (const batch of [10, 400, 1000]) {
  for (const chunked of [true, false]) run(batch, chunked); // compile
  const rows = [true, false].map((chunked) => {
    let best = { us: Infinity, bytesPerPoint: 0 };
    for (let r = 0; r < 5; r++) {
      const x = run(batch, chunked);
      if (x.us < best.us) best = x;
    }
    return `${chunked ? 'chunks' : 'whole'} ${best.us.toFixed(1)} µs/fold ${best.bytesPerPoint.toFixed(2)} B/point`;
  });
  console.log(`state buffer, folds of ${batch} points into the hour: ${rows.join(' | ')}`);
}
