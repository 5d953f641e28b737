// The collector against a real Tally: known measures in, quantities out equal to what the
// aggregation, factor, offset and mutate give by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '@tally/rest/test-util';
import { Dec, decimalString, exactDecimalOfDouble } from '../money.js';
import { GnocchiUsageSource, convertQty, inProcessGnocchiClient, qtyConverter } from './gnocchi.js';
import { MetricsConfigError, parseMetricsYaml } from './metrics-config.js';

let api: TestApi;
const T0 = Date.UTC(2024, 0, 1, 10);
const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
const iso = (ms: number): string => new Date(ms).toISOString();

before(async () => {
  api = await startTestApi();
  const ok = async (method: string, url: string, body: unknown): Promise<void> => {
    const r = await api.call(method, url, { body });
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  };
  await ok('POST', '/v1/archive_policy', { name: 'hourly', definition: [{ granularity: '1 hour', timespan: '7 days' }], aggregation_methods: ['mean', 'max', 'sum', 'last'] });
  await ok('POST', '/v1/resource_type', { name: 'vm', attributes: { flavor_name: { type: 'string', required: false } } });
  const vm = async (id: string, project: string, flavor: string, values: number[]): Promise<void> => {
    await ok('POST', '/v1/resource/vm', { id, project_id: project, flavor_name: flavor, started_at: iso(T0 - 3600_000), metrics: { cpu: { archive_policy_name: 'hourly' }, 'disk.size': { archive_policy_name: 'hourly' } } });
    await ok('POST', `/v1/resource/vm/${id}/metric/cpu/measures`, values.map((v, i) => ({ timestamp: iso(T0 + i * 20 * 60_000), value: v })));
    await ok('POST', `/v1/resource/vm/${id}/metric/disk.size/measures`, [{ timestamp: iso(T0 + 60_000), value: values.length === 1 ? 0 : 20 }]);
  };
  await vm('11111111-1111-4111-8111-111111111111', 'p1', 'm1.small', [1, 4, 7]);
  await vm('22222222-2222-4222-8222-222222222222', 'p1', 'm1.large', [0.1, 0.2]);
  await vm('33333333-3333-4333-8333-333333333333', 'p2', 'm1.small', [9]);
  // Measures are processed on read with refresh, as metricd would.
  for (const id of ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333']) {
    for (const m of ['cpu', 'disk.size']) assert.equal((await api.call('GET', `/v1/resource/vm/${id}/metric/${m}/measures?refresh=true`)).status, 200);
  }
});
after(async () => { await api.close(); });

const METRICS = `
metrics:
  cpu:
    unit: instance
    alt_name: instance
    factor: 1/2
    offset: 1
    groupby: [id]
    metadata: [flavor_name]
    extra_args:
      aggregation_method: mean
      resource_type: vm
  disk.size:
    unit: GiB
    mutate: NUMBOOL
    extra_args:
      aggregation_method: max
      re_aggregation_method: sum
      resource_type: vm
`;

test('usage of one scope and period: aggregation, factor, offset, mutate, groupby, metadata', async () => {
  const source = new GnocchiUsageSource(inProcessGnocchiClient(api.app), parseMetricsYaml(METRICS));
  assert.equal(await source.backlog(), 0);
  assert.deepEqual(await source.scopes(ns(T0), ns(T0 + 3600_000)), ['p1', 'p2']);
  const usage = await source.usage('p1', ns(T0), ns(T0 + 3600_000));
  const byKey = new Map(usage.map((u) => [`${u.type}/${u.groupby.id}`, u]));
  assert.equal(usage.length, 4, JSON.stringify(usage));
  // mean(1, 4, 7) = 4; 4 * 1/2 + 1 = 3
  const a = byKey.get('instance/11111111-1111-4111-8111-111111111111');
  assert.deepEqual(a, { type: 'instance', unit: 'instance', qty: '3', groupby: { id: '11111111-1111-4111-8111-111111111111', project_id: 'p1' }, metadata: { flavor_name: 'm1.small' } });
  // mean(0.1, 0.2) as Gnocchi computes it in binary, then taken exactly as CloudKitty does.
  const b = byKey.get('instance/22222222-2222-4222-8222-222222222222');
  assert.equal(b?.qty, convertQty((0.1 + 0.2) / 2, { factor: 0.5, offset: 1, mutate: 'NONE', mutate_map: null }));
  assert.equal(b?.qty, '1.075000000000000011102230246');
  assert.equal(b?.metadata.flavor_name, 'm1.large');
  // disk.size groups by id and project (added as CloudKitty does); NUMBOOL turns 20 into 1.
  const d = byKey.get('disk.size/11111111-1111-4111-8111-111111111111');
  assert.deepEqual(d, { type: 'disk.size', unit: 'GiB', qty: '1', groupby: { id: '11111111-1111-4111-8111-111111111111', project_id: 'p1' }, metadata: {} });
  // p2's only disk measure is 0: NUMBOOL gives 0.
  assert.deepEqual((await source.usage('p2', ns(T0), ns(T0 + 3600_000))).filter((u) => u.type === 'disk.size').map((u) => u.qty), ['0']);
  assert.deepEqual(await source.usage('p3', ns(T0), ns(T0 + 3600_000)), []);
  assert.deepEqual(await source.usage('p1', ns(T0 + 3600_000), ns(T0 + 7200_000)), []);
});

