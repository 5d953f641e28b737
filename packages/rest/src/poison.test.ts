// Requests whose keys, JSON Patch paths or query parameters name the properties every JS
// object has (`__proto__`, `constructor`, `prototype`) must leave the process's shared
// prototypes alone: a polluted Object.prototype would change what every other user's
// requests get. reliability/poison.mjs checks the same inputs over HTTP for their effect on
// another user's answers, but cannot see the server's heap; this test can.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestApi, type TestApi } from './test-util.js';

let api: TestApi;
before(async () => {
  api = await startTestApi();
  const p = await api.call('POST', '/v1/archive_policy', { body: { name: 'pp', definition: [{ granularity: '1s', points: 60 }] } });
  assert.equal(p.status, 201, p.text);
  const r = await api.call('POST', '/v1/archive_policy_rule', { body: { name: 'pp-all', metric_pattern: '*', archive_policy_name: 'pp' } });
  assert.equal(r.status, 201, r.text);
  const t = await api.call('POST', '/v1/resource_type', { body: { name: 'pp-rt', attributes: { host: { type: 'string', required: false } } } });
  assert.equal(t.status, 201, t.text);
});
after(async () => api?.close());

/** Every own property of the shared prototypes, with the identity of its value or accessors. */
function prototypes(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const shared: [string, object][] = [
    ['Object', Object.prototype], ['Array', Array.prototype], ['Function', Function.prototype], ['String', String.prototype],
  ];
  for (const [name, proto] of shared) {
    out.set(`${name} is extensible`, Object.isExtensible(proto));
    out.set(`${name} prototype`, Object.getPrototypeOf(proto));
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key);
      out.set(`${name}.${String(key)}`, d?.value);
      out.set(`${name}.${String(key)} get`, d?.get);
      out.set(`${name}.${String(key)} set`, d?.set);
    }
  }
  return out;
}

const patchHeaders = { 'content-type': 'application/json-patch+json' };
const attr = { type: 'string', required: false };
const measure = [{ timestamp: '2024-01-01T00:00:00', value: 1 }];

