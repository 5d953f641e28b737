// POST /v1/aggregates and /v1/aggregation/metric end to end. Expected answers come from
// Gnocchi 4.4.2's conformance files (aggregates-with-metric-ids.yaml, aggregation.yaml)
// and from the reference server given the same requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi } from '../test-util.js';

interface Api {
  call(method: string, url: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }>;
  close(): Promise<void>;
}

/** The real API (app.ts registers these routes), as admin; NaN in answers reads as null. */
async function startApi(): Promise<Api> {
  const api = await startTestApi();
  return {
    async call(method, url, body) {
      const r = await api.call(method, url, { body });
      let json: unknown;
      try {
        json = JSON.parse(r.text.replaceAll('NaN', 'null'));
      } catch {
        json = undefined;
      }
      return { status: r.status, json, text: r.text };
    },
    close: () => api.close(),
  };
}

async function withMetrics(fn: (api: Api, m1: string, m2: string) => Promise<void>): Promise<void> {
  const api = await startApi();
  try {
    await api.call('POST', '/v1/archive_policy', { name: 'cookies', definition: [{ granularity: '1 second' }, { granularity: '60 second' }] });
    const m1 = ((await api.call('POST', '/v1/metric', { archive_policy_name: 'cookies' })).json as { id: string }).id;
    const m2 = ((await api.call('POST', '/v1/metric', { archive_policy_name: 'cookies' })).json as { id: string }).id;
    const at = (t: string, value: number) => ({ timestamp: `2015-03-06T${t}`, value });
    await api.call('POST', `/v1/metric/${m1}/measures`, [at('14:33:57', 43.1), at('14:34:12', 12), at('14:34:15', -16), at('14:35:12', 9), at('14:35:15', 11)]);
    await api.call('POST', `/v1/metric/${m2}/measures`, [at('14:33:57', 2), at('14:34:12', 4), at('14:34:15', 5), at('14:35:12', 10), at('14:35:15', 15)]);
    for (const m of [m1, m2]) await api.call('GET', `/v1/metric/${m}/measures?refresh=true`);
    await fn(api, m1, m2);
  } finally {
    await api.close();
  }
}

test('aggregates: metric references answer per metric and aggregation, details lists the metrics', async () => {
  await withMetrics(async (api, m1, m2) => {
    const r = await api.call('POST', '/v1/aggregates?granularity=60&details=true', { operations: ['metric', [m1, 'max'], [m2, 'min']] });
    assert.equal(r.status, 200);
    const body = r.json as { measures: Record<string, Record<string, unknown>>; references: { id: string; archive_policy: { name: string } }[] };
    assert.deepEqual(body.measures[m1].max, [
      ['2015-03-06T14:33:00+00:00', 60.0, 43.1], ['2015-03-06T14:34:00+00:00', 60.0, 12.0], ['2015-03-06T14:35:00+00:00', 60.0, 11.0]]);
    assert.deepEqual(body.measures[m2].min, [
      ['2015-03-06T14:33:00+00:00', 60.0, 2.0], ['2015-03-06T14:34:00+00:00', 60.0, 4.0], ['2015-03-06T14:35:00+00:00', 60.0, 10.0]]);
    assert.deepEqual(body.references.map((m) => m.id).sort(), [m1, m2].sort());
    assert.equal(body.references[0].archive_policy.name, 'cookies');
    // Python's float formatting of granularities and values.
    assert.match(r.text, /\["2015-03-06T14:33:00\+00:00", 60\.0, 43\.1\]/);
  });
});

