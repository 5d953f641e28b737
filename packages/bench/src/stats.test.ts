import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, percentile } from './stats.js';

test('nearest-rank percentiles are observed values', () => {
  const xs = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 25);
  assert.equal(percentile(xs, 99), 50);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('median ignores n/a and averages the middle pair', () => {
  assert.equal(median([3, null, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([null, undefined]), null);
});
