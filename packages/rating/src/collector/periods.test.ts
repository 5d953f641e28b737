// Reading many periods at once answers what reading them one by one answers, on a real
// Tally (its API through inject, and its components in process), with resources appearing
// and disappearing mid-range, measures of resources their metadata search does not find
// yet or any more, a resize changing a group-by attribute, idle hours, an empty period, a
// rate (read period by period) and only the last revision of a resource; and the
// in-process reader's indexer queries do not grow with the number of periods.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi, DEFAULT_HTTP_CONFIG } from '@tally/rest';
import { openTestServices } from '@tally/rest/test-util';
import type { Indexer } from '@tally/indexer';
import type { UsagePoint } from '../model.js';
import { GnocchiUsageSource, inProcessGnocchiClient, type UsageSource } from './gnocchi.js';
import { StoreUsageSource, type MetricStoreParts } from './in-process.js';
import { parseMetricsYaml } from './metrics-config.js';

const H_MS = 3600_000;
const H = 3_600_000_000_000n;
const T0 = Date.UTC(2024, 0, 1, 0);
const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
const iso = (ms: number): string => new Date(ms).toISOString();
const HOURS = 10;

const METRICS = `
metrics:
  cpu:
    unit: instance
    alt_name: instance
    groupby: [id, flavor_name]
    metadata: [flavor_name]
    mutate: NUMBOOL
    extra_args: {aggregation_method: mean, resource_type: vm}
  disk.size:
    unit: GiB
    extra_args: {aggregation_method: max, re_aggregation_method: sum, resource_type: vm}
  memory.usage:
    unit: GiB
    factor: 1/1024
    metadata: [flavor_name]
    extra_args: {aggregation_method: mean, resource_type: vm, use_all_resource_revisions: false}
  net.bytes:
    unit: MB
    extra_args: {aggregation_method: mean, re_aggregation_method: "rate:mean", resource_type: vm}
`;