test('aggregates: aggregate, rate, rolling and arithmetic as Gnocchi computes them', async () => {
  await withMetrics(async (api, m1, m2) => {
    const agg = await api.call('POST', '/v1/aggregates', { operations: `(aggregate rate:mean (metric (${m1} mean) (${m2} mean)))` });
    assert.deepEqual((agg.json as { measures: { aggregated: unknown } }).measures.aggregated, [
      ['2015-03-06T14:34:00+00:00', 60.0, -21.3], ['2015-03-06T14:35:00+00:00', 60.0, 10.0],
      ['2015-03-06T14:34:12+00:00', 1.0, -14.55], ['2015-03-06T14:34:15+00:00', 1.0, -13.5],
      ['2015-03-06T14:35:12+00:00', 1.0, 15.0], ['2015-03-06T14:35:15+00:00', 1.0, 3.5]]);
    const sub = await api.call('POST', '/v1/aggregates?granularity=60', { operations: `(- (metric ${m1} mean) (metric ${m2} mean))` });
    assert.deepEqual((sub.json as { measures: { aggregated: unknown } }).measures.aggregated, [
      ['2015-03-06T14:33:00+00:00', 60.0, 41.1], ['2015-03-06T14:34:00+00:00', 60.0, -6.5], ['2015-03-06T14:35:00+00:00', 60.0, -2.5]]);
    const rolling = await api.call('POST', '/v1/aggregates?granularity=1', { operations: ['rolling', 'mean', 2, ['metric', m2, 'mean']] });
    assert.deepEqual((rolling.json as { measures: Record<string, { mean: unknown }> }).measures[m2].mean, [
      ['2015-03-06T14:34:12+00:00', 1.0, 3.0], ['2015-03-06T14:34:15+00:00', 1.0, 4.5],
      ['2015-03-06T14:35:12+00:00', 1.0, 7.5], ['2015-03-06T14:35:15+00:00', 1.0, 12.5]]);
  });
});

test('aggregates: errors carry Gnocchi causes, reasons and details', async () => {
  await withMetrics(async (api, m1) => {
    let r = await api.call('POST', '/v1/aggregates', { operations: ['metric', [m1, 'mean'], ['e4864464-1b27-4622-9fbb-dc900e06c192', 'mean'], ['8c062a7e-9f9f-4b1c-9996-9d0328512ab7', 'mean']] });
    assert.equal(r.status, 404);
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: 'Unknown metrics', reason: "Provided metrics don't exists",
      detail: ['8c062a7e-9f9f-4b1c-9996-9d0328512ab7', 'e4864464-1b27-4622-9fbb-dc900e06c192'] });
    r = await api.call('POST', '/v1/aggregates', { operations: ['metric', ['foo', 'mean'], ['bar', 'max']] });
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: 'Invalid metric references', reason: 'badly formed hexadecimal UUID string', detail: [['foo', 'mean'], ['bar', 'max']] });
    r = await api.call('POST', '/v1/aggregates?granularity=123', { operations: ['metric', m1, 'mean'] });
    assert.equal(r.status, 400);
    assert.ok(r.text.includes(`"detail": [["${m1}", "mean", 123.0]]`), r.text);
    r = await api.call('POST', '/v1/aggregates', { operations: '(metroc foo bar' });
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: 'Invalid operations', reason: 'Fail to parse the operations string',
      detail: "Expected ')', found end of text  (at char 15), (line:1, col:16)" });
    r = await api.call('POST', '/v1/aggregates', { operations: ['metric', 'a'] });
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: 'Invalid input', reason: "None @ data['operations'][0]", detail: ['operations', '0'] });
    r = await api.call('POST', '/v1/aggregates', { operations: `(rolling mean 20 (metric ${m1} mean))` });
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: "Metrics can't being aggregated", reason: "Rolling window '20' is greater than serie length '3'", detail: [[m1, 'mean']] });
    r = await api.call('POST', '/v1/aggregates?fill=foobar', { operations: ['metric', m1, 'mean'] });
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: 'Argument value error', detail: 'fill', reason: "Must be a float, 'dropna' or 'null'" });
  });
});

