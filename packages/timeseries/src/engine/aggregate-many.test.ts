import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aggregateSeries, aggregateSeriesMany, UnknownAggregationMethodError, type Series } from '../aggregate.js';
import { anyDouble, assertSameBits } from '../chunkenc/properties.js';
import { VALID_AGGREGATION_METHODS } from '../policy.js';

const S = 1_000_000_000n;

/** Sorted unique timestamps with gaps of 1 ns to 3 min (buckets of one point and of many). */
const anySeries: fc.Arbitrary<Series> = fc
  .array(fc.tuple(fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 180 }).map((s) => s * 1e9)), anyDouble), { maxLength: 200 })
  .chain((steps) => fc.bigInt(-(10n ** 12n) * S, 10n ** 12n * S).map((t0) => {
    const ts = new BigInt64Array(steps.length);
    let t = t0;
    steps.forEach(([gap], i) => (ts[i] = t += BigInt(gap)));
    return { ts, values: Float64Array.from(steps, ([, v]) => v) };
  }));

function assertSame(actual: Series, expected: Series, what: string): void {
  assert.deepEqual(actual.ts, expected.ts, what);
  assertSameBits(actual.values, expected.values);
}

test('aggregateSeriesMany gives, for every method, the bits of aggregateSeries', () => {
  fc.assert(
    fc.property(
      anySeries,
      fc.constantFrom(1n, S, 60n * S, 3600n * S, 7n * S),
      fc.subarray([...VALID_AGGREGATION_METHODS], { minLength: 1 }),
      fc.option(fc.nat(200)),
      (series, granularity, methods, startAt) => {
        const start = startAt === null || series.ts.length === 0 ? null : series.ts[Math.min(startAt, series.ts.length - 1)] - granularity;
        const all = aggregateSeriesMany(series, granularity, methods, start);
        assert.equal(all.length, methods.length);
        methods.forEach((m, j) => assertSame(all[j], aggregateSeries(series, granularity, m, start), m));
      },
    ),
    { numRuns: 300 },
  );
});

test('aggregateSeriesMany over every method of a dense random walk matches aggregateSeries', () => {
  const n = 5000;
  const ts = BigInt64Array.from({ length: n }, (_, i) => 1_600_000_000n * S + BigInt(i) * S);
  let v = 100;
  const values = Float64Array.from({ length: n }, (_, i) => (v = Math.round((v + Math.sin(i * 12.9898) / 2) * 1000) / 1000));
  const series = { ts, values };
  for (const g of [S, 60n * S, 3600n * S]) {
    const start = ts[1234] - (ts[1234] % g);
    const all = aggregateSeriesMany(series, g, VALID_AGGREGATION_METHODS, start);
    VALID_AGGREGATION_METHODS.forEach((m, j) => assertSame(all[j], aggregateSeries(series, g, m, start), `${m} @${g}`));
  }
});

test('aggregateSeriesMany refuses an unknown method, plain or rate', () => {
  const series = { ts: BigInt64Array.of(S, 2n * S), values: Float64Array.of(1, 2) };
  assert.throws(() => aggregateSeriesMany(series, S, ['mean', 'avg']), UnknownAggregationMethodError);
  assert.throws(() => aggregateSeriesMany(series, S, ['rate:avg']), UnknownAggregationMethodError);
});

test('aggregateSeriesMany with a method listed twice gives it twice', () => {
  const series = { ts: BigInt64Array.from([1n, 2n, 3n, 5n].map((t) => t * S)), values: Float64Array.of(-0, 2.5, -1, 7) };
  const methods = ['sum', 'min', 'sum', 'max', 'min', 'max', 'mean'];
  const all = aggregateSeriesMany(series, 2n * S, methods);
  methods.forEach((m, j) => assertSame(all[j], aggregateSeries(series, 2n * S, m), m));
});

test('aggregateSeriesMany over buckets of one point each gives the bits of aggregateSeries, -0 and NaN included', () => {
  const values = Float64Array.of(1.5, -0, 0, 2 ** -1074, -3.25, 1e308, -1e308);
  const nan = new Float64Array(1);
  new Uint32Array(nan.buffer).set([0x1234, 0x7ff80000]); // a NaN with a payload
  const ts = BigInt64Array.from({ length: values.length + 1 }, (_, i) => 1_600_000_000n * S + BigInt(i) * S);
  const methods = ['mean', 'min', 'max', 'sum', 'std', 'count', 'first', 'last'];
  for (const vs of [values, Float64Array.from([...values, 0]), (() => { const a = Float64Array.from([...values, 0]); a.set(nan, 3); return a; })()]) {
    const series = { ts: ts.subarray(0, vs.length), values: vs };
    const all = aggregateSeriesMany(series, S, methods);
    methods.forEach((m, j) => assertSame(all[j], aggregateSeries(series, S, m), m));
    // Without -0 or NaN (the last two columns' first point on), sums and means are the points themselves.
    const clean = { ts: series.ts.subarray(4), values: vs.subarray(4) };
    const some = aggregateSeriesMany(clean, S, methods);
    methods.forEach((m, j) => assertSame(some[j], aggregateSeries(clean, S, m), `${m}, clean`));
  }
});