/** [label, method, url, raw body, headers]: each names a shared property where a key or a path goes. */
function candidates(metricId: string, resourceId: string): [string, string, string, string | undefined, Record<string, string>?][] {
  const json = JSON.stringify;
  return [
    ['resource type with attributes __proto__, constructor, prototype', 'POST', '/v1/resource_type',
      `{"name":"pp-rt1","attributes":{"__proto__":${json(attr)},"constructor":${json(attr)},"prototype":${json(attr)}}}`],
    ['resource type whose body has __proto__', 'POST', '/v1/resource_type', `{"name":"pp-rt2","__proto__":{"polluted":"yes"},"attributes":{"host":${json(attr)}}}`],
    ...[
      ['/attributes/__proto__/polluted', '"yes"'],
      ['/attributes/__proto__/archive_policy_name', '"pp"'],
      ['/attributes/constructor/prototype/x', '"yes"'],
      ['/attributes/constructor/prototype/polluted', json(attr)],
      ['/attributes/__proto__', json(attr)],
      ['/attributes/constructor', json(attr)],
      ['/__proto__/polluted', '"yes"'],
      ['/constructor/prototype/polluted', '"yes"'],
    ].map(([path, value]): [string, string, string, string, Record<string, string>] =>
      [`PATCH add ${path}`, 'PATCH', '/v1/resource_type/pp-rt', `[{"op":"add","path":"${path}","value":${value}}]`, patchHeaders]),
    ['PATCH copy into /attributes/__proto__', 'PATCH', '/v1/resource_type/pp-rt', '[{"op":"copy","from":"/attributes/host","path":"/attributes/__proto__/polluted"}]', patchHeaders],
    ['PATCH move into /attributes/constructor/prototype', 'PATCH', '/v1/resource_type/pp-rt', '[{"op":"move","from":"/attributes/host","path":"/attributes/constructor/prototype/polluted"}]', patchHeaders],
    ['PATCH remove /attributes/__proto__/toString', 'PATCH', '/v1/resource_type/pp-rt', '[{"op":"remove","path":"/attributes/__proto__/toString"}]', patchHeaders],
    ['PATCH replace /attributes/constructor/prototype/valueOf', 'PATCH', '/v1/resource_type/pp-rt', '[{"op":"replace","path":"/attributes/constructor/prototype/valueOf","value":"x"}]', patchHeaders],
    ['resource with __proto__ in its metrics', 'POST', '/v1/resource/generic', `{"id":"${randomUUID()}","metrics":{"__proto__":{"archive_policy_name":"pp"},"constructor":{"archive_policy_name":"pp"}}}`],
    ['resource whose body has __proto__', 'POST', '/v1/resource/generic', `{"id":"${randomUUID()}","__proto__":{"polluted":"yes"},"user_id":"u"}`],
    ['resource of a type with __proto__ values', 'POST', '/v1/resource/pp-rt1', `{"id":"${randomUUID()}","__proto__":"x","constructor":"y","prototype":"z"}`],
    ['resource update with __proto__', 'PATCH', `/v1/resource/generic/${resourceId}`, '{"__proto__":{"polluted":"yes"},"user_id":"v"}'],
    ['resource metrics added under __proto__', 'POST', `/v1/resource/generic/${resourceId}/metric`, '{"__proto__":{"archive_policy_name":"pp"}}'],
    ['archive policy whose body has __proto__', 'POST', '/v1/archive_policy', '{"name":"pp2","__proto__":{"polluted":"yes"},"definition":[{"granularity":"1s","points":5,"__proto__":{"polluted":"yes"}}]}'],
    ['archive policy named __proto__', 'POST', '/v1/archive_policy', '{"name":"__proto__","definition":[{"granularity":"1s","points":5}]}'],
    ['archive policy update with __proto__', 'PATCH', '/v1/archive_policy/pp', '{"__proto__":{"polluted":"yes"},"definition":[{"granularity":"1s","points":60}]}'],
    ['archive policy rule named __proto__', 'POST', '/v1/archive_policy_rule', '{"name":"__proto__","metric_pattern":"zz*","archive_policy_name":"pp","__proto__":{"polluted":"yes"}}'],
    ['metric named __proto__', 'POST', '/v1/metric', '{"name":"__proto__","archive_policy_name":"pp","__proto__":{"polluted":"yes"}}'],
    ['batch measures keyed __proto__', 'POST', '/v1/batch/metrics/measures', `{"__proto__":${json(measure)},"constructor":${json(measure)},"${metricId}":${json(measure)}}`],
    ['batch resource measures keyed __proto__', 'POST', '/v1/batch/resources/metrics/measures',
      `{"__proto__":{"polluted":${json(measure)}},"${resourceId}":{"__proto__":${json(measure)},"constructor":{"archive_policy_name":"pp","measures":${json(measure)}}}}`],
    ['batch resource measures creating __proto__ metrics', 'POST', '/v1/batch/resources/metrics/measures?create_metrics=true',
      `{"${resourceId}":{"__proto__":{"archive_policy_name":"pp","measures":${json(measure)}},"prototype":{"archive_policy_name":"pp","measures":${json(measure)}}}}`],
    ['search with __proto__ operator', 'POST', '/v1/search/resource/generic', '{"__proto__":{"polluted":"yes"}}'],
    ['search on attribute __proto__', 'POST', '/v1/search/resource/generic', '{"=":{"__proto__":"yes"}}'],
    ['search with and of __proto__', 'POST', '/v1/search/resource/generic', '{"and":{"__proto__":[{"=":{"id":"x"}}]}}'],
    ['metric search with __proto__', 'POST', `/v1/search/metric?metric_id=${metricId}`, '{"__proto__":{"polluted":"yes"}}'],
    ['aggregates whose body has __proto__', 'POST', '/v1/aggregates', `{"operations":"(metric ${metricId} mean)","__proto__":{"polluted":"yes"}}`],
    ['aggregates over a metric named __proto__', 'POST', '/v1/aggregates', '{"operations":"(metric __proto__ mean)","resource_type":"generic","search":{"=":{"user_id":"u"}}}'],
    ['aggregates with operations as __proto__ lists', 'POST', '/v1/aggregates', '{"operations":["metric",["__proto__","mean"],["constructor","mean"]],"resource_type":"generic","search":{}}'],
    ['query __proto__[polluted]', 'GET', '/v1/metric?__proto__[polluted]=yes&constructor[prototype][polluted]=yes', undefined],
    ['query __proto__.polluted', 'GET', `/v1/metric/${metricId}/measures?__proto__.polluted=yes&__proto__=x&aggregation=mean`, undefined],
    ['query filter on __proto__', 'GET', '/v1/resource/generic?filter=__proto__%3D%27x%27', undefined],
    ['influxdb tag and field keys __proto__', 'POST', '/v1/influxdb/write?db=ppdb', 'cpu,__proto__=polluted,constructor=x __proto__=1,prototype=2 1700000000000000000', { 'content-type': 'text/plain' }],
    ['influxdb measurement __proto__', 'POST', '/v1/influxdb/write?db=ppdb', '__proto__,host=a value=1 1700000000000000000', { 'content-type': 'text/plain' }],
  ];
}

