// Processing throughput: node packages/timeseries/dist/engine/process.bench.js
// processMeasures of 10 000 points (a 3-decimal random walk at 1 s) into several policies,
// cold (no prior state) and warm (appending to a metric that already holds 10 000 points).
// The reference is a single pass of plain typed-array loops over the same sorted points
// into every (method, granularity) series, with no storage encoding: the ratio
// reference/Tally says how far the engine is from what the arithmetic needs.
import { VALID_AGGREGATION_METHODS, type ArchivePolicy } from '../policy.js';
import { processMeasures } from './process.js';
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

function sortedBucket(v: Float64Array, lo: number, hi: number, out: Float64Array): Float64Array {
  const s = out.subarray(0, hi - lo);
  s.set(v.subarray(lo, hi));
  return s.sort();
}

const BASIC = ['mean', 'min', 'max', 'sum', 'std', 'count', 'first', 'last', 'median'];

/** Every method of `methods` (no rate:) over values[lo0..) grouped by equal `bucket`, plain loops. */
function referencePlain(
  values: Float64Array, bucket: Float64Array, lo0: number, methods: string[], scratch: Float64Array,
): number {
  // Per bucket, every result lands in `row` (BASIC, then percentiles 1..99); each method
  // copies its slot into its own output column.
  const slot = Int32Array.from(methods, (m) => (m.endsWith('pct') ? BASIC.length + Number(m.slice(0, -3)) - 1 : BASIC.indexOf(m)));
  const needSort = methods.some((m) => m === 'median' || m.endsWith('pct'));
  const pcts = methods.filter((m) => m.endsWith('pct')).map((m) => Number(m.slice(0, -3)));
  const row = new Float64Array(BASIC.length + 99);
  const outputs = methods.map(() => new Float64Array(values.length));
  let k = 0;
  for (let lo = lo0; lo < values.length; ) {
    let hi = lo + 1;
    while (hi < values.length && bucket[hi] === bucket[lo]) hi++;
    const n = hi - lo;
    let sum = 0;
    let min = values[lo];
    let max = values[lo];
    for (let i = lo; i < hi; i++) {
      const x = values[i];
      sum += x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const mean = sum / n;
    let ss = 0;
    for (let i = lo; i < hi; i++) ss += (values[i] - mean) * (values[i] - mean);
    row[0] = mean;
    row[1] = min;
    row[2] = max;
    row[3] = sum;
    row[4] = Math.sqrt(ss / (n - 1));
    row[5] = n;
    row[6] = values[lo];
    row[7] = values[hi - 1];
    if (needSort) {
      const s = sortedBucket(values, lo, hi, scratch);
      row[8] = (s[(n - 1) >> 1] + s[n >> 1]) / 2;
      for (const q of pcts) {
        const real = ((n - 1) * q) / 100;
        const f = Math.floor(real);
        const c = Math.ceil(real);
        row[BASIC.length + q - 1] = f === c ? s[f] : s[f] * (c - real) + s[c] * (real - f);
      }
    }
    for (let j = 0; j < slot.length; j++) outputs[j][k] = row[slot[j]];
    k++;
    lo = hi;
  }
  return outputs[0][0];
}

function reference(points: Series, p: ArchivePolicy): number {
  const methods = p.aggregationMethods;
  const plain = methods.filter((m) => !m.startsWith('rate:'));
  const rate = methods.filter((m) => m.startsWith('rate:')).map((m) => m.slice(5));
  const n = points.ts.length;
  const base = points.ts[0];
  const offsets = new Float64Array(n);
  for (let i = 0; i < n; i++) offsets[i] = Number(points.ts[i] - base);
  const diffs = new Float64Array(n);
  for (let i = 1; i < n; i++) diffs[i] = points.values[i] - points.values[i - 1];
  const bucket = new Float64Array(n);
  const scratch = new Float64Array(n);
  let sink = 0;
  for (const { granularity } of p.definition) {
    const g = Number(granularity);
    for (let i = 0; i < n; i++) bucket[i] = Math.floor(offsets[i] / g);
    if (plain.length > 0) sink += referencePlain(points.values, bucket, 0, plain, scratch);
    if (rate.length > 0) sink += referencePlain(diffs, bucket, 1, rate, scratch);
  }
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