test('conversions keep the float\'s exact value as CloudKitty does', () => {
  assert.equal(convertQty(0.1, { factor: 1, offset: 0, mutate: 'NONE', mutate_map: null }), '0.1000000000000000055511151231');
  assert.equal(convertQty(3, { factor: 1 / 1024, offset: 0, mutate: 'NONE', mutate_map: null }), '0.0029296875');
  assert.equal(convertQty(2.5, { factor: 1, offset: 0, mutate: 'CEIL', mutate_map: null }), '3');
  assert.equal(convertQty(2, { factor: 1, offset: 0, mutate: 'MAP', mutate_map: new Map([[2, 7.5]]) }), '7.5');
  assert.equal(convertQty(3, { factor: 1, offset: 0, mutate: 'MAP', mutate_map: new Map([[2, 7.5]]) }), '0');
});

test('the converters that skip the decimals give what the decimals give', () => {
  // Python's Decimal(value) * Decimal(factor) + Decimal(offset) in a 28-digit context, then mutate.
  const reference = (v: number, factor: number, offset: number, mutate: 'NONE' | 'NUMBOOL' | 'NOTNUMBOOL' | 'FLOOR' | 'CEIL'): string => {
    const q = exactDecimalOfDouble(v).times(exactDecimalOfDouble(factor)).plus(exactDecimalOfDouble(offset));
    if (mutate === 'NUMBOOL') return q.isZero() ? '0' : '1';
    if (mutate === 'NOTNUMBOOL') return q.isZero() ? '1' : '0';
    return decimalString(mutate === 'FLOOR' ? q.floor() : mutate === 'CEIL' ? q.ceil() : new Dec(q));
  };
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const values = [0, -0, 1, -1, 5e-324, 1e-300, 0.1, 2 ** 53, 2 ** 53 + 2, 1e15 - 1, 1e15, 1e16, 123456789012345, -987654321, 3.5];
  for (let i = 0; i < 300; i++) values.push(Math.round(rnd() * 10 ** Math.floor(rnd() * 18)) * (rnd() < 0.2 ? -1 : 1), rnd() * 10 ** Math.floor(rnd() * 20 - 10));
  for (const mutate of ['NONE', 'NUMBOOL', 'NOTNUMBOOL', 'FLOOR', 'CEIL'] as const) {
    for (const factor of [1, 0, 1 / 1024, 3600 / 1e6, 1e-300]) {
      const convert = qtyConverter({ factor, offset: 0, mutate, mutate_map: null });
      for (const v of values) assert.equal(convert(v), reference(v, factor, 0, mutate), `${mutate} ${factor} ${v}`);
    }
  }
});

test('metrics configuration errors name the metric and key', () => {
  assert.throws(() => parseMetricsYaml('metrics: {}'), /at least one metric/);
  assert.throws(() => parseMetricsYaml('metrics:\n  cpu:\n    unit: x\n'), (e: unknown) => e instanceof MetricsConfigError && e.path === 'metrics.cpu.extra_args');
  assert.throws(() => parseMetricsYaml('metrics:\n  cpu:\n    unit: x\n    extra_args: {resource_type: vm, aggregation_method: average}\n'), /metrics\.cpu\.extra_args\.aggregation_method: unknown aggregation method "average"/);
  assert.throws(() => parseMetricsYaml('metrics:\n  cpu:\n    unit: x\n    factor: lots\n    extra_args: {resource_type: vm}\n'), /metrics\.cpu\.factor/);
  const [m] = parseMetricsYaml('metrics:\n  cpu:\n    unit: x\n    extra_args: {resource_type: vm}\n');
  assert.deepEqual([m.groupby, m.extra_args.aggregation_method, m.extra_args.force_granularity, m.factor], [['id', 'project_id'], 'max', 3600, 1]);
});
