import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArchivePolicyRuleAlreadyExists,
  NoArchivePolicyRuleMatch,
  NoSuchArchivePolicy,
  NoSuchArchivePolicyRule,
  UnsupportedArchivePolicyRuleChange,
} from './errors.js';
import { freshIndexer, policy } from './test-util.js';

test('rules: create, get, list in Gnocchi order (pattern desc, name asc)', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await ix.createArchivePolicy(policy('low'));
    await ix.createArchivePolicy(policy('high'));
    assert.deepEqual(await ix.createArchivePolicyRule({ name: 'test_rule1', metricPattern: '*', archivePolicyName: 'low' }),
      { name: 'test_rule1', metricPattern: '*', archivePolicyName: 'low' });
    await ix.createArchivePolicyRule({ name: 'test_rule2', metricPattern: 'disk.foo.*', archivePolicyName: 'low' });
    await ix.createArchivePolicyRule({ name: 'test_rule3', metricPattern: 'disk.*', archivePolicyName: 'low' });
    await ix.createArchivePolicyRule({ name: 'b_same', metricPattern: 'disk.*', archivePolicyName: 'high' });
    assert.deepEqual((await ix.listArchivePolicyRules()).map((r) => [r.metricPattern, r.name]), [
      ['disk.foo.*', 'test_rule2'], ['disk.*', 'b_same'], ['disk.*', 'test_rule3'], ['*', 'test_rule1'],
    ]);
    assert.deepEqual(await ix.getArchivePolicyRule('test_rule3'),
      { name: 'test_rule3', metricPattern: 'disk.*', archivePolicyName: 'low' });
    assert.equal(await ix.getArchivePolicyRule('nope'), null);
  } finally {
    await done();
  }
});

test('rule creation errors', async () => {
  const { ix, done } = await freshIndexer('memory');
  try {
    await ix.createArchivePolicy(policy('low'));
    await ix.createArchivePolicyRule({ name: 'r', metricPattern: '*', archivePolicyName: 'low' });
    await assert.rejects(ix.createArchivePolicyRule({ name: 'r', metricPattern: 'x.*', archivePolicyName: 'low' }),
      (e: unknown) => e instanceof ArchivePolicyRuleAlreadyExists && e.message === 'Archive policy rule r already exists');
    await assert.rejects(ix.createArchivePolicyRule({ name: 'r2', metricPattern: 'x.*', archivePolicyName: 'not-exists' }),
      (e: unknown) => e instanceof NoSuchArchivePolicy && e.jsonify().detail === 'not-exists');
    assert.equal((await ix.listArchivePolicyRules()).length, 1);
  } finally {
    await done();
  }
});

test('rename and delete rules', async () => {
  const { ix, done } = await freshIndexer();
  try {
    await ix.createArchivePolicy(policy('low'));
    await ix.createArchivePolicyRule({ name: 'test_rule2', metricPattern: 'disk.foo.*', archivePolicyName: 'low' });
    await ix.createArchivePolicyRule({ name: 'test_rule3', metricPattern: 'disk.*', archivePolicyName: 'low' });
    assert.deepEqual(await ix.renameArchivePolicyRule('test_rule3', 'test_rule3_renamed'),
      { name: 'test_rule3_renamed', metricPattern: 'disk.*', archivePolicyName: 'low' });
    assert.equal(await ix.getArchivePolicyRule('test_rule3'), null);
    // Renaming to itself is a no-op, as in Gnocchi.
    assert.equal((await ix.renameArchivePolicyRule('test_rule2', 'test_rule2')).name, 'test_rule2');
    await assert.rejects(ix.renameArchivePolicyRule('test_rule2', 'test_rule3_renamed'), (e: unknown) =>
      e instanceof UnsupportedArchivePolicyRuleChange
      && e.message === 'Archive policy rule test_rule2 does not support change: Archive policy rule test_rule3_renamed already exists.');
    await assert.rejects(ix.renameArchivePolicyRule('nope', 'zzz'), (e: unknown) =>
      e instanceof NoSuchArchivePolicyRule && e.message === 'Archive policy rule nope does not exist');

    await ix.deleteArchivePolicyRule('test_rule2');
    await assert.rejects(ix.deleteArchivePolicyRule('test_rule2'), NoSuchArchivePolicyRule);
    await assert.rejects(ix.deleteArchivePolicyRule('✔éñ☃'), (e: unknown) =>
      e instanceof Error && e.message === 'Archive policy rule ✔éñ☃ does not exist');
    assert.deepEqual((await ix.listArchivePolicyRules()).map((r) => r.name), ['test_rule3_renamed']);
  } finally {
    await done();
  }
});

test('getArchivePolicyForMetric applies the first matching rule in list order', async () => {
  const { ix, done } = await freshIndexer('memory');
  try {
    await assert.rejects(ix.getArchivePolicyForMetric('disk.io'), (e: unknown) =>
      e instanceof NoArchivePolicyRuleMatch && e.message === 'No Archive policy rule found for metric disk.io');
    await assert.rejects(ix.getArchivePolicyForMetric(null), (e: unknown) =>
      e instanceof NoArchivePolicyRuleMatch && e.message === 'No Archive policy rule found for metric None');
    await ix.createArchivePolicy(policy('low'));
    await ix.createArchivePolicy(policy('mid'));
    await ix.createArchivePolicy(policy('high'));
    await ix.createArchivePolicyRule({ name: 'all', metricPattern: '*', archivePolicyName: 'low' });
    await ix.createArchivePolicyRule({ name: 'disk', metricPattern: 'disk.*', archivePolicyName: 'mid' });
    await ix.createArchivePolicyRule({ name: 'diskfoo', metricPattern: 'disk.foo.*', archivePolicyName: 'high' });
    assert.equal((await ix.getArchivePolicyForMetric('disk.foo.bar')).name, 'high');
    assert.equal((await ix.getArchivePolicyForMetric('disk.io')).name, 'mid');
    assert.equal((await ix.getArchivePolicyForMetric('cpu')).name, 'low');
    assert.equal((await ix.getArchivePolicyForMetric(null)).name, 'low');
    assert.equal((await ix.getArchivePolicyForMetric('DISK.io')).name, 'low');
  } finally {
    await done();
  }
});
