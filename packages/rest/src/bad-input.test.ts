// Bad input on every endpoint gets a 4xx in Gnocchi's error shape, never a 5xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from './test-util.js';

let api: TestApi;
let metricId = '';

before(async () => {
  api = await startTestApi({ bodyLimit: 64 * 1024 });
  let r = await api.call('POST', '/v1/archive_policy', { body: { name: 'p', definition: [{ granularity: '1s', points: 60 }] } });
  assert.equal(r.status, 201);
  r = await api.call('POST', '/v1/metric', { body: { archive_policy_name: 'p' } });
  assert.equal(r.status, 201);
  metricId = (r.json as { id: string }).id;
});
after(async () => api.close());

/** Asserts a Gnocchi-shaped error with this status. */
function isError(r: { status: number; json: unknown }, status: number): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const body = r.json as { code: number; title: string; description: unknown };
  assert.equal(body.code, status);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.description !== undefined);
}

const endpoints = (): [string, string][] => [
  ['POST', '/v1/archive_policy'],
  ['PATCH', '/v1/archive_policy/p'],
  ['POST', '/v1/archive_policy_rule'],
  ['PATCH', '/v1/archive_policy_rule/r'],
  ['POST', '/v1/metric'],
  ['POST', `/v1/metric/${metricId}/measures`],
  ['POST', '/v1/batch/metrics/measures'],
];

test('malformed JSON is a 400 "Unable to decode body" on every endpoint taking a body', async () => {
  for (const [method, url] of endpoints()) {
    const r = await api.call(method, url, { raw: '{"name": ' });
    if (url.endsWith('/archive_policy_rule/r')) {
      assert.ok(r.status === 400 || r.status === 404, `${method} ${url}: ${r.status}`);
      continue;
    }
    isError(r, 400);
    assert.equal((r.json as { description: { cause: string } }).description.cause, 'Unable to decode body', `${method} ${url}`);
  }
});

