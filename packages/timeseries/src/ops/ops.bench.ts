// Cross-series throughput: node packages/timeseries/dist/ops/ops.bench.js
// 20 series x 86400 points (one day at 1 s), partly misaligned, through alignment,
// arithmetic, rolling and aggregation.
import { computeAggregates, type SeriesInput } from './compute.js';
import { parseOperations } from './schema.js';

const S = 1_000_000_000n;
const POINTS = 86_400;
const SERIES = 20;

function input(k: number): SeriesInput {
  const ts = new BigInt64Array(POINTS);
  const values = new Float64Array(POINTS);
  for (let i = 0; i < POINTS; i++) {
    ts[i] = 1_600_000_000n * S + BigInt(i + (k % 3)) * S;
    values[i] = Math.sin(i / 100 + k) * 100;
  }
  return { key: [`m${k}`, 'mean'], granularity: S, series: { ts, values } };
}

const inputs = Array.from({ length: SERIES }, (_, k) => input(k));
const refs = inputs.map((i) => [...i.key]);
const cases: [string, unknown][] = [
  ['metric (align only)', ['metric', ...refs]],
  ['aggregate mean', ['aggregate', 'mean', ['metric', ...refs]]],
  ['(* 2 (abs series))', ['*', 2, ['abs', ['metric', ...refs]]]],
  ['rolling mean 60', ['rolling', 'mean', 60, ['metric', ...refs]]],
  ['resample max 300 then aggregate', ['aggregate', 'max', ['resample', 'max', 300, ['metric', ...refs]]]],
];

for (const [name, ops] of cases) {
  const op = parseOperations(ops);
  computeAggregates(op, inputs, { neededOverlap: 0, fill: 'null' }); // warm up
  const runs = 3;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < runs; r++) computeAggregates(op, inputs, { neededOverlap: 0, fill: 'null' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
  const mpts = (SERIES * POINTS) / (ms / 1000) / 1e6;
  console.log(`${name.padEnd(36)} ${ms.toFixed(1).padStart(8)} ms  ${mpts.toFixed(1).padStart(6)} Mpoints/s`);
}
