import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateSeries, bucketize, derive, type Series, UnknownAggregationMethodError } from './aggregate.js';

const S = 1000000000n;
const G = 60n * S;

// Buckets of 60 s: [4, 1, 3, 2] at 0-45 s, [10] at 60 s, [5, 7] at 125-130 s.
const series: Series = {
  ts: BigInt64Array.from([0n, 15n, 30n, 45n, 60n, 125n, 130n].map((s) => s * S)),
  values: Float64Array.from([4, 1, 3, 2, 10, 5, 7]),
};

function agg(method: string, start: bigint | null = null, g = G): [number, number][] {
  const r = aggregateSeries(series, g, method, start);
  return Array.from(r.ts, (t, i) => [Number(t / S), r.values[i]]);
}

test('bucketize groups by floor(t / granularity)', () => {
  const b = bucketize(series.ts, G);
  assert.deepEqual([...b.starts], [0n, 60n * S, 120n * S]);
  assert.deepEqual([...b.bounds], [0, 4, 5, 7]);
  const from2 = bucketize(series.ts, G, 2);
  assert.deepEqual([...from2.starts], [0n, 60n * S, 120n * S]);
  assert.deepEqual([...from2.bounds], [2, 4, 5, 7]);
});

test('basic methods', () => {
  assert.deepEqual(agg('mean'), [[0, 2.5], [60, 10], [120, 6]]);
  assert.deepEqual(agg('sum'), [[0, 10], [60, 10], [120, 12]]);
  assert.deepEqual(agg('count'), [[0, 4], [60, 1], [120, 2]]);
  assert.deepEqual(agg('first'), [[0, 4], [60, 10], [120, 5]]);
  assert.deepEqual(agg('last'), [[0, 2], [60, 10], [120, 7]]);
  assert.deepEqual(agg('min'), [[0, 1], [60, 10], [120, 5]]);
  assert.deepEqual(agg('max'), [[0, 4], [60, 10], [120, 7]]);
  assert.deepEqual(agg('median'), [[0, 2.5], [60, 10], [120, 6]]);
});

test('std is the sample std and skips single-point buckets', () => {
  // bucket 0: mean 2.5, squared deviations sum 5 -> sqrt(5/3); bucket 120: sqrt(2/1)
  assert.deepEqual(agg('std'), [[0, Math.sqrt(5 / 3)], [120, Math.SQRT2]]);
});

test('percentiles interpolate linearly between ranks', () => {
  // sorted [1,2,3,4], rank 2.7 -> 3*0.3 + 4*0.7
  assert.deepEqual(agg('90pct').slice(0, 1), [[0, 3.7]]);
  assert.deepEqual(agg('50pct'), [[0, 2.5], [60, 10], [120, 6]]);
  assert.deepEqual(agg('1pct')[1], [60, 10]);
  assert.deepEqual(agg('99pct')[2], [120, 6.98]);
});

test('start skips earlier points', () => {
  assert.deepEqual(agg('mean', 60n * S), [[60, 10], [120, 6]]);
  assert.deepEqual(agg('count', 30n * S), [[0, 2], [60, 1], [120, 2]]);
});

test('rate: differences of consecutive raw values, first point dropped', () => {
  // diffs: 15:-3 30:+2 45:-1 60:+8 125:-5 130:+2
  assert.deepEqual(agg('rate:sum'), [[0, -2], [60, 8], [120, -3]]);
  assert.deepEqual(agg('rate:count'), [[0, 3], [60, 1], [120, 2]]);
  assert.deepEqual(agg('rate:last'), [[0, -1], [60, 8], [120, 2]]);
  // from bucket 60 on, the difference with the point before still counts
  assert.deepEqual(agg('rate:sum', 60n * S), [[60, 8], [120, -3]]);
  // derivation only looks one granularity back from start: with 30 s buckets
  // from 120 s, the 60 s point is too old, so 125 s gets no difference
  assert.deepEqual(agg('rate:sum', 120n * S, 30n * S), [[120, 2]]);
});

test('derive returns the index of the first point at or after start', () => {
  const d = derive(series, G, 60n * S);
  assert.deepEqual([...d.series.values], [-3, 2, -1, 8, -5, 2]);
  assert.equal(d.from, 3);
});

test('unknown methods throw', () => {
  assert.throws(() => agg('wtf'), UnknownAggregationMethodError);
  assert.throws(() => agg('rate:wtf'), { message: "Unknown aggregation method `wtf'" });
  assert.throws(() => agg('100pct'), UnknownAggregationMethodError);
});

test('empty input', () => {
  const r = aggregateSeries({ ts: new BigInt64Array(0), values: new Float64Array(0) }, G, 'mean');
  assert.equal(r.ts.length, 0);
});
