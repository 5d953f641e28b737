// migrate() end to end in one process, with a Tally data folder as the source (its Gnocchi
// API reached through inject) so that the unit tests cover the whole flow: a source call
// that keeps failing makes its item fail and the next run copy it, nothing twice, a
// conflicting item is refused, and every read of the copy answers as the source does.
// The same against the real Gnocchi 4.4.2: scripts/migrate-e2e.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import {
  GnocchiClient, GnocchiTransportError, InjectTransport, type RawResponse, type RequestSpec, type Transport,
} from '@tally/client';
import { buildApi, DEFAULT_HTTP_CONFIG } from '@tally/rest';
import { resolveSettings } from './config.js';
import { migrate, type MigrationReport } from './migrate.js';
import { openServices, upgrade, type Services } from './services.js';

interface Store {
  svc: Services;
  api: FastifyInstance;
  client: GnocchiClient;
  close(): Promise<void>;
}

async function openStore(dir: string): Promise<Store> {
  const s = resolveSettings({ dataDir: dir }, {});
  const svc = await openServices(s);
  await upgrade(svc.indexer, { skipArchivePolicies: true, skipResourceTypes: true });
  const api = buildApi({ ...svc, processor: svc.refresher, version: 'test' }, { ...DEFAULT_HTTP_CONFIG, authMode: 'basic' });
  await api.ready();
  const transport = new InjectTransport(async (req) => {
    const res = await api.inject({ method: req.method as HTTPMethods, url: req.url, headers: req.headers, payload: req.payload });
    return { statusCode: res.statusCode, headers: res.headers, rawPayload: res.rawPayload };
  }, { auth: { type: 'basic', user: 'admin' } });
  return {
    svc, api, client: new GnocchiClient({ transport }),
    async close() {
      await api.close();
      await svc.close();
    },
  };
}

/** A transport that fails, as a network would, every call whose path matches while `failing`. */
class FaultyTransport implements Transport {
  failing = true;
  failures = 0;
  constructor(private readonly inner: Transport, private readonly match: RegExp) {}
  request(spec: RequestSpec): Promise<RawResponse> {
    this.check(spec);
    return this.inner.request(spec);
  }
  json<T>(spec: RequestSpec): Promise<{ value: T; res: RawResponse }> {
    this.check(spec);
    return this.inner.json<T>(spec);
  }
  close(): void {}
  private check(spec: RequestSpec): void {
    if (this.failing && this.match.test(spec.path)) {
      this.failures++;
      throw new GnocchiTransportError(spec.method, spec.path, 'ECONNRESET', 'socket hang up', 5);
    }
  }
}

const T0 = Date.UTC(2024, 0, 1) / 1000;
const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', '+00:00');