let dir: string;
let svc: Awaited<ReturnType<typeof openTestServices>>;
let app: ReturnType<typeof buildApi>;
/** Indexer methods called through the counting proxy, in order. */
let indexerCalls: string[] = [];
let parts: MetricStoreParts;

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<unknown> {
  const res = await app.inject({
    method, url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `basic ${Buffer.from('admin:').toString('base64')}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.body === '' ? null : JSON.parse(res.body) as unknown;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rating-periods-'));
  svc = await openTestServices(dir);
  app = buildApi(svc.services, { ...DEFAULT_HTTP_CONFIG });
  await app.ready();
  const counting = new Proxy(svc.services.indexer, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        indexerCalls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Indexer;
  parts = { indexer: counting, storage: svc.services.storage, incoming: svc.services.incoming };
  await call('POST', '/v1/archive_policy', { name: 'hourly', definition: [{ granularity: '1 hour', timespan: '30 days' }], aggregation_methods: ['mean', 'max'] });
  await call('POST', '/v1/resource_type', { name: 'vm', attributes: { flavor_name: { type: 'string', required: false } } });
  const ap = { archive_policy_name: 'hourly' };
  /** A VM of `project` alive over [startH, endH) (null: still running), with measures in `hours`. */
  const vm = async (n: number, project: string, flavor: string, startH: number, endH: number | null, hours: number[]): Promise<string> => {
    const id = `${String(n).repeat(8)}-0000-4000-8000-${String(n).repeat(12)}`;
    await call('POST', '/v1/resource/vm', {
      id, project_id: project, flavor_name: flavor, started_at: iso(T0 + startH * H_MS + 60_000),
      ...(endH === null ? {} : { ended_at: iso(T0 + endH * H_MS + 600_000) }),
      metrics: { cpu: ap, 'disk.size': ap, 'memory.usage': ap, 'net.bytes': ap },
    });
    const batch: Record<string, Record<string, { timestamp: string; value: number }[]>> = { [id]: { cpu: [], 'disk.size': [], 'memory.usage': [], 'net.bytes': [] } };
    for (const h of hours) {
      const t = T0 + h * H_MS;
      batch[id].cpu.push({ timestamp: iso(t + 600_000), value: h % 3 === 0 ? 0 : 10 + h }, { timestamp: iso(t + 2_400_000), value: h % 3 === 0 ? 0 : 20 });
      batch[id]['disk.size'].push({ timestamp: iso(t + 300_000), value: 20 + n });
      batch[id]['memory.usage'].push({ timestamp: iso(t + 1_200_000), value: 1000 + 7 * h + n });
      batch[id]['net.bytes'].push({ timestamp: iso(t + 1_800_000), value: 1e6 * (h + 1) * (h + n) });
    }
    await call('POST', '/v1/batch/resources/metrics/measures', batch);
    return id;
  };
  const all = Array.from({ length: HOURS }, (_, h) => h).filter((h) => h !== 7);
  // Hour 7: no measures at all (an empty period); hour 3: an idle hour for the first VM.
  await vm(1, 'p1', 'm1.small', -48, null, all.filter((h) => h !== 3));
  await vm(2, 'p1', 'm1.large', 2, 5, [2, 3, 4, 5]);
  const resized = await vm(3, 'p1', 'm1.small', -2, null, all);
  // Measures from the start of the range for a VM that started later: its metadata search finds it from hour 4.
  await vm(4, 'p1', 'm1.medium', 6, null, all);
  // And measures after a VM ended: found until hour 4.
  await vm(5, 'p1', 'm1.medium', -5, 3, all);
  // Ended long before the range, with measures before it only.
  await vm(6, 'p1', 'm1.small', -30, -20, []);
  await vm(7, 'p2', 'm1.large', -1, null, all);
  // The resize: a new revision with another flavor (CloudKitty and per-period reads see the current one).
  await call('PATCH', `/v1/resource/vm/${resized}`, { flavor_name: 'm1.large' });
  for (;;) {
    for (let s = 0; s < svc.services.processor.sacks; s++) await svc.services.processor.processSack(s, { wait: true });
    if ((await svc.services.incoming.backlog()).measures === 0) break;
  }
});

after(async () => {
  await app.close();
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

const metrics = parseMetricsYaml(METRICS);

async function perPeriod(source: UsageSource, scope: string): Promise<UsagePoint[][]> {
  const out: UsagePoint[][] = [];
  for (let h = 0; h < HOURS; h++) out.push(await source.usage(scope, ns(T0) + BigInt(h) * H, ns(T0) + BigInt(h + 1) * H));
  return out;
}

test('many periods read at once equal the periods read one by one, over the API and in process', async () => {
  const http = new GnocchiUsageSource(inProcessGnocchiClient(app), metrics);
  const local = new StoreUsageSource(parts, metrics);
  for (const scope of ['p1', 'p2', 'p3']) {
    const reference = await perPeriod(http, scope);
    assert.deepEqual(await http.usageOfPeriods(scope, ns(T0), ns(T0) + BigInt(HOURS) * H, H), reference, `${scope}: API, at once`);
    assert.deepEqual(await perPeriod(local, scope), reference, `${scope}: in process, one by one`);
    assert.deepEqual(await local.usageOfPeriods(scope, ns(T0), ns(T0) + BigInt(HOURS) * H, H), reference, `${scope}: in process, at once`);
    // Two periods of 5 hours read at once: the first point of each group in each.
    assert.deepEqual(await local.usageOfPeriods(scope, ns(T0), ns(T0) + BigInt(HOURS) * H, 5n * H), [
      await http.usage(scope, ns(T0), ns(T0) + 5n * H), await http.usage(scope, ns(T0) + 5n * H, ns(T0) + 10n * H),
    ], `${scope}: 5-hour periods`);
  }
  // What the data above makes of p1, so that the equality is about something.
  const p1 = await local.usageOfPeriods('p1', ns(T0), ns(T0) + BigInt(HOURS) * H, H);
  const ids = (h: number, type: string): string[] => p1[h].filter((u) => u.type === type).map((u) => u.groupby.id[0]).sort();
  assert.deepEqual(p1[7], [], 'hour 7 has no measures');
  assert.deepEqual(ids(0, 'instance'), ['1', '3', '5'], 'vm 4 is not found by the metadata search of hour 0, vm 2 has no measures yet');
  assert.deepEqual(ids(4, 'instance'), ['1', '2', '3', '5'], 'vm 4 (started 06:01) is found from hour 5');
  assert.deepEqual(ids(5, 'instance'), ['1', '2', '3', '4'], 'vm 5 (ended 03:10) is no longer found from hour 5');
  assert.deepEqual(ids(3, 'instance'), ['2', '3', '5'], 'vm 1 idle in hour 3');
  assert.deepEqual(ids(0, 'disk.size'), ['1', '3', '4', '5'], 'no metadata: every group with a point');
  assert.deepEqual(p1[0].filter((u) => u.groupby.id.startsWith('3')).map((u) => [u.type, u.groupby.flavor_name ?? u.metadata.flavor_name]),
    [['instance', 'm1.large'], ['disk.size', undefined], ['memory.usage', 'm1.large']], 'the resized VM under its current flavor, metrics in name order');
  assert.equal(p1[0].find((u) => u.type === 'instance' && u.groupby.id.startsWith('3'))?.qty, '0', 'NUMBOOL of an hour at 0');
  assert.ok(p1[1].some((u) => u.type === 'net.bytes') && p1[0].every((u) => u.type !== 'net.bytes'), 'a rate needs the hour before: none in hour 0');
});

test('the in-process reader: indexer queries per read do not grow with the number of periods', async () => {
  const splittable = metrics.filter((m) => !m.extra_args.re_aggregation_method.startsWith('rate:'));
  const local = new StoreUsageSource(parts, splittable);
  const count = async (read: () => Promise<unknown>): Promise<Map<string, number>> => {
    indexerCalls = [];
    await read();
    const out = new Map<string, number>();
    for (const c of indexerCalls) out.set(c, (out.get(c) ?? 0) + 1);
    return out;
  };
  const one = await count(() => local.usage('p1', ns(T0), ns(T0) + H));
  const many = await count(() => local.usageOfPeriods('p1', ns(T0), ns(T0) + BigInt(HOURS) * H, H));
  assert.deepEqual(many, one);
  // One resource search (and the metrics of the resources found) per resource type and
  // groupby, shared by the metrics read together, and the metadata search of each metric
  // with metadata; archive policies come from the indexer's cache, looked up once per
  // metric read whatever the number of groups (resources).
  const searches = new Set(splittable.map((m) => JSON.stringify([m.extra_args.resource_type, [...new Set(m.groupby)].sort()]))).size;
  assert.ok(searches < splittable.length, 'some metrics share their search, so that the count is about something');
  assert.equal(one.get('listResources'), searches + splittable.filter((m) => m.metadata.length > 0).length);
  assert.equal(one.get('getMetrics'), searches);
  assert.equal(one.get('getArchivePolicy'), splittable.length);
  assert.deepEqual([...one.keys()].sort(), ['getArchivePolicy', 'getMetrics', 'getResourceType', 'listResources'].filter((k) => one.has(k)));
});
