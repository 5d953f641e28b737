// Processing throughput: node packages/timeseries/dist/engine/process.bench.js
// processMeasures of 10 000 points (a 3-decimal random walk at 1 s) into several policies,
// cold (no prior state) and warm (appending to a metric that already holds 10 000 points).
// The reference is the baseline (baseline.ts): a single pass of plain typed-array loops over
// the same sorted points into every (method, granularity) series, with no storage encoding:
// the ratio reference/Tally says how far the engine is from what the arithmetic needs.
import { VALID_AGGREGATION_METHODS, type ArchivePolicy } from '../policy.js';
import { processMeasures } from './process.js';
import { baselineAggregate } from './baseline.js';
import type { Series } from '../aggregate.js';

const S = 1_000_000_000n;
const MIN = 60n * S;
const HOUR = 3600n * S;
const DAY = 86_400n * S;
const POINTS = 10_000;
const T0 = 1_600_000_000n * S;

function randomWalk(n: number, offset: number, seed: number): Series {
  let x = seed;
  const rnd = () => ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let v = 100;
  for (let i = 0; i < n; i++) {
    ts[i] = T0 + BigInt(offset + i) * S;
    v = Math.round((v + (rnd() - 0.5)) * 1000) / 1000;
    values[i] = v;
  }
  return { ts, values };
}

const before = randomWalk(POINTS, 0, 7);
const batch = randomWalk(POINTS, POINTS, 11);

function policy(methods: string[], granularities: bigint[]): ArchivePolicy {
  return {
    name: 'bench',
    backWindow: 0,
    aggregationMethods: methods,
    definition: granularities.map((g) => ({ granularity: g, points: null, timespan: null })),
  };
}

const SIX = ['mean', 'min', 'max', 'sum', 'std', 'count'];
const cases: [string, ArchivePolicy][] = [
  ['mean @1s', policy(['mean'], [S])],
  ['medium: 6 methods @1min,1h,1d', policy(SIX, [MIN, HOUR, DAY])],
  ['6 methods @1s,1min,1h', policy(SIX, [S, MIN, HOUR])],
  ['rate:mean + 95pct @1s', policy(['rate:mean', '95pct'], [S])],
  ['* (216 methods) @1s', policy([...VALID_AGGREGATION_METHODS], [S])],
];

// ------------------------------------------------------------ reference

/** The baseline (baseline.ts) over the batch: seconds from the first point, every series of the policy. */
function reference(points: Series, p: ArchivePolicy): number {
  const n = points.ts.length;
  const base = points.ts[0];
  const seconds = new Float64Array(n);
  for (let i = 0; i < n; i++) seconds[i] = Number(points.ts[i] - base) / 1e9;
  const granularities = p.definition.map((d) => Number(d.granularity) / 1e9);
  let sink = 0;
  for (const s of baselineAggregate(seconds, points.values, p.aggregationMethods, granularities)) sink += s.values[0] ?? 0;
  return sink;
}

// ------------------------------------------------------------ runs

async function timeAsync(fn: () => Promise<unknown>, runs: number): Promise<number> {
  for (let r = 0; r < Math.min(runs, 5); r++) await fn(); // warm up
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < runs; r++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / runs;
}

async function prior(p: ArchivePolicy) {
  const splits = new Map<string, Uint8Array>();
  const r = await processMeasures(p, null, before, async (k) => splits.get(k) ?? null);
  for (const [k, v] of r.put) splits.set(k, v);
  return { state: r.state, readSplit: async (k: string) => splits.get(k) ?? null };
}

const none = async () => null;
console.log(`${POINTS} points per batch; ms per batch (reference: plain loops, no storage)`);
console.log(`${'case'.padEnd(32)} ${'series'.padStart(6)} ${'cold'.padStart(8)} ${'warm'.padStart(8)} ${'ref'.padStart(8)}  ref/cold ref/warm`);
for (const [name, p] of cases) {
  const runs = p.aggregationMethods.length > 100 ? 3 : 20;
  const cold = await timeAsync(() => processMeasures(p, null, batch, none), runs);
  const { state, readSplit } = await prior(p);
  const warm = await timeAsync(() => processMeasures(p, state, batch, readSplit), runs);
  let sink = 0;
  const ref = await timeAsync(async () => (sink += reference(batch, p)), runs * 2);
  if (Number.isNaN(sink)) console.log('');
  const series = p.aggregationMethods.length * p.definition.length;
  console.log(
    `${name.padEnd(32)} ${String(series).padStart(6)} ${cold.toFixed(2).padStart(8)} ${warm.toFixed(2).padStart(8)} ${ref.toFixed(2).padStart(8)}  x${(ref / cold).toFixed(3).padEnd(7)} x${(ref / warm).toFixed(3)}`,
  );
}