test('a body that is not JSON is a 415 on every endpoint taking a body', async () => {
  for (const [method, url] of endpoints()) {
    const r = await api.call(method, url, { raw: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    isError(r, 415);
  }
});

test('a body over the size limit is a 413, not a crash', async () => {
  const big = JSON.stringify(Array.from({ length: 5000 }, (_v, i) => ({ timestamp: 1_600_000_000 + i, value: i })));
  assert.ok(big.length > 64 * 1024);
  isError(await api.call('POST', `/v1/metric/${metricId}/measures`, { raw: big }), 413);
});

test('wrong types and unknown keys are 400 "Invalid input" with the offending path', async () => {
  const cases: [string, string, unknown, string[]][] = [
    ['POST', '/v1/archive_policy', { name: 3, definition: [{ granularity: '1s' }] }, ['name']],
    ['POST', '/v1/archive_policy', { name: 'x', definition: [{ granularity: '1s' }], color: 'red' }, ['color']],
    ['POST', '/v1/archive_policy', { name: 'x', definition: [{ granularity: '1s', points: 'many' }] }, ['definition', '0', 'points']],
    ['POST', '/v1/archive_policy', { name: 'x', definition: [{ granularity: [] }] }, ['definition', '0', 'granularity']],
    ['POST', '/v1/archive_policy', { name: 'x', back_window: -1, definition: [{ granularity: '1s' }] }, ['back_window']],
    ['POST', '/v1/archive_policy_rule', { name: 'r', metric_pattern: 1, archive_policy_name: 'p' }, ['metric_pattern']],
    ['POST', '/v1/metric', { archive_policy_name: 'p', unit: 12 }, ['unit']],
    ['POST', '/v1/metric', { archive_policy_name: 'p', extra: true }, ['extra']],
    ['PATCH', '/v1/archive_policy/p', { definition: [{ granularity: '1s', points: 60 }], name: 'z' }, ['name']],
  ];
  for (const [method, url, body, detail] of cases) {
    const r = await api.call(method, url, { body });
    isError(r, 400);
    const d = (r.json as { description: { cause: string; detail: string[] } }).description;
    assert.equal(d.cause, 'Invalid input', `${method} ${url} ${JSON.stringify(body)}`);
    assert.deepEqual(d.detail, detail);
  }
});

test('measures: NaN, infinities, bad values, bad and out-of-range timestamps, unknown keys are 400', async () => {
  const url = `/v1/metric/${metricId}/measures`;
  const bad: unknown[] = [
    [{ timestamp: '2020-01-01T00:00:00', value: 'NaN' }],
    [{ timestamp: '2020-01-01T00:00:00', value: 'Infinity' }],
    [{ timestamp: '2020-01-01T00:00:00', value: '-inf' }],
    [{ timestamp: '2020-01-01T00:00:00', value: null }],
    [{ timestamp: '2020-01-01T00:00:00', value: [1] }],
    [{ timestamp: '2020-13-01T00:00:00', value: 1 }],
    [{ timestamp: '1915-03-06T14:33:57', value: 1 }],
    [{ timestamp: '99999-01-01T00:00:00', value: 1 }],
    [{ timestamp: 1e30, value: 1 }],
    [{ timestamp: null, value: 1 }],
    [{ timestamp: '2020-01-01T00:00:00', value: 1, unit: 'x' }],
    [{ value: 1 }],
    [['2020-01-01T00:00:00', 1]],
    { timestamp: '2020-01-01T00:00:00', value: 1 },
    'measures',
  ];
  for (const body of bad) {
    const r = await api.call('POST', url, { raw: JSON.stringify(body).replace('"NaN"', 'NaN') });
    isError(r, 400);
  }
  // JSON's own NaN / Infinity tokens are not JSON at all.
  isError(await api.call('POST', url, { raw: '[{"timestamp": 1600000000, "value": NaN}]' }), 400);
  isError(await api.call('POST', url, { raw: '[{"timestamp": 1600000000, "value": 1e999}]' }), 400);
});

test('batch: a bad measure names its metric; unknown metrics are listed', async () => {
  let r = await api.call('POST', '/v1/batch/metrics/measures', { body: { [metricId]: [{ timestamp: 'x', value: 1 }] } });
  isError(r, 400);
  assert.deepEqual((r.json as { description: { detail: string[] } }).description.detail, [metricId]);
  r = await api.call('POST', '/v1/batch/metrics/measures', { body: { 'a2b7a5c2-4f3f-4c4d-9a9e-5e0f0e3a1b2c': [] } });
  isError(r, 400);
  assert.match(String((r.json as { description: unknown }).description), /Unknown metrics: a2b7a5c2-4f3f-4c4d-9a9e-5e0f0e3a1b2c/);
  isError(await api.call('POST', '/v1/batch/metrics/measures', { body: [1, 2] }), 400);
});

test('unknown ids are 404 with a message naming them', async () => {
  for (const [method, url] of [
    ['GET', '/v1/metric/nope'], ['DELETE', '/v1/metric/nope'], ['GET', '/v1/metric/nope/measures'],
    ['POST', '/v1/metric/nope/measures'], ['GET', '/v1/archive_policy/nope'], ['DELETE', '/v1/archive_policy/nope'],
    ['GET', '/v1/archive_policy_rule/nope'], ['DELETE', '/v1/archive_policy_rule/nope'], ['GET', '/v1/nothing-here'],
  ] as const) {
    const r = await api.call(method, url, method === 'POST' ? { body: [] } : {});
    isError(r, 404);
    if (!url.endsWith('nothing-here')) assert.match(JSON.stringify(r.json), /nope/);
  }
});

test('query arguments: bad limit, sort, marker, granularity, start, resample, refresh are 400', async () => {
  const m = `/v1/metric/${metricId}/measures`;
  for (const url of [
    '/v1/metric?limit=0', '/v1/metric?limit=abc', '/v1/metric?sort=name:sideways', '/v1/metric?sort=color:asc',
    '/v1/metric?marker=00000000-0000-0000-0000-000000000000',
    `${m}?granularity=soon`, `${m}?start=yesterday-ish`, `${m}?stop=2020-99-99`, `${m}?resample=60`,
    `${m}?granularity=1&resample=abc`, `${m}?refresh=maybe`, '/v1/status?details=perhaps',
  ]) {
    isError(await api.call('GET', url), 400);
  }
  isError(await api.call('GET', `${m}?aggregation=wtf`), 404);
  isError(await api.call('GET', `${m}?granularity=42`), 404);
});

test('wrong method is a 405 and an unacceptable Accept a 406', async () => {
  isError(await api.call('PUT', '/v1/archive_policy'), 405);
  isError(await api.call('DELETE', '/v1/metric'), 405);
  const r = await api.call('GET', '/v1/metric', { headers: { accept: 'text/html' } });
  assert.equal(r.status, 406);
  assert.match(r.text, /<title>406 Not Acceptable<\/title>/);
});
