// Every call of the client against a live Gnocchi-compatible server, shared by the tests
// against an in-process Tally and against the real Gnocchi 4.4.2. The server must run in
// basic auth mode with a page size (max_limit) below 9.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { GnocchiClient } from './client.js';
import { GnocchiApiError } from './errors.js';
import type { Measure, MetricsAggregates, Resource } from './types.js';

export interface SuiteTarget {
  url: string;
  close(): Promise<void>;
}

const T0 = '2024-01-01T00:00:00+00:00';
const at = (s: number): string => new Date(Date.UTC(2024, 0, 1) + s * 1000).toISOString().replace('.000Z', '+00:00');

async function rejectsWith(p: Promise<unknown>, status: number, check?: (e: GnocchiApiError) => void): Promise<void> {
  const e = await p.then(() => null, (x: unknown) => x);
  assert.ok(e instanceof GnocchiApiError, `expected GnocchiApiError ${status}, got ${String(e)}`);
  assert.equal(e.status, status, e.message);
  check?.(e);
}

export function apiSuite(name: string, open: () => Promise<SuiteTarget>): void {
  describe(name, () => {
    let target: SuiteTarget;
    let c: GnocchiClient;
    const tag = randomUUID().slice(0, 8);
    const ap = `client-${tag}`;

    before(async () => {
      target = await open();
      c = new GnocchiClient({ url: target.url, auth: { type: 'basic', user: 'admin' }, timeoutMs: 20_000 });
      await c.archivePolicy.create({ name: ap, back_window: 0, definition: [{ granularity: '1 second', points: 3600 }], aggregation_methods: ['mean', 'max', 'sum', 'count'] });
    });
    after(async () => {
      c?.close();
      await target?.close();
    });

    it('GET /, /v1, capabilities', async () => {
      const v = await c.versions();
      assert.equal(v.versions[0].id, 'v1.0');
      assert.equal(v.versions[0].status, 'CURRENT');
      const idx = await c.v1();
      assert.equal(idx.version, '1.0');
      assert.ok(idx.links.some((l) => l.rel === 'metric' && l.href.endsWith('/v1/metric')));
      const caps = await c.capabilities();
      for (const m of ['mean', 'max', 'rate:mean', '95pct']) assert.ok(caps.aggregation_methods.includes(m), m);
    });

    it('archive policies: create, get, list, update, delete; errors decoded', async () => {
      const name = `ap-${tag}`;
      const created = await c.archivePolicy.create({ name, definition: [{ granularity: 60, timespan: '1 hour' }], aggregation_methods: ['mean'] });
      assert.deepEqual(created, { name, back_window: 0, definition: [{ granularity: '0:01:00', points: 60, timespan: '1:00:00' }], aggregation_methods: ['mean'] });
      assert.deepEqual(await c.archivePolicy.get(name), created);
      assert.ok((await c.archivePolicy.list()).some((p) => p.name === name));
      const updated = await c.archivePolicy.update(name, [{ granularity: '1 minute', points: 120 }]);
      assert.deepEqual(updated.definition, [{ granularity: '0:01:00', points: 120, timespan: '2:00:00' }]);
      await rejectsWith(c.archivePolicy.create({ name, definition: [{ granularity: 1, points: 1 }] }), 409, (e) => {
        assert.equal(e.title, 'Conflict');
        assert.equal(e.description, `Archive policy ${name} already exists`);
        assert.equal(e.method, 'POST');
        assert.ok(e.url.endsWith('/v1/archive_policy'));
      });
      await c.archivePolicy.delete(name);
      await rejectsWith(c.archivePolicy.get(name), 404, (e) => assert.equal(e.title, 'Not Found'));
      await rejectsWith(c.archivePolicy.create({ name: `bad-${tag}`, definition: [] }), 400, (e) => {
        assert.equal(e.title, 'Bad Request');
        assert.equal(e.reasonCause, 'Invalid input');
      });
    });

    it('archive policy rules: create, get, list, rename, delete; a metric named after the rule gets its policy', async () => {
      const rule = { name: `rule-${tag}`, metric_pattern: `ruled.${tag}.*`, archive_policy_name: ap };
      assert.deepEqual(await c.archivePolicyRule.create(rule), rule);
      assert.deepEqual(await c.archivePolicyRule.get(rule.name), rule);
      assert.ok((await c.archivePolicyRule.list()).some((r) => r.name === rule.name));
      const m = await c.metric.create({ name: `ruled.${tag}.cpu` });
      assert.equal(m.archive_policy_name, ap);
      const renamed = await c.archivePolicyRule.rename(rule.name, `${rule.name}-2`);
      assert.deepEqual(renamed, { ...rule, name: `${rule.name}-2` });
      await c.archivePolicyRule.delete(`${rule.name}-2`);
      await rejectsWith(c.archivePolicyRule.get(`${rule.name}-2`), 404);
      await c.metric.delete(m.id);
    });

    it('metrics: create, get, list page by page, delete', async () => {
      const unit = `u-${tag}`;
      const made = [];
      for (let i = 0; i < 9; i++) made.push(await c.metric.create({ archive_policy_name: ap, name: `m${i}`, unit }));
      const m = made[0];
      assert.equal(m.archive_policy_name, ap);
      assert.equal(m.resource_id, null);
      assert.equal(m.creator, 'admin');
      assert.equal(m.created_by_user_id, 'admin');
      const got = await c.metric.get(m.id);
      assert.equal(got.id, m.id);
      assert.equal(got.resource, null);
      assert.equal(got.archive_policy.name, ap);
      assert.equal(got.archive_policy.definition[0].granularity, '0:00:01');

      const first = await c.metric.list({ unit, limit: 4, sort: 'name:asc' });
      assert.deepEqual(first.items.map((x) => x.name), ['m0', 'm1', 'm2', 'm3']);
      assert.equal(first.items[0].archive_policy.name, ap);
      assert.ok(first.next, 'a next page');
      assert.equal(first.next.marker, first.items[3].id);
      const second = await c.metric.list(first.next);
      assert.deepEqual(second.items.map((x) => x.name), ['m4', 'm5', 'm6', 'm7']);
      const all: string[] = [];
      for await (const x of c.metric.listAll({ unit, sort: 'name:asc', limit: 4 })) all.push(x.name ?? '');
      assert.deepEqual(all, made.map((x) => x.name));
      // Without a limit, pages are the server's max_limit long: still every metric.
      const ids = new Set<string>();
      for await (const x of c.metric.listAll({ unit })) ids.add(x.id);
      assert.equal(ids.size, 9);

      for (const x of made) await c.metric.delete(x.id);
      await rejectsWith(c.metric.get(m.id), 404);
      assert.deepEqual((await c.metric.list({ unit })).items, []);
    });

    it('measures: post, then read with every query option', async () => {
      const m = await c.metric.create({ archive_policy_name: ap });
      await c.metric.addMeasures(m.id, [
        { timestamp: T0, value: 1 }, { timestamp: at(1), value: 2 }, { timestamp: at(2), value: 4 }, { timestamp: at(3), value: 8.5 },
      ]);
      const all = await c.metric.measures(m.id, { refresh: true });
      assert.deepEqual(all, [[T0, 1, 1], [at(1), 1, 2], [at(2), 1, 4], [at(3), 1, 8.5]]);
      assert.deepEqual(await c.metric.measures(m.id, { start: at(1), stop: at(3) }), [[at(1), 1, 2], [at(2), 1, 4]]);
      assert.deepEqual(await c.metric.measures(m.id, { aggregation: 'count', granularity: 1, start: at(3) }), [[at(3), 1, 1]]);
      assert.deepEqual(await c.metric.measures(m.id, { aggregation: 'sum', granularity: '1s', resample: 2 }), [[T0, 2, 3], [at(2), 2, 12.5]]);
      assert.deepEqual(await c.metric.measures(m.id, { aggregation: 'max', granularity: 1, resample: 'Y' }), [['2024-01-01T00:00:00+00:00', 'Y', 8.5]]);
      await rejectsWith(c.metric.measures(m.id, { aggregation: 'min' }), 404, (e) => {
        assert.equal(e.reasonCause, 'Aggregation method does not exist for this metric');
      });
      await rejectsWith(c.metric.addMeasures(m.id, [{ timestamp: 'not a time', value: 1 }]), 400, (e) => assert.equal(e.reasonCause, 'Invalid input'));
      await c.metric.delete(m.id);
    });

    it('batch: measures of metrics by id, and of resources by metric name with create_metrics', async () => {
      const a = await c.metric.create({ archive_policy_name: ap });
      const b = await c.metric.create({ archive_policy_name: ap });
      await c.batch.metricsMeasures({ [a.id]: [{ timestamp: T0, value: 5 }], [b.id]: [{ timestamp: T0, value: 7 }, { timestamp: at(1), value: 9 }] });
      assert.deepEqual(await c.metric.measures(a.id, { refresh: true }), [[T0, 1, 5]]);
      assert.deepEqual(await c.metric.measures(b.id, { refresh: true }), [[T0, 1, 7], [at(1), 1, 9]]);
      await rejectsWith(c.batch.metricsMeasures({ [randomUUID()]: [{ timestamp: T0, value: 1 }] }), 400, (e) => assert.match(String(e.description), /^Unknown metrics: /));

      const rid = randomUUID();
      await c.resource.create('generic', { id: rid, project_id: randomUUID() });
      await rejectsWith(c.batch.resourcesMetricsMeasures({ [rid]: { cpu: [{ timestamp: T0, value: 1 }] } }), 400);
      await c.batch.resourcesMetricsMeasures({
        [rid]: { cpu: { archive_policy_name: ap, unit: 'ns', measures: [{ timestamp: T0, value: 3 }] } },
      }, { createMetrics: true });
      const r = await c.resource.get('generic', rid);
      assert.deepEqual(Object.keys(r.metrics), ['cpu']);
      assert.deepEqual(await c.resource.measures('generic', rid, 'cpu', { refresh: true }), [[T0, 1, 3]]);
      // The old format (a bare list) for a metric that now exists.
      await c.batch.resourcesMetricsMeasures({ [rid]: { cpu: [{ timestamp: at(1), value: 4 }] } });
      await c.resource.addMeasures('generic', rid, 'cpu', [{ timestamp: at(2), value: 5 }]);
      assert.deepEqual((await c.metric.measures(r.metrics.cpu, { refresh: true })).map((x: Measure) => x[2]), [3, 4, 5]);
      await c.resource.delete('generic', rid);
    });

    it('resource types and resources: create, get, patch, history, list, search, delete', async () => {
      const type = `host_${tag}`;
      const rt = await c.resourceType.create({ name: type, attributes: { host: { type: 'string', required: true, max_length: 64 }, cores: { type: 'number', required: false, min: 1 } } });
      assert.equal(rt.name, type);
      assert.equal(rt.state, 'active');
      assert.deepEqual(rt.attributes.host, { type: 'string', required: true, min_length: 0, max_length: 64 });
      assert.deepEqual(rt.attributes.cores, { type: 'number', required: false, min: 1, max: null });
      assert.deepEqual(await c.resourceType.get(type), rt);
      assert.ok((await c.resourceType.list()).some((x) => x.name === type));
      const patched = await c.resourceType.update(type, [{ op: 'add', path: '/attributes/rack', value: { type: 'string', required: false } }]);
      assert.deepEqual(Object.keys(patched.attributes).sort(), ['cores', 'host', 'rack']);

      const project = randomUUID();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      type Host = { host: string; cores: number | null; rack: string | null };
      const made: Resource<Host>[] = [];
      for (const [i, id] of ids.entries()) {
        made.push(await c.resource.create<Host>(type, { id, project_id: project, user_id: null, host: `h${i}`, cores: i + 1, started_at: T0, metrics: { load: { archive_policy_name: ap } } }));
      }
      const r0 = made[0];
      assert.equal(r0.id, ids[0]);
      assert.equal(r0.type, type);
      assert.equal(r0.host, 'h0');
      assert.equal(r0.cores, 1);
      assert.equal(r0.started_at, T0);
      assert.equal(r0.ended_at, null);
      assert.equal(r0.revision_end, null);
      assert.deepEqual(Object.keys(r0.metrics), ['load']);
      assert.deepEqual(await c.resource.get<Host>(type, ids[0]), r0);

      const p = await c.resource.update<Host>(type, ids[0], { cores: 16, ended_at: at(3600) });
      assert.equal(p.cores, 16);
      assert.equal(p.ended_at, at(3600));
      const history = await c.resource.history<Host>(type, ids[0]);
      assert.deepEqual(history.items.map((x) => x.cores), [1, 16]);
      assert.equal(history.items[0].revision_end, history.items[1].revision_start);

      const listed = await c.resource.list<Host>(type, { sort: 'host:asc', limit: 2 });
      assert.deepEqual(listed.items.map((x) => x.host), ['h0', 'h1']);
      assert.ok(listed.next);
      const rest = [];
      for await (const x of c.resource.listAll<Host>(type, { sort: 'host:asc', limit: 2 })) rest.push(x.host);
      assert.deepEqual(rest, ['h0', 'h1', 'h2']);
      assert.deepEqual((await c.resource.list(type, { attrs: ['id', 'host'], sort: 'host:asc' })).items.map((x) => Object.keys(x).sort()), [['host', 'id'], ['host', 'id'], ['host', 'id']]);
      assert.equal((await c.resource.list(type, { history: true })).items.length, 4);

      // h0 has 16 cores since the patch, h1 2, h2 3.
      const found = await c.resource.search<Host>(type, { and: [{ '=': { project_id: project } }, { '>=': { cores: 3 } }] }, { sort: 'host:asc' });
      assert.deepEqual(found.items.map((x) => x.host), ['h0', 'h2']);
      const byIn = await c.resource.search<Host>(type, { in: { host: ['h1', 'h2'] } }, { sort: 'host:desc' });
      assert.deepEqual(byIn.items.map((x) => x.host), ['h2', 'h1']);
      const byNot = await c.resource.search<Host>(type, { not: { '=': { host: 'h1' } } }, { sort: 'host:asc' });
      assert.deepEqual(byNot.items.map((x) => x.host), ['h0', 'h2']);
      const byText = await c.resource.search<Host>(type, 'host = "h2"');
      assert.deepEqual(byText.items.map((x) => x.id), [ids[2]]);
      const generic = await c.resource.search('generic', { '=': { project_id: project } });
      assert.equal(generic.items.length, 3);
      const pages: string[] = [];
      for await (const x of c.resource.searchAll<Host>(type, { '=': { project_id: project } }, { limit: 1, sort: 'host:asc' })) pages.push(x.host);
      assert.deepEqual(pages, ['h0', 'h1', 'h2']);
      await rejectsWith(c.resource.search(type, { '=': { nosuch: 1 } }), 400);

      await c.resource.delete(type, ids[2]);
      await rejectsWith(c.resource.get(type, ids[2]), 404);
      assert.equal(await c.resource.deleteMatching(type, { '=': { project_id: project } }), 2);
      assert.deepEqual((await c.resource.list(type)).items, []);
      assert.deepEqual(Object.keys((await c.resourceType.update(type, [{ op: 'remove', path: '/attributes/rack' }])).attributes).sort(), ['cores', 'host']);
      // (Gnocchi refuses to delete a type whose resources were deleted while their revisions
      // remain: a type of its own.)
      const empty = await c.resourceType.create({ name: `${type}_empty` });
      assert.deepEqual(empty.attributes, {});
      await c.resourceType.delete(empty.name);
      await rejectsWith(c.resourceType.get(empty.name), 404);
    });

    it('aggregates: operations over metrics, resources, groupby, needed_overlap and fill', async () => {
      const a = await c.metric.create({ archive_policy_name: ap });
      const b = await c.metric.create({ archive_policy_name: ap });
      await c.batch.metricsMeasures({
        [a.id]: [{ timestamp: T0, value: 1 }, { timestamp: at(1), value: 3 }, { timestamp: at(2), value: 5 }],
        [b.id]: [{ timestamp: T0, value: 3 }, { timestamp: at(2), value: 7 }],
      });
      await c.metric.measures(a.id, { refresh: true });
      await c.metric.measures(b.id, { refresh: true });

      // Neither fill nor needed_overlap: points missing from a series are dropped, not filled.
      const mean = await c.aggregates.metrics(`(aggregate mean (metric (${a.id} mean) (${b.id} mean)))`);
      assert.deepEqual(mean.measures, { aggregated: [[T0, 1, 2], [at(1), 1, 3], [at(2), 1, 6]] });
      const nested = await c.aggregates.metrics(['aggregate', 'max', ['metric', [a.id, 'mean'], [b.id, 'mean']]], { fill: 0, details: true });
      assert.deepEqual(nested.measures, { aggregated: [[T0, 1, 3], [at(1), 1, 3], [at(2), 1, 7]] });
      assert.deepEqual(nested.references?.map((m) => m.id).sort(), [a.id, b.id].sort());
      const filled: MetricsAggregates = await c.aggregates.metrics(`(metric ${b.id} mean)`, { fill: 'null', needed_overlap: 0, start: T0, stop: at(3) });
      const series = (filled.measures as Record<string, Record<string, Measure[]>>)[b.id].mean;
      assert.deepEqual(series.map((x) => x[2]), [3, 7]);
      // fill=null: b's missing point, aligned on a's, comes as NaN (a bare token in the body).
      const withNaN = await c.aggregates.metrics(`(metric (${a.id} mean) (${b.id} mean))`, { fill: 'null', needed_overlap: 0 });
      const nan = (withNaN.measures as Record<string, Record<string, Measure[]>>)[b.id].mean;
      assert.deepEqual(nan.map((x) => x[0]), [T0, at(1), at(2)]);
      assert.ok(Number.isNaN(nan[1][2]), 'NaN read back as a number');
      assert.deepEqual([nan[0][2], nan[2][2]], [3, 7]);
      await rejectsWith(c.aggregates.metrics(`(aggregate mean (metric (${a.id} mean) (${b.id} mean)))`, { needed_overlap: 100, granularity: 1 }), 400);
      await rejectsWith(c.aggregates.metrics(`(metric ${randomUUID()} mean)`), 404, (e) => assert.equal(e.reasonCause, 'Unknown metrics'));

      const project = randomUUID();
      const p2 = randomUUID();
      const rids = [randomUUID(), randomUUID(), randomUUID()];
      const owners = [project, project, p2];
      for (const [i, id] of rids.entries()) {
        await c.resource.create('generic', { id, project_id: owners[i], metrics: { temp: { archive_policy_name: ap } } });
      }
      await c.batch.resourcesMetricsMeasures(Object.fromEntries(rids.map((id, i) => [id, { temp: [{ timestamp: T0, value: 10 * (i + 1) }] }])));
      for (const id of rids) await c.resource.measures('generic', id, 'temp', { refresh: true });
      const search = { in: { project_id: [project, p2] } };
      const byRes = await c.aggregates.resources('(aggregate sum (metric temp mean))', 'generic', search, { details: true });
      assert.deepEqual(byRes.measures, { aggregated: [[T0, 1, 60]] });
      assert.deepEqual(byRes.references?.map((r) => r.id).sort(), [...rids].sort());
      const perRes = await c.aggregates.resources('(metric temp mean)', 'generic', { '=': { id: rids[1] } });
      assert.deepEqual(perRes.measures, { [rids[1]]: { temp: { mean: [[T0, 1, 20]] } } });
      const groups = await c.aggregates.groupBy('(aggregate sum (metric temp mean))', 'generic', search, ['project_id']);
      const byProject = new Map(groups.map((g) => [g.group.project_id, g.measures.measures]));
      assert.equal(groups.length, 2);
      assert.deepEqual(byProject.get(project), { aggregated: [[T0, 1, 30]] });
      assert.deepEqual(byProject.get(p2), { aggregated: [[T0, 1, 30]] });
      const text = await c.aggregates.resources('(aggregate sum (metric temp mean))', 'generic', `project_id = "${p2}"`);
      assert.deepEqual(text.measures, { aggregated: [[T0, 1, 30]] });
      for (const id of rids) await c.resource.delete('generic', id);
      await c.metric.delete(a.id);
      await c.metric.delete(b.id);
    });

    it('status', async () => {
      const m = await c.metric.create({ archive_policy_name: ap });
      const s = await c.status();
      assert.equal(typeof s.storage.summary.metrics, 'number');
      assert.equal(typeof s.storage.summary.measures, 'number');
      assert.equal(typeof s.storage.measures_to_process, 'object');
      assert.ok(s.metricd.processors === null || Array.isArray(s.metricd.processors));
      const brief = await c.status({ details: false });
      assert.equal(brief.storage.measures_to_process, undefined);
      await c.metric.delete(m.id);
    });
  });
}
