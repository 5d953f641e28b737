import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCells, floorLimit, floorParseLimit, fmtRatio, groupCells, machineLimit, machineLimitRange, MATRIX_FIGURES, MATRIX_POLICIES, MATRIX_SHAPES, renderMatrix, selectCells, worstBest } from './cells.js';

test('cells: every policy x shape x state once, with stable names', () => {
  const cells = allCells();
  assert.equal(cells.length, MATRIX_POLICIES.length * MATRIX_SHAPES.length * 2);
  assert.equal(new Set(cells.map((c) => c.name)).size, cells.length);
  assert.ok(cells.some((c) => c.name === 'medium/batch10k/warm' && c.policy === 'medium' && c.shape === 'batch10k' && c.state === 'warm'));
  for (const c of cells) assert.equal(c.name, `${c.policy}/${c.shape}/${c.state}`);
});

test('cells: selection by name and wildcard, in matrix order, without repeats', () => {
  assert.equal(selectCells([]).length, allCells().length);
  assert.deepEqual(selectCells(['medium/batch10k/warm']).map((c) => c.name), ['medium/batch10k/warm']);
  assert.deepEqual(selectCells(['high/single/cold', 'mean/influx/warm', 'high/single/cold']).map((c) => c.name),
    ['mean/influx/warm', 'high/single/cold']);
  assert.deepEqual(selectCells(['rate95/*/cold']).map((c) => c.shape), [...MATRIX_SHAPES]);
  assert.equal(selectCells(['*/*/warm']).length, allCells().length / 2);
  assert.throws(() => selectCells(['medium/batch10k']), /not policy\/shape\/state/);
  assert.throws(() => selectCells(['medium/batch1k/warm']), /no cell named/);
});

test('cells: one server per policy and shape, cold before warm', () => {
  const groups = groupCells(selectCells(['medium/batch10k/*', 'high/single/warm']));
  assert.deepEqual(groups, [
    { policy: 'medium', shape: 'batch10k', states: ['cold', 'warm'] },
    { policy: 'high', shape: 'single', states: ['warm'] },
  ]);
});

test('cells: the worst and best oriented ratio of each figure over the cells', () => {
  const rows = [
    { cell: 'a/b/cold', tally: { ack_rate: 1000, e2e_rate: 100, read_p50: 2 }, gnocchi: { ack_rate: 100, e2e_rate: 50, read_p50: 8 } },
    { cell: 'a/b/warm', tally: { ack_rate: 3000, e2e_rate: 100, read_p50: 4 }, gnocchi: { ack_rate: 1500, e2e_rate: 400, read_p50: 4 } },
    // Gnocchi failed here: no ratio, so it can be neither worst nor best.
    { cell: 'c/d/cold', tally: { ack_rate: 1, e2e_rate: 1, read_p50: 100 }, gnocchi: null },
  ];
  const e = worstBest(MATRIX_FIGURES, rows);
  assert.deepEqual(e.ack_rate, { worst: { ratio: 2, cell: 'a/b/warm' }, best: { ratio: 10, cell: 'a/b/cold' } });
  assert.deepEqual(e.e2e_rate, { worst: { ratio: 0.25, cell: 'a/b/warm' }, best: { ratio: 2, cell: 'a/b/cold' } });
  // Latency: Gnocchi/Tally, so 8 ms against 2 ms is 4x in Tally's favour.
  assert.deepEqual(e.read_p50, { worst: { ratio: 1, cell: 'a/b/warm' }, best: { ratio: 4, cell: 'a/b/cold' } });
  assert.equal(worstBest(MATRIX_FIGURES, [rows[2]]).ack_rate, null);
  const text = renderMatrix(rows);
  assert.match(text, /^a\/b\/cold +ingest acknowledged +measures\/s +1,000 +100 +10\.0x$/m);
  assert.match(text, /^a\/b\/warm +read one series p50 +ms +4\.00 +4\.00 +1\.00x$/m);
  assert.match(text, /^c\/d\/cold +ingest acknowledged +measures\/s +1 +- +n\/a$/m);
});

test('cells: the machine limit is the acknowledged rate over the parse rate', () => {
  assert.equal(machineLimit({ ack_rate: 50, parse_rate: 200 }), 0.25);
  assert.equal(machineLimit({ ack_rate: 50, parse_rate: null }), null);
  assert.equal(machineLimit(null), null);
  assert.equal(fmtRatio(0.0123), '0.012x');
  assert.equal(fmtRatio(0.25), '0.25x');
  assert.equal(fmtRatio(12.34), '12.3x');
  assert.equal(fmtRatio(null), 'n/a');
});

test('the HTTP floor ratios: acknowledged over the bare server, the bare server over parsing', () => {
  assert.equal(floorLimit({ ack_rate: 30, floor_rate: 120 }), 0.25);
  assert.equal(floorLimit({ ack_rate: 30, floor_rate: null }), null);
  assert.equal(floorParseLimit({ floor_rate: 50, parse_rate: 1000 }), 0.05);
  assert.equal(floorParseLimit({ floor_rate: 50, parse_rate: null }), null);
  const rows = [
    { cell: 'a/single/cold', tally: { ack_rate: 10, floor_rate: 40 }, gnocchi: null },
    { cell: 'a/batch10k/cold', tally: { ack_rate: 90, floor_rate: 100 }, gnocchi: null },
  ];
  const r = machineLimitRange(rows, floorLimit);
  assert.deepEqual(r, { worst: { cell: 'a/single/cold', ratio: 0.25 }, best: { cell: 'a/batch10k/cold', ratio: 0.9 } });
});
