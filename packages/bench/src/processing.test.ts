import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processMeasures, readMeasures } from '@tally/timeseries';
import { generate, Rng } from './datasets.js';
import { baselineAggregate, enginePolicy, processingLimit, storedPoints, type PolicySpec } from './processing.js';

const T0 = 1_704_067_200; // 2024-01-01, a whole hour

/** A walk3 series at 1 s with holes, so that buckets hold 1 to 60 points. */
function series(n: number, seed: number): { seconds: Float64Array; values: Float64Array } {
  const rng = new Rng(seed);
  const seconds = new Float64Array(n);
  let t = T0 + 7;
  for (let i = 0; i < n; i++) {
    seconds[i] = t;
    t += rng.u32() % 50 === 0 ? 1 + (rng.u32() % 400) : 1;
  }
  return { seconds, values: generate('walk3', n, rng) };
}

function close(a: number, b: number, rel: number): boolean {
  return a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

test('processing: the baseline computes the same series as the engine, for every method', async () => {
  const methods = ['mean', 'sum', 'count', 'min', 'max', 'first', 'last', 'std', 'median', '1pct', '50pct', '95pct', '99pct',
    'rate:mean', 'rate:max', 'rate:std', 'rate:95pct', 'rate:last', 'rate:count'];
  const spec: PolicySpec = { aggregation_methods: methods, definition: [
    { granularity: '1 second', points: 100_000 }, { granularity: '1 minute', points: 10_000 }, { granularity: '1 hour', points: 100 }] };
  const s = series(4000, 3);
  const policy = enginePolicy('p', spec);
  const splits = new Map<string, Uint8Array>();
  const ts = BigInt64Array.from(s.seconds, (x) => BigInt(x) * 1_000_000_000n);
  const r = await processMeasures(policy, null, { ts, values: s.values }, async () => null);
  for (const [k, v] of r.put) splits.set(k, v);
  const base = baselineAggregate(s.seconds, s.values, methods, [1, 60, 3600]);
  assert.equal(base.length, methods.length * 3);
  let nonEmpty = 0;
  for (const b of base) {
    const e = await readMeasures(policy, r.state, { aggregation: b.method, granularity: BigInt(b.granularityS) * 1_000_000_000n },
      async (k) => splits.get(k) ?? null);
    const what = `${b.method} @${b.granularityS}s`;
    if (e.ts.length > 0) nonEmpty++;
    assert.deepEqual([...b.ts].map((x) => BigInt(x) * 1_000_000_000n), [...e.ts], what);
    // std comes from sums of squares here and two passes in the engine; a percentile's
    // rank is computed in another index space: both differ in the last bits only.
    const rel = b.method.includes('std') || b.method.endsWith('pct') ? 1e-9 : 0;
    for (let i = 0; i < e.values.length; i++) assert.ok(close(b.values[i], e.values[i], rel), `${what} [${i}]: ${b.values[i]} vs ${e.values[i]}`);
  }
  // Only std and rate:std at 1 s are empty: every 1 s bucket holds one point.
  assert.equal(nonEmpty, base.length - 2);
  // Single-point buckets exist (holes), and std leaves them out.
  const mean1 = base.find((b) => b.method === 'mean' && b.granularityS === 60);
  const std1 = base.find((b) => b.method === 'std' && b.granularityS === 60);
  assert.ok(mean1 && std1 && std1.ts.length < mean1.ts.length);
});

test('processing: stored points follow retention, std and rate', () => {
  const seconds = Float64Array.from({ length: 200 }, (_, i) => T0 + i);
  const values = Float64Array.from(seconds, (_, i) => i % 7);
  // 1 s keeps 50 points; 1 min: buckets of 60, 60, 60, 20 points, all kept.
  assert.equal(storedPoints(seconds, values, { aggregation_methods: ['mean'], definition: [{ granularity: '1 second', points: 50 }] }), 50);
  assert.equal(storedPoints(seconds, values, { aggregation_methods: ['mean', 'std'], definition: [{ granularity: '1 minute', points: 10 }] }), 8);
  // rate: the first point has no difference, so the 1 s series has 199 points (then 150 kept).
  assert.equal(storedPoints(seconds, values, { aggregation_methods: ['rate:mean'], definition: [{ granularity: '1 second', points: 150 }] }), 150);
  assert.equal(storedPoints(seconds, values, { aggregation_methods: ['rate:mean'], definition: [{ granularity: '1 second', points: 1000 }] }), 199);
  // A singleton 1 s bucket has no std.
  assert.equal(storedPoints(seconds, values, { aggregation_methods: ['std'], definition: [{ granularity: '1 second', points: 1000 }] }), 0);
});

test('processing: the limit folds every point through both sides', async () => {
  const spec: PolicySpec = { aggregation_methods: ['mean', 'max'], definition: [{ granularity: '1 second', points: 3600 }] };
  const metrics = [series(900, 1), series(700, 2)];
  const r = await processingLimit('p', spec, metrics, 400, 1);
  assert.equal(r.points, 1600);
  assert.equal(r.chunk, 400);
  assert.ok(r.engineRate > 0 && r.baselineRate > 0);
  assert.equal(r.ratio, r.engineRate / r.baselineRate);
});
