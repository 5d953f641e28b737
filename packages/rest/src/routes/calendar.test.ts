// Calendar resampling (resample=Y|H|Q|M|W) on GET /v1/metric/{id}/measures and the older
// /v1/aggregation/metric API, with Tally's `timezone=` extension.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi } from '../test-util.js';

type Call = (method: string, url: string, body?: unknown) => Promise<{ status: number; json: unknown }>;

async function withApi(fn: (call: Call, m1: string, m2: string) => Promise<void>): Promise<void> {
  const api = await startTestApi();
  const call: Call = async (method, url, body) => {
    const r = await api.call(method, url, { body });
    return { status: r.status, json: r.text === '' ? undefined : (JSON.parse(r.text) as unknown) };
  };
  try {
    await call('POST', '/v1/archive_policy', { name: 'hourly', definition: [{ granularity: '1 hour' }], aggregation_methods: ['mean', 'sum', 'rate:mean'] });
    const m1 = ((await call('POST', '/v1/metric', { archive_policy_name: 'hourly' })).json as { id: string }).id;
    const m2 = ((await call('POST', '/v1/metric', { archive_policy_name: 'hourly' })).json as { id: string }).id;
    // Around the start of March 2015 (Paris: +01:00), its DST change (29th) and the start
    // of April (Paris: +02:00).
    const points = [['2015-02-28T22:30:00', 1], ['2015-02-28T23:30:00', 2], ['2015-03-29T01:30:00', 3], ['2015-03-31T21:30:00', 4], ['2015-03-31T22:30:00', 5]] as const;
    await call('POST', `/v1/metric/${m1}/measures`, points.map(([timestamp, value]) => ({ timestamp, value })));
    await call('POST', `/v1/metric/${m2}/measures`, points.map(([timestamp, value]) => ({ timestamp, value: value * 10 })));
    for (const m of [m1, m2]) await call('GET', `/v1/metric/${m}/measures?refresh=true`);
    await fn(call, m1, m2);
  } finally {
    await api.close();
  }
}

test('measures by calendar month: UTC by default, local months with timezone=', async () => {
  await withApi(async (call, m1) => {
    const base = `/v1/metric/${m1}/measures?granularity=3600&aggregation=sum&resample=M`;
    assert.deepEqual((await call('GET', base)).json, [['2015-02-01T00:00:00+00:00', 'M', 3.0], ['2015-03-01T00:00:00+00:00', 'M', 12.0]]);
    assert.deepEqual((await call('GET', `${base}&timezone=Europe/Paris`)).json, [
      ['2015-02-01T00:00:00+01:00', 'M', 1.0], ['2015-03-01T00:00:00+01:00', 'M', 9.0], ['2015-04-01T00:00:00+02:00', 'M', 5.0]]);
    // Whole buckets: the month holding start is answered with all of its points.
    assert.deepEqual((await call('GET', `${base}&timezone=Europe/Paris&start=2015-03-15`)).json, [
      ['2015-03-01T00:00:00+01:00', 'M', 9.0], ['2015-04-01T00:00:00+02:00', 'M', 5.0]]);
    assert.deepEqual((await call('GET', `${base}&timezone=Europe/Paris&stop=2015-03-31T22:00:00Z`)).json, [
      ['2015-02-01T00:00:00+01:00', 'M', 1.0], ['2015-03-01T00:00:00+01:00', 'M', 9.0]]);
    assert.deepEqual((await call('GET', `/v1/metric/${m1}/measures?granularity=3600&aggregation=sum&resample=Y&timezone=europe/paris`)).json, [
      ['2015-01-01T00:00:00+01:00', 'Y', 15.0]]);
  });
});

test('timezone= also writes plain measures in local time', async () => {
  await withApi(async (call, m1) => {
    const r = (await call('GET', `/v1/metric/${m1}/measures?timezone=Europe/Paris`)).json as unknown[][];
    assert.deepEqual(r[0], ['2015-02-28T23:00:00+01:00', 3600.0, 1.0]);
    assert.deepEqual(r[2], ['2015-03-29T03:00:00+02:00', 3600.0, 3.0]);
  });
});

test('calendar resampling errors', async () => {
  await withApi(async (call, m1) => {
    const bad = await call('GET', `/v1/metric/${m1}/measures?granularity=3600&resample=M&timezone=Mars/Olympus`);
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.json as { description: unknown }).description, { cause: 'Argument value error', reason: 'Unknown time zone: Mars/Olympus', detail: 'timezone' });
    const rate = await call('GET', `/v1/metric/${m1}/measures?granularity=3600&resample=M&aggregation=rate:mean`);
    assert.equal(rate.status, 400);
    assert.equal((rate.json as { description: unknown }).description, 'Cannot derive aggregates on calendar granularities.');
    // Names are case-sensitive, as in Gnocchi.
    assert.equal((await call('GET', `/v1/metric/${m1}/measures?granularity=3600&resample=m`)).status, 400);
    assert.equal((await call('GET', `/v1/metric/${m1}/measures?resample=M`)).status, 400);
  });
});

test('/v1/aggregation/metric by calendar, for one and for several metrics', async () => {
  await withApi(async (call, m1, m2) => {
    const one = await call('GET', `/v1/aggregation/metric?metric=${m1}&granularity=3600&aggregation=sum&resample=M&timezone=Europe/Paris`);
    assert.deepEqual(one.json, [['2015-02-01T00:00:00+01:00', 'M', 1.0], ['2015-03-01T00:00:00+01:00', 'M', 9.0], ['2015-04-01T00:00:00+02:00', 'M', 5.0]]);
    const both = await call('GET', `/v1/aggregation/metric?metric=${m1}&metric=${m2}&granularity=3600&aggregation=sum&reaggregation=mean&resample=M&timezone=Europe/Paris`);
    assert.deepEqual(both.json, [['2015-02-01T00:00:00+01:00', 'M', 5.5], ['2015-03-01T00:00:00+01:00', 'M', 49.5], ['2015-04-01T00:00:00+02:00', 'M', 27.5]]);
    const started = await call('GET', `/v1/aggregation/metric?metric=${m1}&metric=${m2}&granularity=3600&aggregation=sum&resample=M&timezone=Europe/Paris&start=2015-03-15`);
    assert.deepEqual(started.json, [['2015-03-01T00:00:00+01:00', 'M', 99.0], ['2015-04-01T00:00:00+02:00', 'M', 55.0]]);
    const utc = await call('GET', `/v1/aggregation/metric?metric=${m1}&metric=${m2}&granularity=3600&aggregation=sum&reaggregation=max&resample=W`);
    assert.deepEqual(utc.json, [['2015-02-22T00:00:00+00:00', 'W', 30.0], ['2015-03-29T00:00:00+00:00', 'W', 120.0]]);
    const rate = await call('GET', `/v1/aggregation/metric?metric=${m1}&metric=${m2}&granularity=3600&aggregation=rate:mean&resample=M`);
    assert.equal(rate.status, 400);
  });
});