test('no request that names __proto__, constructor or prototype changes the shared prototypes', async () => {
  const m = await api.call('POST', '/v1/metric', { user: 'mallory', body: { name: 'mine', archive_policy_name: 'pp' } });
  assert.equal(m.status, 201, m.text);
  const r = await api.call('POST', '/v1/resource/generic', { user: 'mallory', body: { id: randomUUID(), user_id: 'u', metrics: { cpu: { archive_policy_name: 'pp' } } } });
  assert.equal(r.status, 201, r.text);
  await api.call('POST', '/v1/influxdb/query?q=create+database+ppdb');
  const expected = prototypes();
  const objectNames = Object.getOwnPropertyNames(Object.prototype);
  const answers: string[] = [];
  for (const [label, method, url, raw, headers] of candidates((m.json as { id: string }).id, (r.json as { id: string }).id)) {
    // Admin for what only an admin may do; the checks below hold whatever the answer.
    const user = /resource_type|archive_policy|influxdb/.test(url) ? 'admin' : 'mallory';
    const a = await api.call(method, url, { user, raw, headers });
    answers.push(`${a.status} ${label}`);
  }
  const now = prototypes();
  const changed = [...new Set([...expected.keys(), ...now.keys()])].filter((k) => expected.get(k) !== now.get(k));
  assert.deepEqual(changed, [], `shared prototypes changed by: \n${answers.join('\n')}`);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), objectNames);
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'x', 'archive_policy_name', 'host', 'type', 'required']) assert.equal(probe[key], undefined, `({}).${key}`);
  assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined);

  // Another user's ordinary requests still work.
  const b = await api.call('POST', '/v1/metric', { user: 'bob', body: { name: 'bob.cpu' } });
  assert.equal(b.status, 201, b.text);
  assert.equal((b.json as { archive_policy_name: string }).archive_policy_name, 'pp');
  assert.deepEqual(Object.keys(b.json as object).sort(), ['archive_policy_name', 'created_by_project_id', 'created_by_user_id', 'creator', 'id', 'name', 'resource_id', 'unit']);
  const bid = (b.json as { id: string }).id;
  const posted = await api.call('POST', `/v1/metric/${bid}/measures`, { user: 'bob', body: measure });
  assert.equal(posted.status, 202, posted.text);
  const read = await api.call('GET', `/v1/metric/${bid}/measures?refresh=true`, { user: 'bob' });
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.json, [['2024-01-01T00:00:00+00:00', 1.0, 1.0]]);
});
