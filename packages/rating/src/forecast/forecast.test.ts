import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GnocchiClient } from '@tally/client';
import { startTestApi, type TestApi } from '@tally/rest/test-util';
import type { RatedPoint } from '../model.js';
import { costPerResource, forecastMonth, monthOf, resourceCostWithHistory, type RatedPeriods } from './index.js';

const HOUR = 3_600_000_000_000n;
const ns = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
const point = (type: string, price: string, groupby: Record<string, string> = {}): RatedPoint =>
  ({ type, unit: 'hour', qty: '1', groupby: { project_id: 'p1', ...groupby }, metadata: {}, price });

/** Hourly periods from `from`, `hours` of them, each with the points `at(hourIndex)` gives. */
function hourly(from: bigint, hours: number, at: (h: number) => RatedPoint[]): { period: { scopeId: string; begin: bigint; end: bigint }; points: RatedPoint[] }[] {
  return Array.from({ length: hours }, (_, h) => ({ period: { scopeId: 'p1', begin: from + BigInt(h) * HOUR, end: from + BigInt(h + 1) * HOUR }, points: at(h) }));
}

describe('forecast of the month', () => {
  it('finds the UTC month of an instant, leap years included', () => {
    assert.deepEqual(monthOf(ns('2024-02-29T23:59:59.999Z')), { begin: ns('2024-02-01T00:00:00Z'), end: ns('2024-03-01T00:00:00Z') });
    assert.deepEqual(monthOf(ns('2024-12-31T12:00:00Z')), { begin: ns('2024-12-01T00:00:00Z'), end: ns('2025-01-01T00:00:00Z') });
  });

  it('extrapolates each type\'s spending over the rated span linearly to the whole month', () => {
    const march = ns('2024-03-01T00:00:00Z');
    // Ten days rated (240 h) of a 31-day month: compute at 1 per hour throughout, a volume
    // at 0.5 per hour from day 5 on; one period of February, which is not this month's.
    const periods: RatedPeriods = [
      ...hourly(march - HOUR, 1, () => [point('compute', '100')]),
      ...hourly(march, 240, (h) => [point('compute', '1'), ...(h >= 120 ? [point('volume', '0.5')] : [])]),
    ];
    const f = forecastMonth('p1', periods, ns('2024-03-12T08:00:00Z'));
    assert.equal(f.rated_until, ns('2024-03-11T00:00:00Z'));
    assert.deepEqual(f.types, [
      { type: 'compute', spent: '240', forecast: '744' }, // 240 * 31 / 10
      { type: 'volume', spent: '60', forecast: '186' }, // 60 * 31 / 10
    ]);
    assert.equal(f.spent, '300');
    assert.equal(f.forecast, '930');
  });

  it('keeps exact decimals where binary floats would drift, and forecasts 0 with nothing rated', () => {
    const march = ns('2024-03-01T00:00:00Z');
    const f = forecastMonth('p1', hourly(march, 3, () => [point('compute', '0.1')]), march + 3n * HOUR);
    assert.equal(f.types[0].spent, '0.3');
    assert.equal(f.types[0].forecast, '74.4'); // 0.3 * 744 h / 3 h
    const none = forecastMonth('p1', [], march);
    assert.deepEqual([none.spent, none.forecast, none.types], ['0', '0', []]);
  });
});

describe('cost per resource and its resizes, from a real Tally\'s resource history', () => {
  let api: TestApi;
  let client: GnocchiClient;
  before(async () => {
    api = await startTestApi();
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    const a = api.app.server.address();
    if (typeof a !== 'object' || a === null) throw new Error('no address');
    client = new GnocchiClient({ url: `http://127.0.0.1:${a.port}`, auth: { type: 'basic', user: 'admin' } });
  });
  after(() => api.close());

  it('groups rated points by resource and shows a flavor change as a price change at the revision', async () => {
    await client.resourceType.create({ name: 'vm', attributes: { flavor_name: { type: 'string', required: false } } });
    const id = '5a3e0c58-7d34-4c3e-9d64-000000000001';
    await client.resource.create('vm', { id, flavor_name: 'm1.small' });
    const resized = await client.resource.update('vm', id, { flavor_name: 'm1.medium' });
    const at = ns(resized.revision_start);
    const start = at - 2n * HOUR;
    // Two periods before the resize at the small flavor's price, two after at the medium's;
    // another resource and a point with no resource id beside them.
    const periods = [
      ...hourly(start, 2, () => [point('instance', '0.02', { id, flavor_name: 'm1.small' }), point('instance', '0.5', { id: 'other' })]),
      ...hourly(at, 2, () => [point('instance', '0.04', { id, flavor_name: 'm1.medium' }), point('network', '1')]),
    ];
    const costs = costPerResource(periods);
    assert.deepEqual(costs.map((c) => [c.type, c.resource_id, c.total]), [['instance', id, '0.12'], ['instance', 'other', '1']]);
    const mine = await resourceCostWithHistory(costs[0], client, 'vm');
    assert.deepEqual(mine.points.map((p) => p.size), ['m1.small', 'm1.small', 'm1.medium', 'm1.medium']);
    assert.deepEqual(mine.changes, [{ at, from: 'm1.small', to: 'm1.medium', rate_before: '0.02', rate_after: '0.04' }]);
    const other = await resourceCostWithHistory(costs[1], client, 'vm').then(() => null, (e: unknown) => e);
    assert.ok(other instanceof Error, 'a resource Tally does not know is an error, not an empty history');
  });
});
