import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTotals, renderComparison } from './rating-compare.js';
import type { Totals } from './rating-stack.js';

const totals = (rows: [string, string, string, number][]): Totals => {
  const out: Totals = new Map();
  for (const [scope, period, total, points] of rows) {
    if (!out.has(scope)) out.set(scope, new Map());
    out.get(scope)?.set(period, { total, points });
  }
  return out;
};

test('equal decimals are the same whatever their notation; one digit off is not', () => {
  const rows = compareTotals(
    totals([['p1', '2026-01-01T00:00:00Z', '0.25', 3], ['p1', '2026-01-01T01:00:00Z', '1.0000000000000000000000000001', 3]]),
    totals([['p1', '2026-01-01T00:00:00Z', '0.2500', 3], ['p1', '2026-01-01T01:00:00Z', '1.0000000000000000000000000002', 3]]),
  );
  assert.deepEqual(rows.map((r) => r.same), [true, false]);
  assert.match(renderComparison(rows), /DIFFERENT p1 2026-01-01T01:00:00Z: tally 1\.0000000000000000000000000001 \(3 points\), cloudkitty 1\.0000000000000000000000000002 \(3 points\)/);
  assert.match(renderComparison(rows), /2 project-periods: 1 same, 1 different/);
});

test('a period only one side rated, or rated with other points, differs', () => {
  const rows = compareTotals(
    totals([['p1', '2026-01-01T00:00:00Z', '2', 2], ['p2', '2026-01-01T00:00:00Z', '1', 1]]),
    totals([['p1', '2026-01-01T00:00:00Z', '2', 3], ['p3', '2026-01-01T00:00:00Z', '1', 1]]),
  );
  assert.deepEqual(rows.map((r) => [r.scope, r.same, r.tally === null, r.cloudkitty === null]), [
    ['p1', false, false, false], ['p2', false, false, true], ['p3', false, true, false],
  ]);
});
