import test from 'node:test';
import assert from 'node:assert/strict';
import { aggregateSeries, align, buildOperations, columns, granularities, type Point } from './series.js';

const p = (t: string, g: number | string, v: number): Point => [t, g, v];

test('columns keep one granularity, times in seconds', () => {
  const pts = [p('2026-01-01T00:00:00+00:00', 300, 1), p('2026-01-01T00:00:00+00:00', 60, 2), p('2026-01-01T01:01:00+01:00', 60, 3)];
  const s = columns('m', pts, 60);
  assert.deepEqual([...s.x], [1767225600, 1767225660]);
  assert.deepEqual([...s.y], [2, 3]);
  assert.deepEqual(granularities(pts), [60, 300]);
});

test('alignment keeps typed arrays when the axes agree, and fills gaps with null otherwise', () => {
  const a = { name: 'a', x: new Float64Array([1, 2, 3]), y: new Float64Array([10, 20, 30]) };
  const b = { name: 'b', x: new Float64Array([1, 2, 3]), y: new Float64Array([1, 2, 3]) };
  const same = align([a, b]);
  assert.ok(same.ys[0] instanceof Float64Array);
  const c = { name: 'c', x: new Float64Array([0, 2, 4]), y: new Float64Array([5, 6, 7]) };
  const mixed = align([a, c]);
  assert.deepEqual([...mixed.x], [0, 1, 2, 3, 4]);
  assert.deepEqual(mixed.ys, [[null, 10, 20, 30, null], [5, null, 6, null, 7]]);
});

test('aggregates answers: plain, per metric, grouped', () => {
  const pts = [p('2026-01-01T00:00:00+00:00', 60, 1)];
  assert.deepEqual(aggregateSeries({ measures: { aggregated: pts } }), [{ name: 'aggregated', points: pts }]);
  assert.deepEqual(aggregateSeries({ measures: { m1: { mean: pts, max: [] } } }).map((s) => s.name), ['m1 / mean', 'm1 / max']);
  const grouped = aggregateSeries([{ group: { project_id: 'p1' }, measures: { measures: { aggregated: pts } } }]);
  assert.deepEqual(grouped.map((s) => s.name), ['project_id=p1']);
});

test('operations in list form', () => {
  assert.deepEqual(buildOperations(['cpu util'], 'mean', ''), ['metric', 'cpu util', 'mean']);
  assert.deepEqual(buildOperations(['a', 'b'], 'max', 'sum'), ['aggregate', 'sum', ['metric', ['a', 'max'], ['b', 'max']]]);
});
