// Input bounds and user-named keys: no request, accepted or refused, may change what another
// user's ordinary requests get. Each poison request is refused with a 400 naming the bound
// (or accepted harmlessly); afterwards a non-admin user's workflow answers exactly as before,
// and Object.prototype is untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from './test-util.js';
import { snappyCompress, writeRequest } from './ingest/test-codecs.js';

let api: TestApi;
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

before(async () => {
  api = await startTestApi();
  const r = await api.call('POST', '/v1/archive_policy', { body: { name: 'p', definition: [{ granularity: '1s', points: 60 }] } });
  assert.equal(r.status, 201);
  assert.equal((await api.call('POST', '/v1/archive_policy_rule', { body: { name: 'all', metric_pattern: '*', archive_policy_name: 'p' } })).status, 201);
});
after(async () => api.close());

/** What a non-admin user sees of an ordinary workflow, without the ids that change every run. */
async function workflow(): Promise<unknown[]> {
  const seen: unknown[] = [];
  const call = async (method: string, url: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const r = await api.call(method, url, { user: 'bob', body });
    seen.push([method, url.replace(/[0-9a-f-]{36}/g, 'ID'), r.status]);
    return r;
  };
  seen.push((await call('GET', '/v1/archive_policy')).json);
  seen.push((await call('GET', '/v1/archive_policy_rule')).json);
  const m = await call('POST', '/v1/metric', { archive_policy_name: 'p', name: 'cpu', unit: 'ns' });
  const id = (m.json as { id: string }).id;
  await call('POST', `/v1/metric/${id}/measures`, [{ timestamp: '2024-01-01T00:00:00', value: 1 }, { timestamp: '2024-01-01T00:00:01', value: 3 }]);
  seen.push((await call('GET', `/v1/metric/${id}/measures?refresh=true`)).json);
  const ruled = await call('POST', '/v1/metric', { name: 'ruled' });
  seen.push((ruled.json as { archive_policy_name: string }).archive_policy_name);
  const res = await call('POST', '/v1/resource/generic', { id: `bob-${id}`, metrics: { mem: { archive_policy_name: 'p' } } });
  seen.push(Object.keys((res.json as { metrics: object }).metrics));
  const rid = (res.json as { id: string }).id;
  await call('POST', `/v1/resource/generic/${rid}/metric/mem/measures`, [{ timestamp: '2024-01-01T00:00:00', value: 5 }]);
  seen.push((await call('GET', `/v1/resource/generic/${rid}/metric/mem/measures?refresh=true`)).json);
  await call('POST', '/v1/batch/metrics/measures', { [id]: [{ timestamp: '2024-01-01T00:00:02', value: 7 }] });
  seen.push((await call('GET', `/v1/metric/${id}/measures?refresh=true&aggregation=max`)).json);
  return seen;
}

function assertPrototypeUntouched(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_NAMES);
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'archive_policy_name', 'mean', 'x']) assert.equal(probe[k], undefined, k);
}

/** A 400 in Gnocchi's error shape whose description mentions `text`. */
function refused(r: { status: number; json: unknown; text: string }, text: string, what: string): void {
  assert.equal(r.status, 400, `${what}: ${r.text.slice(0, 300)}`);
  assert.equal((r.json as { code: number }).code, 400, what);
  assert.ok(r.text.includes(text), `${what}: expected "${text}" in ${r.text.slice(0, 300)}`);
}

const policy = (extra: Record<string, unknown>): Record<string, unknown> => ({ name: 'poison', definition: [{ granularity: '1s', points: 10 }], ...extra });
const YEARS_292 = 292 * 365 * 86400;

