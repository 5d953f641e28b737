import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArchivePolicyError,
  checkDefinitionUpdate,
  DEFAULT_AGGREGATION_METHODS,
  defaultArchivePolicies,
  makeArchivePolicyItem,
  matchArchivePolicyRule,
  resolveAggregationMethods,
  validateDefinition,
  VALID_AGGREGATION_METHODS,
} from './policy.js';

const S = 1000000000n;

test('makeArchivePolicyItem computes the missing value like Gnocchi', () => {
  assert.deepEqual(makeArchivePolicyItem({ timespan: 3600n * S, points: 1000 }), {
    granularity: 3600000000n, points: 1000, timespan: 3600n * S,
  });
  // 3600 / 7 = 514.28 points: truncated, timespan recomputed to 0:59:58
  assert.deepEqual(makeArchivePolicyItem({ granularity: 7n * S, timespan: 3600n * S }), {
    granularity: 7n * S, points: 514, timespan: 3598n * S,
  });
  assert.deepEqual(makeArchivePolicyItem({ granularity: S, points: 20 }), { granularity: S, points: 20, timespan: 20n * S });
  assert.deepEqual(makeArchivePolicyItem({ granularity: 2n * S }), { granularity: 2n * S, points: null, timespan: null });
  assert.deepEqual(makeArchivePolicyItem({ granularity: S, points: 60, timespan: 60n * S }), { granularity: S, points: 60, timespan: 60n * S });
});

test('makeArchivePolicyItem errors carry Gnocchi messages', () => {
  const cases: [Parameters<typeof makeArchivePolicyItem>[0], string][] = [
    [{ granularity: S, points: 60, timespan: 61n * S }, 'timespan ≠ granularity × points'],
    [{ granularity: S, points: 50, timespan: 3600n * S }, 'timespan ≠ granularity × points'],
    [{ points: 3 }, 'At least two of granularity/points/timespan must be provided'],
    [{ timespan: 60n * S }, 'At least two of granularity/points/timespan must be provided'],
    [{ granularity: 3600n * S, timespan: 60n * S }, 'Calculated number of points is < 0'],
    [{ granularity: 0n, points: 3 }, 'Granularity should be > 0'],
    [{ granularity: S, points: 0 }, 'Number of points should be > 0'],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => makeArchivePolicyItem(input), (e: unknown) => e instanceof ArchivePolicyError && e.message === message);
  }
});

test('validateDefinition rejects duplicate granularities with Python float text', () => {
  const items = [makeArchivePolicyItem({ granularity: S, points: 60 }), makeArchivePolicyItem({ granularity: S, points: 120 })];
  assert.throws(() => validateDefinition(items), { message: "More than one archive policy uses granularity `1.0'" });
  const ms = [makeArchivePolicyItem({ granularity: 3600000000n }), makeArchivePolicyItem({ granularity: 3600000000n })];
  assert.throws(() => validateDefinition(ms), { message: "More than one archive policy uses granularity `3.6'" });
  validateDefinition([makeArchivePolicyItem({ granularity: S }), makeArchivePolicyItem({ granularity: 2n * S })]);
});

test('resolveAggregationMethods follows Gnocchi semantics', () => {
  const d = DEFAULT_AGGREGATION_METHODS;
  assert.deepEqual(resolveAggregationMethods(undefined, d), ['mean', 'sum', 'max', 'min', 'std', 'count']);
  assert.deepEqual(resolveAggregationMethods(['max', 'mean'], d), ['mean', 'max']);
  // only +/- entries: adjust the defaults (checked against Gnocchi 4.4.2)
  assert.deepEqual(resolveAggregationMethods(['-mean', '+rate:max'], d), ['sum', 'max', 'min', 'std', 'count', 'rate:max']);
  // mixed list: Gnocchi keeps "+max"/"-min" verbatim ("+max", "mean", "max", "-min")
  assert.deepEqual(resolveAggregationMethods(['mean', '+max', '-min'], d), ['mean', 'max', '+max', '-min']);
  const all = resolveAggregationMethods(['*'], d);
  assert.equal(all.length, 216);
  assert.deepEqual(all, [...VALID_AGGREGATION_METHODS]);
  assert.equal(resolveAggregationMethods(['*', '-rate:mean'], d).includes('rate:mean'), false);
  assert.throws(() => resolveAggregationMethods(['foo', 'mean'], d), { message: "Invalid value for aggregation_methods: {'foo'}" });
  assert.throws(() => resolveAggregationMethods(['100pct'], d), ArchivePolicyError);
  assert.throws(() => resolveAggregationMethods(['rate:rate:mean'], d), ArchivePolicyError);
});