async function seed(c: GnocchiClient): Promise<string[]> {
  await c.archivePolicy.create({
    name: 'fine', back_window: 0, aggregation_methods: ['mean', 'max', 'std', 'count', 'rate:mean'],
    definition: [{ granularity: '10s', points: 360 }, { granularity: '1h', timespan: '7 days' }],
  });
  await c.archivePolicyRule.create({ name: 'all', metric_pattern: '*', archive_policy_name: 'fine' });
  await c.resourceType.create({ name: 'box', attributes: { host: { type: 'string', required: true, max_length: 32 }, size: { type: 'number', required: false } } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await c.resource.create('box', { id: `box-${i}`, host: `h${i}`, project_id: 'p', metrics: { cpu: { archive_policy_name: 'fine' } } });
    await c.resource.update('box', `box-${i}`, { host: `h${i}-new`, size: i });
    ids.push(r.metrics.cpu);
  }
  ids.push((await c.metric.create({ archive_policy_name: 'fine', name: 'alone', unit: 'B' })).id);
  for (const [j, id] of ids.entries()) {
    await c.metric.addMeasures(id, Array.from({ length: 400 }, (_v, k) => ({ timestamp: iso(T0 + k * 7), value: ((k * (j + 2)) % 31) - 10 })));
    await c.metric.measures(id, { refresh: true });
  }
  return ids;
}

/** The same reads from both stores must give the same answers. */
async function sameReads(a: GnocchiClient, b: GnocchiClient, metricIds: string[]): Promise<void> {
  const byName = <T extends { name: string }>(l: T[]) => [...l].sort((x, y) => (x.name < y.name ? -1 : 1));
  assert.deepEqual(byName(await b.archivePolicy.list()), byName(await a.archivePolicy.list()));
  assert.deepEqual(await b.archivePolicyRule.list(), await a.archivePolicyRule.list());
  assert.deepEqual(byName(await b.resourceType.list()), byName(await a.resourceType.list()));
  const resources = (await a.resource.list('box', { sort: 'id:asc' })).items;
  assert.deepEqual((await b.resource.list('box', { sort: 'id:asc' })).items, resources);
  for (const r of resources) assert.deepEqual((await b.resource.history('box', r.id)).items, (await a.resource.history('box', r.id)).items);
  assert.deepEqual((await b.metric.list({ sort: 'id:asc' })).items, (await a.metric.list({ sort: 'id:asc' })).items);
  for (const id of metricIds) {
    for (const aggregation of ['mean', 'max', 'std', 'count', 'rate:mean']) {
      for (const granularity of [10, 3600]) {
        const want = await a.metric.measures(id, { aggregation, granularity });
        assert.ok(want.length > 0 || aggregation === 'rate:mean');
        assert.deepEqual(await b.metric.measures(id, { aggregation, granularity }), want, `${id} ${aggregation} ${granularity}`);
      }
    }
  }
}

test('migrate: a failing source call fails its item, the next run copies it, nothing twice; the copy reads as the source', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-migrate-flow-'));
  const source = await openStore(join(dir, 'source'));
  const target = await openStore(join(dir, 'target'));
  t.after(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const metricIds = await seed(source.client);
  const faulty = new FaultyTransport(source.client.transport, new RegExp(`^/v1/metric/${metricIds[1]}/measures$`));
  const run = (): Promise<MigrationReport> => migrate({
    source: new GnocchiClient({ transport: faulty }), sourceUrl: 'inject://source',
    indexer: target.svc.indexer, storage: target.svc.storage, incoming: target.svc.incoming, coordinator: target.svc.coordinator,
    journalPath: join(dir, 'journal.jsonl'), concurrency: 2,
  });

  const first = await run();
  assert.ok(faulty.failures > 0);
  assert.deepEqual(first.failed.map((f) => [f.kind, f.id]), [['metric', metricIds[1]]]);
  assert.match(first.failed[0].reason, /no answer from Gnocchi to GET .* \(ECONNRESET\)/);
  assert.deepEqual({ ...first.copied, aggregate_points: 0 }, {
    policies: 1, rules: 1, resource_types: 1, resources: 3, revisions: 6, metrics: 4, aggregate_points: 0,
  });
  assert.equal(first.alreadyDone.resource_types, 1); // generic, which every index has

  faulty.failing = false;
  const second = await run();
  assert.deepEqual(second.failed, []);
  assert.deepEqual(second.skipped, []);
  // Only the failed metric's aggregates were left to copy.
  assert.deepEqual({ ...second.copied, aggregate_points: 0 }, {
    policies: 0, rules: 0, resource_types: 0, resources: 0, revisions: 0, metrics: 0, aggregate_points: 0,
  });
  assert.ok(second.copied.aggregate_points > 0);
  assert.deepEqual({ ...second.alreadyDone, aggregate_points: 0 }, {
    policies: 1, rules: 1, resource_types: 2, resources: 3, revisions: 6, metrics: 4, aggregate_points: 0,
  });
  assert.equal(second.alreadyDone.aggregate_points, first.copied.aggregate_points);
  assert.equal((await target.svc.indexer.listMetrics()).length, 4);
  assert.equal((await target.svc.indexer.listResources({ history: true })).length, 6);

  await sameReads(source.client, target.client, metricIds);
});

test('migrate: an item Tally already holds with another definition is a failure, not overwritten', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-migrate-conflict-'));
  const source = await openStore(join(dir, 'source'));
  const target = await openStore(join(dir, 'target'));
  t.after(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await source.client.archivePolicy.create({ name: 'p', definition: [{ granularity: '1m', points: 10 }] });
  await target.client.archivePolicy.create({ name: 'p', definition: [{ granularity: '1m', points: 20 }] });
  await source.client.metric.create({ archive_policy_name: 'p', name: 'm' });
  const report = await migrate({
    source: source.client, sourceUrl: 'inject://source',
    indexer: target.svc.indexer, storage: target.svc.storage, incoming: target.svc.incoming, coordinator: target.svc.coordinator,
    journalPath: join(dir, 'journal.jsonl'),
  });
  assert.deepEqual(report.failed.map((f) => [f.kind, f.id]), [['policy', 'p']]);
  assert.match(report.failed[0].reason, /already has an archive policy p with another definition/);
  // Its metric depends on it: skipped, with the reason.
  assert.equal(report.skipped.length, 1);
  assert.match(report.skipped[0].reason, /archive policy p was not copied/);
  assert.equal((await target.client.archivePolicy.get('p')).definition[0].points, 20);
});