/** Requests that once stored values the index could not read back, or broke later requests. */
function archivePolicyPoisons(): [string, Record<string, unknown>, string][] {
  return [
    ['1 ns over 292 years', policy({ definition: [{ granularity: 1e-9, timespan: YEARS_292 }] }), 'points must be at most 4294967295'],
    ['points 2^53+1', policy({ definition: [{ granularity: 1, points: 2 ** 53 + 1 }] }), 'points must be at most 4294967295'],
    ['points 2^32', policy({ definition: [{ granularity: 1, points: 2 ** 32 }] }), 'points must be at most 4294967295'],
    ['granularity x points beyond int64', policy({ definition: [{ granularity: 1e9, points: 1e9 }] }), 'timespan must be at most 9223372036854775807 nanoseconds'],
    ['timespan beyond int64', policy({ definition: [{ granularity: 1, timespan: 1e300 }] }), 'must be at most 9223372036854775807 nanoseconds'],
    ['granularity beyond int64', policy({ definition: [{ granularity: 1e300 }] }), 'granularity must be at most 9223372036854775807 nanoseconds'],
    ['back_window 2^63', policy({ back_window: 2 ** 63 }), 'back_window must be at most 2147483647'],
    ['back_window 1e300', policy({ back_window: 1e300 }), 'back_window must be at most 2147483647'],
    ['back_window 2^31', policy({ back_window: 2 ** 31 }), 'back_window must be at most 2147483647'],
    ['101 definition items', policy({ definition: Array.from({ length: 101 }, (_v, i) => ({ granularity: i + 1, points: 1 })) }), 'definition must have at most 100 items'],
    ['thousands of aggregation methods', policy({ aggregation_methods: Array.from({ length: 5000 }, () => 'mean') }), 'aggregation_methods must have at most 649 entries'],
    ['99.9999pct', policy({ aggregation_methods: ['99.9999pct'] }), 'Invalid value for aggregation_methods'],
    ['1000pct', policy({ aggregation_methods: ['1000pct'] }), 'Invalid value for aggregation_methods'],
    ['rate:rate:', policy({ aggregation_methods: ['rate:rate:mean'] }), 'Invalid value for aggregation_methods'],
    ['a megabyte name', policy({ name: 'n'.repeat(1 << 20) }), 'name must be at most 255 characters'],
    ['256 code points', policy({ name: '\u{1F600}'.repeat(256) }), 'name must be at most 255 characters'],
  ];
}

test('archive policies beyond what the index and the engine hold are refused, naming the bound', async () => {
  const baseline = await workflow();
  for (const [what, body, text] of archivePolicyPoisons()) {
    refused(await api.call('POST', '/v1/archive_policy', { body }), text, what);
  }
  // PATCH bounds the new definition the same way.
  refused(await api.call('PATCH', '/v1/archive_policy/p', { body: { definition: [{ granularity: '1s', points: 2 ** 53 + 1 }] } }),
    'points must be at most 4294967295', 'PATCH points');
  refused(await api.call('POST', '/v1/archive_policy_rule', { body: { name: 'r'.repeat(256), metric_pattern: '*', archive_policy_name: 'p' } }),
    'Archive policy rule name must be at most 255 characters', 'rule name');
  refused(await api.call('POST', '/v1/archive_policy_rule', { body: { name: 'r', metric_pattern: '*'.repeat(256), archive_policy_name: 'p' } }),
    'metric_pattern must be at most 255 characters', 'rule pattern');
  refused(await api.call('PATCH', '/v1/archive_policy_rule/all', { body: { name: 'r'.repeat(256) } }),
    'Archive policy rule name must be at most 255 characters', 'rule rename');
  assert.deepEqual(await workflow(), baseline);
  assertPrototypeUntouched();
});

test('archive policies at the bounds are accepted and work end to end', async () => {
  for (const [i, def] of [{ granularity: 1e-9, points: 2 ** 32 - 1 }, { granularity: 9223372036, points: 1 }].entries()) {
    const created = await api.call('POST', '/v1/archive_policy', { body: { name: `edge${i}`, back_window: 2 ** 31 - 1, definition: [def] } });
    assert.equal(created.status, 201, created.text);
    const m = await api.call('POST', '/v1/metric', { user: 'bob', body: { archive_policy_name: `edge${i}` } });
    const id = (m.json as { id: string }).id;
    assert.equal((await api.call('POST', `/v1/metric/${id}/measures`, { user: 'bob', body: [{ timestamp: '2024-01-01T00:00:00', value: 2 }] })).status, 202);
    const read = await api.call('GET', `/v1/metric/${id}/measures?refresh=true`, { user: 'bob' });
    assert.equal(read.status, 200, read.text);
    assert.equal((read.json as unknown[]).length, 1);
    assert.equal((await api.call('GET', '/v1/archive_policy', { user: 'bob' })).status, 200);
    assert.equal((await api.call('DELETE', `/v1/metric/${id}`, { user: 'bob' })).status, 204);
  }
});

