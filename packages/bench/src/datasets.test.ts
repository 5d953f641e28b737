import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, batchBody, generate, isoSeconds, renderSeries } from './datasets.js';

test('walk3 values have at most 3 decimal digits and actually move', () => {
  const xs = generate('walk3', 2000, new Rng(3));
  for (const x of xs) assert.ok(!/\.\d{4,}/.test(String(x)), String(x));
  assert.ok(new Set(xs).size > 1000);
});

test('constant is constant, noise is full precision', () => {
  assert.deepEqual([...new Set(generate('constant', 100, new Rng(1)))], [42]);
  const noise = generate('noise', 100, new Rng(1));
  assert.ok(noise.every((x) => x >= 0 && x < 100));
  assert.ok(noise.filter((x) => String(x).length > 15).length > 50);
});

test('series are deterministic for a seed', () => {
  assert.deepEqual(generate('walk3', 50, new Rng(9)), generate('walk3', 50, new Rng(9)));
});

test('batch bodies are the JSON Gnocchi expects, windows in time order', () => {
  const s = renderSeries('walk3', { points: 250, startSec: Date.UTC(2024, 0, 1) / 1000, perRequest: 100, variants: 2, seed: 1 });
  assert.equal(s.windows, 3);
  const body = JSON.parse(batchBody(s, 2, [{ id: 'a', index: 0 }, { id: 'b', index: 1 }])) as Record<string, { timestamp: string; value: number }[]>;
  assert.deepEqual(Object.keys(body), ['a', 'b']);
  assert.equal(body.a.length, 50);
  assert.equal(body.a[0].timestamp, '2024-01-01T00:03:20');
  assert.notDeepEqual(body.a.map((m) => m.value), body.b.map((m) => m.value));
  assert.equal(isoSeconds(0), '1970-01-01T00:00:00');
});
