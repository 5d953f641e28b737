import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricCache } from './metric-cache.js';
import { openIndexer } from './index.js';
import { connect, parseIndexerUrl } from './connect.js';
import { SqlIndexer } from './sql-indexer.js';
import { freshIndexer, policy, tempDir } from './test-util.js';
import type { Metric } from './types.js';

const metric = (id: string, status: Metric['status'] = 'active'): Metric => ({
  id, archivePolicyName: 'low', creator: 'u:p', createdByUserId: 'u', createdByProjectId: 'p', name: null, unit: null, resourceId: null, status,
});

test('the cache keeps what was read under an unchanged stamp, and empties when the stamp moves', () => {
  let stamp: string | null = '1:0';
  const c = new MetricCache(() => stamp);
  assert.equal(c.begin(), '1:0');
  c.store('1:0', [metric('a'), metric('d', 'delete')]);
  assert.equal(c.get('a')?.id, 'a');
  assert.equal(c.get('d'), undefined, 'only active metrics are kept');
  const got = c.get('a') as Metric;
  got.resourceId = 'changed by a caller';
  assert.equal(c.get('a')?.resourceId, null, 'callers get copies');
  // Read under one stamp, stored after the database changed: refused.
  c.store('0:9', [metric('b')]);
  assert.equal(c.get('b'), undefined);
  stamp = '1:1';
  assert.equal(c.begin(), '1:1');
  assert.equal(c.get('a'), undefined, 'a change anywhere empties the cache');
  stamp = null;
  assert.equal(c.begin(), null, 'nothing is cached while the stamp is unknown');
  assert.equal(new MetricCache(undefined).begin(), null);
});

test('getMetrics never answers from before a change, by this connection or another', async () => {
  const { ix, url, done } = await freshIndexer();
  const other = await openIndexer(url);
  try {
    await ix.createArchivePolicy(policy('low'));
    const a = await ix.createMetric({ archivePolicyName: 'low', creator: 'u:p' });
    const b = await ix.createMetric({ archivePolicyName: 'low', creator: 'u:p' });
    const ids = (ms: Metric[]): string[] => ms.map((m) => m.id);
    assert.deepEqual(ids(await ix.getMetrics([a.id, b.id])), [a.id, b.id].sort());
    assert.deepEqual(ids(await ix.getMetrics([a.id.toUpperCase()])), [a.id], 'ids are case-insensitive, cached or not');
    // Deleted through this connection: gone at once.
    await ix.deleteMetric(a.id);
    assert.deepEqual(ids(await ix.getMetrics([a.id, b.id])), [b.id]);
    // Deleted through another connection (another process's metricd or API): gone at once too.
    assert.deepEqual(ids(await other.getMetrics([b.id])), [b.id]);
    await other.deleteMetric(b.id);
    assert.deepEqual(await ix.getMetrics([b.id]), []);
    // A metric attached to a resource by the other connection shows its resource.
    const c = await ix.createMetric({ archivePolicyName: 'low', creator: 'u:p' });
    assert.equal((await ix.getMetrics([c.id]))[0].resourceId, null);
    const r = await other.createResource({ type: 'generic', id: '8f6b0c3a-2d7e-4c55-9a3b-0d1e2f3a4b5c', creator: 'u:p', metrics: { cpu: { id: c.id } } });
    assert.equal((await ix.getMetrics([c.id]))[0].resourceId, r.id);
    // The resource deleted by this connection takes its metrics with it.
    await ix.deleteResource(r.id);
    assert.deepEqual(await ix.getMetrics([c.id]), []);
  } finally {
    await other.close();
    await done();
  }
});

test('repeated lookups of unchanged metrics are answered without a query', async () => {
  const { dir, cleanup } = await tempDir();
  const { db, dialect, dataVersion, changes } = await connect(parseIndexerUrl(`sqlite://${dir}/index.db`));
  let metricReads = 0;
  const counted = new Proxy(db, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'selectFrom') return (table: string) => { if (table === 'metric') metricReads++; return target.selectFrom(table as 'metric'); };
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const ix = new SqlIndexer(counted, dialect, {}, { dataVersion, changes });
  try {
    await ix.upgrade();
    await ix.createArchivePolicy(policy('low'));
    const a = await ix.createMetric({ archivePolicyName: 'low', creator: 'u:p' });
    const before = metricReads;
    for (let i = 0; i < 5; i++) assert.equal((await ix.getMetrics([a.id]))[0].id, a.id);
    assert.equal(metricReads - before, 1, 'one query, then the cache');
    await ix.deleteMetric(a.id);
    assert.deepEqual(await ix.getMetrics([a.id]), []);
    assert.equal(metricReads - before, 2, 'a change sends the next lookup to the database');
  } finally {
    await ix.close();
    await cleanup();
  }
});