test('resource types beyond what the index holds are refused, naming the bound', async () => {
  const attrs = (n: number): Record<string, unknown> => Object.fromEntries(Array.from({ length: n }, (_v, i) => [`a${i}`, { type: 'bool', required: false }]));
  refused(await api.call('POST', '/v1/resource_type', { body: { name: 'wide', attributes: attrs(2100) } }),
    'Resource type wide may have at most 250 attributes', '2100 attributes');
  refused(await api.call('POST', '/v1/resource_type', { body: { name: 't'.repeat(256) } }),
    'length of value must be at most 255', 'type name');
  refused(await api.call('POST', '/v1/resource_type', { body: { name: 'longattr', attributes: { ['a'.repeat(64)]: { type: 'bool' } } } }),
    'is invalid', 'attribute name');
  for (const name of ['constructor', 'prototype']) {
    refused(await api.call('POST', '/v1/resource_type', { body: { name: 'protos', attributes: { [name]: { type: 'bool' } } } }),
      `Resource attribute name ${name} is invalid`, name);
  }
  refused(await api.call('POST', '/v1/resource_type', { raw: '{"name": "proto", "attributes": {"__proto__": {"type": "bool"}}}' }),
    'Resource attribute name __proto__ is invalid', '__proto__ attribute');
  refused(await api.call('POST', '/v1/resource_type', { body: { name: 'bigstr', attributes: { s: { type: 'string', max_length: 1e9 } } } }),
    'not a valid value', 'max_length');
  refused(await api.call('POST', '/v1/resource_type', { raw: '{"name": "inf", "attributes": {"n": {"type": "number", "min": -1e400, "max": 1e400}}}' }),
    'not a valid value', 'min/max beyond double range');
  // At the bound: created, listed, patched up to the bound and no further.
  assert.equal((await api.call('POST', '/v1/resource_type', { body: { name: 'full', attributes: attrs(250) } })).status, 201);
  const patch = (ops: unknown[]) => api.call('PATCH', '/v1/resource_type/full', { raw: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
  refused(await patch([{ op: 'add', path: '/attributes/more', value: { type: 'bool', required: false } }]),
    'Resource type full may have at most 250 attributes', 'PATCH beyond the bound');
  assert.equal((await patch([{ op: 'remove', path: '/attributes/a0' }, { op: 'add', path: '/attributes/more', value: { type: 'bool', required: false } }])).status, 200);
  assert.equal((await api.call('GET', '/v1/resource_type', { user: 'bob' })).status, 200);
});

test('JSON Patch paths cannot reach Object.prototype', async () => {
  const baseline = await workflow();
  assert.equal((await api.call('POST', '/v1/resource_type', { body: { name: 'patched', attributes: { x: { type: 'bool', required: false } } } })).status, 201);
  const patch = (ops: unknown[]) => api.call('PATCH', '/v1/resource_type/patched', { raw: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
  const value = { type: 'string', required: false };
  for (const path of ['/attributes/__proto__/polluted', '/attributes/__proto__/archive_policy_name', '/attributes/constructor/prototype/polluted',
    '/attributes/__proto__', '/attributes/prototype', '/__proto__/polluted', '/attributes/x/__proto__/polluted']) {
    for (const op of ['add', 'remove']) {
      const r = await patch([{ op, path, value }]);
      assert.equal(r.status, 400, `${op} ${path}: ${r.text}`);
    }
  }
  // An inherited member is not a member: removing one is a conflict, not a deletion.
  refused(await patch([{ op: 'remove', path: '/attributes/toString' }]), "can't remove a non-existent object 'toString'", 'remove toString');
  assertPrototypeUntouched();
  assert.deepEqual(await workflow(), baseline);
});

test('user-named keys (metrics, batches, tags, labels, filters, query strings) are harmless', async () => {
  const baseline = await workflow();
  // Strings stored in VARCHAR columns are bounded.
  refused(await api.call('POST', '/v1/metric', { user: 'bob', body: { archive_policy_name: 'p', name: 'n'.repeat(256) } }), 'Metric name must be at most 255 characters', 'metric name');
  refused(await api.call('POST', '/v1/metric', { user: 'bob', body: { archive_policy_name: 'p', unit: 'u'.repeat(32) } }), 'length of value must be at most 31', 'unit');
  refused(await api.call('POST', '/v1/resource/generic', { user: 'bob', body: { id: 'long-user', user_id: 'u'.repeat(256) } }), 'user_id must be at most 255 characters', 'user_id');
  refused(await api.call('POST', '/v1/resource/generic', { user: 'bob', body: { id: 'long-project', project_id: 'p'.repeat(256) } }), 'project_id must be at most 255 characters', 'project_id');
  refused(await api.call('POST', '/v1/resource/generic', { user: 'bob', body: { id: 'r'.repeat(256) } }), '>255 max allowed characters', 'resource id');
  refused(await api.call('POST', '/v1/resource/generic', { user: 'bob', body: { id: 'long-metric', metrics: { ['m'.repeat(256)]: { archive_policy_name: 'p' } } } }),
    'Metric name must be at most 255 characters', 'metric name in a resource');

  // A metric named after prototype members is an ordinary metric.
  const raw = '{"id": "protos", "metrics": {"__proto__": {"archive_policy_name": "p"}, "constructor": {"archive_policy_name": "p"}}}';
  const created = await api.call('POST', '/v1/resource/generic', { user: 'bob', raw });
  assert.equal(created.status, 201, created.text);
  const rid = (created.json as { id: string }).id;
  assert.deepEqual(Object.keys((created.json as { metrics: object }).metrics).sort(), ['__proto__', 'constructor']);
  assert.equal((await api.call('POST', `/v1/resource/generic/${rid}/metric/__proto__/measures`, { user: 'bob', body: [{ timestamp: '2024-01-01T00:00:00', value: 4 }] })).status, 202);
  const read = await api.call('GET', `/v1/resource/generic/${rid}/metric/__proto__/measures?refresh=true`, { user: 'bob' });
  assert.deepEqual(read.json, [['2024-01-01T00:00:00+00:00', 1.0, 4.0]]);
  const agg = await api.call('POST', '/v1/aggregates', { user: 'bob', body: { operations: '(metric __proto__ mean)', resource_type: 'generic', search: { '=': { id: rid } } } });
  assert.equal(agg.status, 200, agg.text);
  assert.ok(agg.text.includes('"__proto__": {"mean": [['), agg.text);
  assertPrototypeUntouched();

  // Batches keyed by user-chosen ids and names.
  const batch = await api.call('POST', '/v1/batch/metrics/measures', { user: 'bob', raw: '{"__proto__": [{"timestamp": "2024-01-01", "value": 1}]}' });
  assert.equal(batch.status, 400, batch.text);
  const byResource = await api.call('POST', '/v1/batch/resources/metrics/measures', { user: 'bob', raw: '{"__proto__": {"__proto__": [{"timestamp": "2024-01-01", "value": 1}]}}' });
  assert.ok(byResource.status === 400 || byResource.status === 202, byResource.text);
  const own = await api.call('POST', '/v1/batch/resources/metrics/measures', { user: 'bob', raw: `{"${rid}": {"__proto__": [{"timestamp": "2024-01-01T00:00:01", "value": 6}]}}` });
  assert.equal(own.status, 202, own.text);

  // InfluxDB tags and fields, Prometheus labels.
  assert.equal((await api.call('POST', '/v1/influxdb/query?q=create+database+influx')).status, 204);
  const line = 'cpu,host=h1,__proto__=x,constructor=y __proto__=1,constructor=2,polluted=3 1700000000000000000';
  const influx = await api.call('POST', '/v1/influxdb/write?db=influx', { raw: line, headers: { 'content-type': 'text/plain' } });
  assert.ok(influx.status === 204 || influx.status === 400, influx.text);
  const prom = await api.app.inject({
    method: 'POST', url: '/v1/prometheus/write',
    payload: snappyCompress(writeRequest([{ labels: { __name__: 'up', job: 'j', instance: 'i', ['__proto__']: 'x', constructor: 'y' }, samples: [[1_700_000_000_000, 1]] }])),
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', authorization: 'basic ' + Buffer.from('admin:').toString('base64') },
  });
  assert.ok(prom.statusCode === 202 || prom.statusCode === 400, prom.body);

  // Search filters and query strings.
  for (const raw of ['{"__proto__": [{"=": {"id": "x"}}]}', '{"constructor": [{"=": {"id": "x"}}]}', '{"toString": {"id": "x"}}',
    '{"=": {"__proto__": "x"}}', '{"=": {"constructor": "x"}}', '{"and": [{"=": {"__proto__": {"polluted": 1}}}]}']) {
    const r = await api.call('POST', '/v1/search/resource/generic', { user: 'bob', raw });
    assert.equal(r.status, 400, `${raw}: ${r.text}`);
  }
  const metricId = (await api.call('GET', `/v1/resource/generic/${rid}`, { user: 'bob' }) as { json: { metrics: Record<string, string> } }).json.metrics.constructor;
  for (const raw of ['{"constructor": [1, 2]}', '{"toString": 1}', '{"__proto__": 1}', '{"valueOf": [{"=": 1}]}']) {
    const r = await api.call('POST', `/v1/search/metric?metric_id=${metricId}`, { user: 'bob', raw });
    refused(r, 'Unknown operator', raw);
  }
  refused(await api.call('POST', '/v1/influxdb/write?db=influx&precision=constructor', { raw: line, headers: { 'content-type': 'text/plain' } }),
    'Invalid precision', 'precision=constructor');
  for (const url of ['/v1/metric?__proto__=x&constructor=y&polluted=1', '/v1/resource/generic?__proto__[polluted]=1&constructor=1',
    '/v1/archive_policy?__proto__=1']) {
    const r = await api.call('GET', url, { user: 'bob' });
    assert.ok(r.status < 500, `${url}: ${r.status} ${r.text}`);
  }
  const bodyKeys = await api.call('POST', '/v1/metric', { user: 'bob', raw: '{"archive_policy_name": "p", "constructor": 1}' });
  refused(bodyKeys, 'extra keys not allowed', 'an inherited name is not a known key');

  assertPrototypeUntouched();
  const after = await workflow();
  assert.deepEqual(after, baseline);
});
