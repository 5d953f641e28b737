import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyFloatRepr, pySecondsRepr } from './pyfloat.js';

test('pyFloatRepr matches CPython repr()', () => {
  const cases: [number, string][] = [
    [60, '60.0'], [0.5, '0.5'], [1e-6, '1e-06'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1e16, '1e+16'],
    [123456789, '123456789.0'], [3153600000, '3153600000.0'], [1.5e-7, '1.5e-07'], [86400, '86400.0'],
  ];
  for (const [x, s] of cases) assert.equal(pyFloatRepr(x), s);
});

test('pySecondsRepr renders nanosecond durations as total_seconds()', () => {
  assert.equal(pySecondsRepr(60_000_000_000n), '60.0');
  assert.equal(pySecondsRepr(500_000_000n), '0.5');
  assert.equal(pySecondsRepr(1_000n), '1e-06');
});
