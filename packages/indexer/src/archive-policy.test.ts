import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArchivePolicyAlreadyExists,
  ArchivePolicyInUse,
  NoSuchArchivePolicy,
  UnsupportedArchivePolicyChange,
} from './errors.js';
import { freshIndexer, policy, SECOND } from './test-util.js';

test('create, get and list archive policies (ordered by name)', async () => {
  const { ix, done } = await freshIndexer();
  try {
    const created = await ix.createArchivePolicy(policy('medium', { backWindow: 2, aggregationMethods: ['max', 'mean', '-std'] }));
    assert.deepEqual(created, policy('medium', { backWindow: 2, aggregationMethods: ['max', 'mean', '-std'] }));
    await ix.createArchivePolicy(policy('Zed'));
    await ix.createArchivePolicy(policy('low'));
    assert.deepEqual((await ix.listArchivePolicies()).map((p) => p.name), ['Zed', 'low', 'medium']);
    const got = await ix.getArchivePolicy('medium');
    // Aggregation methods keep the user's order, as Gnocchi returns them.
    assert.deepEqual(got, created);
    assert.equal(await ix.getArchivePolicy('nope'), null);
  } finally {
    await done();
  }
});

test('definition order and exact bigint durations survive a round trip', async () => {
  const { ix, done } = await freshIndexer();
  try {
    // 2^63-1 ns timespan and a 1 ns granularity: far beyond float precision.
    const definition = [
      { granularity: 1n, points: 5, timespan: 5n },
      { granularity: 3600n * SECOND, points: null, timespan: 9_223_372_036_854_775_807n },
      { granularity: 60n * SECOND, points: null, timespan: null },
    ];
    await ix.createArchivePolicy(policy('precise', { definition }));
    const got = await ix.getArchivePolicy('precise');
    assert.deepEqual(got?.definition, definition);
    assert.equal(typeof got?.definition[0].granularity, 'bigint');
    assert.equal(typeof got?.definition[0].points, 'number');
    assert.equal(typeof got?.backWindow, 'number');
  } finally {
    await done();
  }
});

test('creating an existing policy fails with Gnocchi\'s message', async () => {
  const { ix, done } = await freshIndexer('memory');
  try {
    await ix.createArchivePolicy(policy('low'));
    await assert.rejects(ix.createArchivePolicy(policy('low', { backWindow: 9 })),
      (e: unknown) => e instanceof ArchivePolicyAlreadyExists && e.message === 'Archive policy low already exists');
    // The failed attempt left nothing behind (no duplicated items).
    assert.equal((await ix.getArchivePolicy('low'))?.definition.length, 1);
  } finally {
    await done();
  }
});

test('getArchivePolicies returns a map of the found names', async () => {
  const { ix, done } = await freshIndexer('memory');
  try {
    await ix.createArchivePolicy(policy('a'));
    await ix.createArchivePolicy(policy('b'));
    const m = await ix.getArchivePolicies(['b', 'missing', 'b']);
    assert.deepEqual([...m.keys()], ['b']);
    assert.equal(m.get('b')?.definition[0].points, 60);
    assert.equal((await ix.getArchivePolicies([])).size, 0);
  } finally {
    await done();
  }
});

test('updating a definition: points/timespan may change, granularities may not', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await ix.createArchivePolicy(policy('p', {
      definition: [
        { granularity: SECOND, points: 3, timespan: 3n * SECOND },
        { granularity: 3600n * SECOND, points: 24, timespan: 86400n * SECOND },
        { granularity: 60n * SECOND, points: null, timespan: null },
      ],
    }));
    const newDef = [
      { granularity: 60n * SECOND, points: 5, timespan: 300n * SECOND },
      { granularity: 3600n * SECOND, points: 24, timespan: 86400n * SECOND },
      { granularity: SECOND, points: 3, timespan: 3n * SECOND },
    ];
    const updated = await ix.updateArchivePolicy('p', newDef);
    assert.deepEqual(updated.definition, newDef);
    assert.deepEqual((await ix.getArchivePolicy('p'))?.definition, newDef);

    await assert.rejects(ix.updateArchivePolicy('p', newDef.slice(0, 2)), (e: unknown) =>
      e instanceof UnsupportedArchivePolicyChange
      && e.message === 'Archive policy p does not support change: Cannot add or drop granularities');
    // Gnocchi compares sorted granularities and reports the current one.
    await assert.rejects(ix.updateArchivePolicy('p', [
      { granularity: 120n * SECOND, points: 5, timespan: null }, newDef[1], newDef[2],
    ]), (e: unknown) => e instanceof UnsupportedArchivePolicyChange
      && e.message === 'Archive policy p does not support change: 60.0 granularity interval was changed');
    await assert.rejects(ix.updateArchivePolicy('nope', newDef), (e: unknown) =>
      e instanceof NoSuchArchivePolicy && e.message === 'Archive policy nope does not exist');
    assert.deepEqual((await ix.getArchivePolicy('p'))?.definition, newDef);
  } finally {
    await done();
  }
});

test('deleting policies: missing, used by a metric (even soft-deleted) or by a rule', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await assert.rejects(ix.deleteArchivePolicy('nope'), (e: unknown) =>
      e instanceof NoSuchArchivePolicy && e.message === 'Archive policy nope does not exist'
      && e.jsonify().cause === 'Archive policy does not exist' && e.jsonify().detail === 'nope');

    await ix.createArchivePolicy(policy('used'));
    const m = await ix.createMetric({ creator: 'u', archivePolicyName: 'used' });
    const inUse = (e: unknown): boolean => e instanceof ArchivePolicyInUse && e.message === 'Archive policy used is still in use';
    await assert.rejects(ix.deleteArchivePolicy('used'), inUse);
    assert.equal(await ix.deleteMetric(m.id), true);
    // The row still references the policy until metricd expunges it.
    await assert.rejects(ix.deleteArchivePolicy('used'), inUse);
    assert.equal(await ix.expungeMetric(m.id), true);

    await ix.createArchivePolicyRule({ name: 'r', metricPattern: '*', archivePolicyName: 'used' });
    await assert.rejects(ix.deleteArchivePolicy('used'), inUse);
    await ix.deleteArchivePolicyRule('r');

    await ix.deleteArchivePolicy('used');
    assert.equal(await ix.getArchivePolicy('used'), null);
    // Its items went with it: re-creating the name starts clean.
    await ix.createArchivePolicy(policy('used', { definition: [{ granularity: SECOND, points: null, timespan: null }] }));
    assert.deepEqual((await ix.getArchivePolicy('used'))?.definition, [{ granularity: SECOND, points: null, timespan: null }]);
  } finally {
    await done();
  }
});