test('aggregates: overlap is required only when asked, NaN cells are dropped by default', async () => {
  await withMetrics(async (api, m1) => {
    const m3 = ((await api.call('POST', '/v1/metric', { archive_policy_name: 'cookies' })).json as { id: string }).id;
    await api.call('POST', `/v1/metric/${m3}/measures`, [{ timestamp: '2015-03-06T14:36:12', value: 10 }]);
    await api.call('GET', `/v1/metric/${m3}/measures?refresh=true`);
    const ops = { operations: ['metric', [m1, 'mean'], [m3, 'mean']] };
    let r = await api.call('POST', '/v1/aggregates?granularity=1&needed_overlap=100', ops);
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: "Metrics can't being aggregated", reason: 'No overlap', detail: [[m1, 'mean'], [m3, 'mean']] });
    r = await api.call('POST', '/v1/aggregates?granularity=1', ops);
    assert.deepEqual((r.json as { measures: Record<string, { mean: unknown }> }).measures[m3].mean, [['2015-03-06T14:36:12+00:00', 1.0, 10.0]]);
    r = await api.call('POST', '/v1/aggregates?granularity=1&fill=null', ops);
    assert.ok(r.text.includes('["2015-03-06T14:36:12+00:00", 1.0, NaN]'), r.text);
  });
});

test('aggregation/metric: reaggregation of several metrics, fill, single metric errors', async () => {
  await withMetrics(async (api, m1, m2) => {
    let r = await api.call('GET', `/v1/aggregation/metric?metric=${m1}&metric=${m2}&granularity=60&reaggregation=min`);
    assert.deepEqual(r.json, [['2015-03-06T14:33:00+00:00', 60.0, 2.0], ['2015-03-06T14:34:00+00:00', 60.0, -2.0], ['2015-03-06T14:35:00+00:00', 60.0, 10.0]]);
    r = await api.call('POST', '/v1/aggregation/metric?granularity=1&resample=60', [m1, m2]);
    assert.deepEqual(r.json, [['2015-03-06T14:33:00+00:00', 60.0, 22.55], ['2015-03-06T14:34:00+00:00', 60.0, 1.25], ['2015-03-06T14:35:00+00:00', 60.0, 11.25]]);
    r = await api.call('GET', `/v1/aggregation/metric?metric=${m1}&aggregation=last`);
    assert.equal(r.status, 404);
    assert.deepEqual((r.json as { description: unknown }).description, {
      cause: 'Aggregation method does not exist for this metric', detail: { metric: m1, aggregation_method: 'last' } });
    r = await api.call('GET', `/v1/aggregation/metric?metric=${m1}&metric=${m2}&aggregation=wtf`);
    // Gnocchi names the first metric in id order (conformance: aggregation.yaml).
    const firstId = [m1, m2].sort()[0];
    assert.equal((r.json as { description: unknown }).description, `Aggregation method 'wtf' at granularity '1.0' for metric ${firstId} does not exist`);
    r = await api.call('GET', `/v1/aggregation/metric?metric=${m1}&granularity=42`);
    assert.equal((r.json as { description: unknown }).description, `Aggregation method 'mean' at granularity '42.0' for metric ${m1} does not exist`);
    r = await api.call('GET', '/v1/aggregation/metric?metric=foobar');
    assert.equal((r.json as { description: unknown }).description, 'Invalid input: not a valid value @ data[0]');
    r = await api.call('GET', '/v1/aggregation/metric?metric=cee6ef1f-52cc-4a16-bbb5-648aedfd1c37');
    assert.equal((r.json as { description: unknown }).description, 'Metric cee6ef1f-52cc-4a16-bbb5-648aedfd1c37 does not exist');
    assert.deepEqual((await api.call('GET', '/v1/aggregation/metric')).json, []);
    assert.equal((await api.call('GET', '/v1/aggregation/resource/generic/metric/x')).status, 405);
    assert.equal((await api.call('POST', '/v1/aggregation/resource/generic/metric')).status, 405);
  });
});

test('resource forms name an unknown resource type as Gnocchi does', async () => {
  await withMetrics(async (api) => {
    const r = await api.call('POST', '/v1/aggregates', { resource_type: 'nosuchtype', search: {}, operations: '(aggregate mean (metric cpu mean))' });
    assert.equal(r.status, 400);
    assert.equal((r.json as { description: string }).description, 'Resource type nosuchtype does not exist');
    assert.equal((await api.call('POST', '/v1/aggregation/resource/nosuchtype/metric/cpu', {})).status, 404);
  });
});