test('defaultArchivePolicies match gnocchi-upgrade', () => {
  const byName = new Map(defaultArchivePolicies().map((p) => [p.name, p]));
  const D = 86400n * S;
  assert.deepEqual([...byName.keys()].sort(), ['bool', 'high', 'low', 'medium']);
  assert.deepEqual(byName.get('low')?.definition, [{ granularity: 300n * S, points: 8640, timespan: 30n * D }]);
  assert.deepEqual(byName.get('medium')?.definition, [
    { granularity: 60n * S, points: 10080, timespan: 7n * D },
    { granularity: 3600n * S, points: 8760, timespan: 365n * D },
  ]);
  assert.deepEqual(byName.get('high')?.definition, [
    { granularity: S, points: 3600, timespan: 3600n * S },
    { granularity: 60n * S, points: 10080, timespan: 7n * D },
    { granularity: 3600n * S, points: 8760, timespan: 365n * D },
  ]);
  assert.deepEqual(byName.get('bool'), {
    name: 'bool', backWindow: 3600, aggregationMethods: ['last'],
    definition: [{ granularity: S, points: 31536000, timespan: 365n * D }],
  });
  assert.deepEqual(byName.get('low')?.aggregationMethods, ['mean', 'min', 'max', 'sum', 'std', 'count']);
  assert.equal(byName.get('high')?.backWindow, 0);
});

test('checkDefinitionUpdate: same granularities only', () => {
  const old = [makeArchivePolicyItem({ granularity: S, points: 20 }), makeArchivePolicyItem({ granularity: 2n * S })];
  checkDefinitionUpdate(old, [makeArchivePolicyItem({ granularity: 2n * S }), makeArchivePolicyItem({ granularity: S, points: 50 })]);
  assert.throws(() => checkDefinitionUpdate(old, [makeArchivePolicyItem({ granularity: S, points: 50 })]), {
    message: 'Cannot add or drop granularities',
  });
  assert.throws(
    () => checkDefinitionUpdate(old, [makeArchivePolicyItem({ granularity: 5n * S, points: 20 }), makeArchivePolicyItem({ granularity: 2n * S })]),
    { message: '1.0 granularity interval was changed' },
  );
});

test('matchArchivePolicyRule: pattern descending then name, fnmatch', () => {
  const rules = [
    { name: 'test_rule', metricPattern: 'disk.io.*', archivePolicyName: 'cookies' },
    { name: 'test_ignore_rule', metricPattern: 'disk.*', archivePolicyName: 'cream' },
    { name: 'catch_all', metricPattern: '*', archivePolicyName: 'low' },
    { name: 'b', metricPattern: 'cpu?', archivePolicyName: 'b-ap' },
    { name: 'a', metricPattern: 'cpu?', archivePolicyName: 'a-ap' },
    { name: 'set', metricPattern: 'mem[!0-9]', archivePolicyName: 'set-ap' },
  ];
  // "disk.io.*" sorts after "disk.*" so it is tried first (metric.yaml expects cookies)
  assert.equal(matchArchivePolicyRule(rules, 'disk.io.rate')?.archivePolicyName, 'cookies');
  assert.equal(matchArchivePolicyRule(rules, 'disk.usage')?.archivePolicyName, 'cream');
  assert.equal(matchArchivePolicyRule(rules, 'cpu0')?.archivePolicyName, 'a-ap');
  assert.equal(matchArchivePolicyRule(rules, 'cpu10')?.archivePolicyName, 'low');
  assert.equal(matchArchivePolicyRule(rules, 'memx')?.archivePolicyName, 'set-ap');
  assert.equal(matchArchivePolicyRule(rules, 'mem1')?.archivePolicyName, 'low');
  assert.equal(matchArchivePolicyRule(rules.slice(0, 2), 'volume.io.rate'), null);
  assert.equal(matchArchivePolicyRule(rules, null)?.archivePolicyName, 'low');
  assert.equal(matchArchivePolicyRule([{ name: 'x', metricPattern: 'a.b', archivePolicyName: 'p' }], 'aXb'), null);
});
