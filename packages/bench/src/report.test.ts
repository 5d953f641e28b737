import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figureDefs, formatValue, ratio, renderTable } from './report.js';
import { parseOptions } from './index.js';

test('ratios are oriented so that > 1 means Tally is better', () => {
  const defs = figureDefs(['walk3'], []);
  const rate = defs.find((d) => d.key === 'ingest_ack_rate');
  const lat = defs.find((d) => d.key === 'read_p50');
  assert.ok(rate && lat);
  assert.equal(ratio(rate, 1000, 100), 10);
  assert.equal(ratio(lat, 10, 100), 10);
  assert.equal(ratio(lat, null, 100), null);
});

test('the table shows n/a and a ratio column only with both targets', () => {
  const defs = figureDefs(['walk3'], [1000]);
  const one = renderTable(defs, [{ name: 'tally', values: { create_rate: 800, read_p50: null } }], 1);
  assert.match(one, /n\/a/);
  assert.doesNotMatch(one, /ratio/);
  const two = renderTable(defs, [{ name: 'tally', values: { create_rate: 800 } }, { name: 'gnocchi', values: { create_rate: 40 } }], 3);
  assert.match(two, /20\.0x/);
  assert.match(two, /medians of 3 runs/);
  assert.equal(formatValue(123456.7, 0), '123,457');
});

test('options: defaults, datasets, Tally alone when no target is named', () => {
  const o = parseOptions(['--vs-reference']);
  assert.ok(o !== 'help');
  assert.equal(o.startTally, true);
  assert.equal(o.workload.points, 10_000);
  assert.deepEqual(o.workload.datasets, ['walk3', 'constant', 'noise']);
  const p = parseOptions(['--target', 'http://x', '--datasets', 'noise', '--scale', '1000,10000']);
  assert.ok(p !== 'help');
  assert.equal(p.startTally, false);
  assert.deepEqual(p.workload.datasets, ['walk3', 'noise']);
  assert.deepEqual(p.workload.scale, [1000, 10000]);
  const none = parseOptions([]);
  assert.ok(none !== 'help');
  assert.equal(none.startTally, true);
  assert.equal(none.vsReference, false);
  assert.equal(none.targetUrl, null);
  assert.throws(() => parseOptions(['--start-tally', '--datasets', 'nope']), /unknown dataset/);
});
