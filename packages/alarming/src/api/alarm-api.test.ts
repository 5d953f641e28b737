import { describe, it, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { alarmServer, as, threshold } from './test-util.js';

type J = Record<string, unknown>;

describe('alarm API, default policy', () => {
  let app: FastifyInstance;
  let done: () => Promise<void>;
  before(async () => ({ app, done } = await alarmServer()));
  after(() => done());

  const post = (body: unknown, headers = as('u1', 'p1')) => app.inject({ method: 'POST', url: '/v2/alarms', headers, payload: JSON.stringify(body) });

  it('creates with Aodh defaults and answers Aodh fields', async () => {
    const r = await post(threshold());
    assert.equal(r.statusCode, 201);
    const a = r.json<J>();
    assert.match(String(r.headers.location), /^http:\/\/localhost(:\d+)?\/v2\/alarms\/[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(a), ['alarm_id', 'name', 'description', 'enabled', 'ok_actions', 'alarm_actions',
      'insufficient_data_actions', 'repeat_actions', 'type', 'time_constraints', 'project_id', 'user_id', 'timestamp', 'state',
      'state_timestamp', 'state_reason', 'severity', 'evaluate_timestamp', 'gnocchi_resources_threshold_rule']);
    assert.equal(a.severity, 'low');
    assert.equal(a.state, 'insufficient data');
    assert.equal(a.state_reason, 'Not evaluated yet');
    assert.equal(a.description, 'gnocchi_resources_threshold alarm rule');
    assert.equal(a.project_id, 'p1');
    assert.deepEqual(a.gnocchi_resources_threshold_rule, { metric: 'cpu', resource_id: 'r1', resource_type: 'instance',
      comparison_operator: 'eq', threshold: 80, aggregation_method: 'mean', evaluation_periods: 1, granularity: 60 });
    assert.match(r.body, /"threshold": 80\.0/);
  });

  it('keeps another project\'s alarms out of reach (404) and lists only the own project', async () => {
    const mine = (await post(threshold({ name: 'p2-alarm' }), as('u2', 'p2'))).json<J>();
    const r = await app.inject({ method: 'GET', url: `/v2/alarms/${String(mine.alarm_id)}`, headers: as('u1', 'p1') });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json<{ error_message: J }>().error_message.faultstring, `Alarm ${String(mine.alarm_id)} not found`);
    const list = (await app.inject({ method: 'GET', url: '/v2/alarms', headers: as('u1', 'p1') })).json<J[]>();
    assert.ok(list.every((a) => a.project_id === 'p1'));
    // all_projects=false never lifts the scope, for the administrator either.
    const admin = (await app.inject({ method: 'GET', url: '/v2/alarms?q.field=all_projects&q.value=false', headers: as('a', 'p1', 'admin') })).json<J[]>();
    assert.ok(admin.every((a) => a.project_id === 'p1'));
    const all = (await app.inject({ method: 'GET', url: '/v2/alarms?q.field=all_projects&q.value=true', headers: as('a', 'p1', 'admin') })).json<J[]>();
    assert.ok(all.some((a) => a.project_id === 'p2'));
    assert.equal((await app.inject({ method: 'GET', url: '/v2/alarms?q.field=all_projects&q.value=true', headers: as('u1', 'p1') })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v2/alarms?q.field=project_id&q.value=p2', headers: as('u1', 'p1') })).statusCode, 401);
    // A repeated field is refused: a check could read one value and the filter another.
    const dup = await app.inject({ method: 'GET', url: '/v2/alarms?q.field=project_id&q.value=p1&q.field=project_id&q.value=p2', headers: as('u1', 'p1') });
    assert.equal(dup.statusCode, 400);
    assert.match(dup.json<{ error_message: J }>().error_message.faultstring as string, /duplicate query fields are not allowed/);
  });

  it('refuses foreign owners (401) and log:// actions to non-administrators (401)', async () => {
    assert.equal((await post(threshold({ project_id: 'p9' }))).statusCode, 401);
    assert.equal((await post(threshold({ user_id: 'u9' }))).statusCode, 401);
    const log = await post(threshold({ alarm_actions: ['log://'] }));
    assert.equal(log.statusCode, 401);
    assert.equal(log.json<{ error_message: J }>().error_message.faultstring, 'You are not authorized to create action: log://');
    assert.equal((await post(threshold({ alarm_actions: ['log://'], project_id: 'p9' }), as('a', 'p1', 'admin'))).statusCode, 201);
  });

  it('replaces, sets and reads state, and keeps history', async () => {
    const a = (await post(threshold({ name: 'life' }))).json<J>();
    const url = `/v2/alarms/${String(a.alarm_id)}`;
    const put = await app.inject({ method: 'PUT', url, headers: as('u1', 'p1'), payload: JSON.stringify(threshold({ name: 'life', severity: 'critical' })) });
    assert.equal(put.statusCode, 200);
    assert.equal(put.json<J>().severity, 'critical');
    const st = await app.inject({ method: 'PUT', url: `${url}/state`, headers: as('u1', 'p1'), payload: '"alarm"' });
    assert.equal(st.body, '"alarm"');
    assert.equal((await app.inject({ method: 'PUT', url: `${url}/state`, headers: as('u1', 'p1'), payload: '"bogus"' })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: `${url}/state`, headers: as('u1', 'p1') })).body, '"alarm"');
    const h = (await app.inject({ method: 'GET', url: `${url}/history`, headers: as('u1', 'p1') })).json<J[]>();
    assert.deepEqual(h.map((c) => c.type), ['state transition', 'rule change', 'creation']);
    assert.equal(h[1].detail, '{"severity": "critical"}');
    assert.equal(h[0].detail, '{"state": "alarm", "state_reason": "Manually set via API"}');
    const q = await app.inject({ method: 'GET', url: `${url}/history?q.field=type&q.op=eq&q.value=rule%20change`, headers: as('u1', 'p1') });
    assert.deepEqual(q.json<J[]>().map((c) => c.type), ['rule change']);
    assert.equal((await app.inject({ method: 'DELETE', url, headers: as('u1', 'p1') })).statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url, headers: as('u1', 'p1') })).statusCode, 404);
  });

  it('answers 405 with Allow for PUT on the collection', async () => {
    const r = await app.inject({ method: 'PUT', url: '/v2/alarms', headers: as('u1', 'p1'), payload: JSON.stringify(threshold()) });
    assert.equal(r.statusCode, 405);
    assert.equal(r.headers.allow, 'GET, POST');
    assert.equal(r.json<{ error_message: J }>().error_message.faultcode, 'Client');
  });

  it('validates every rule type', async () => {
    const bad = async (body: unknown, pattern: RegExp) => {
      const r = await post(body);
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json<{ error_message: J }>().error_message.faultstring as string, pattern);
    };
    await bad(threshold({ gnocchi_resources_threshold_rule: { metric: 'c', resource_id: 'r', resource_type: 'i', threshold: 1, aggregation_method: 'nope' } }), /aggregation_method should be in \[.*'rate:mean'.*\] not nope/);
    await bad(threshold({ gnocchi_resources_threshold_rule: { metric: 'c', resource_id: 'r', resource_type: 'i', threshold: 1, aggregation_method: 'mean', granularity: 0 } }), /granularity.*greater or equal to 1/);
    await bad(threshold({ gnocchi_resources_threshold_rule: { metric: 'c', resource_id: 'r', resource_type: 'i', threshold: 1, aggregation_method: 'mean', evaluation_periods: 0 } }), /evaluation_periods/);
    await bad(threshold({ gnocchi_resources_threshold_rule: { metric: 'c', resource_id: 'r', resource_type: 'i', threshold: 1, aggregation_method: 'mean', comparison_operator: 'xx' } }), /comparison_operator/);
    await bad({ name: 'x', type: 'composite', composite_rule: { xor: [] } }, /combined with "and" or "or"/);
    await bad({ name: 'x', type: 'composite', composite_rule: { or: [{ and: [{ type: 'event', metric: 'm' }] }] } }, /Unsupported sub-rule type :event/);
    await bad({ name: 'x', type: 'composite', composite_rule: { or: [{ type: 'gnocchi_aggregation_by_metrics_threshold', threshold: 1, aggregation_method: 'mean' }] } }, /metrics.*Mandatory/);
    await bad({ name: 'x', type: 'event', event_rule: { query: [{ field: 'a', op: 'lt', type: 'integer', value: 'hello' }] } }, /Unable to convert the value hello to the expected data type integer/);
    await bad({ name: 'x', type: 'event', event_rule: {}, time_constraints: [{ name: 'a', start: '61 * * * *', duration: 1 }] }, /out of range/);
    await bad({ name: 'x', type: 'event', event_rule: {}, time_constraints: [{ name: 'a', start: '* * * * *', duration: 1, timezone: 'Mars/Base' }] }, /Timezone Mars\/Base is not valid/);
    await bad({ name: 'x', type: 'gnocchi_aggregation_by_resources_threshold', gnocchi_aggregation_by_resources_threshold_rule: { metric: 'c', resource_type: 'i', query: '{no', threshold: 1, aggregation_method: 'mean' } }, /rule\/query/);
    const nested = await post({ name: 'ok', type: 'composite', composite_rule: { or: [{ type: 'gnocchi_resources_threshold', metric: 'c', resource_id: 'r', resource_type: 'i', threshold: 1, aggregation_method: 'max' }, { and: [{ type: 'gnocchi_aggregation_by_metrics_threshold', metrics: ['m'], threshold: 2, aggregation_method: 'mean' }] }] } });
    assert.equal(nested.statusCode, 201, nested.body);
    const tc = await post({ name: 'tc', type: 'event', event_rule: {}, time_constraints: [{ name: 'n', start: '0 23 * * 1-5', duration: 3600, timezone: 'Europe/Ljubljana' }] });
    assert.equal(tc.statusCode, 201);
    assert.equal((tc.json<J>().time_constraints as J[])[0].description, 'Time constraint at 0 23 * * 1-5 lasting for 3600 seconds');
    // A non-administrator's by-resources query is scoped to its project.
    const byRes = await post({ name: 'br', type: 'gnocchi_aggregation_by_resources_threshold', gnocchi_aggregation_by_resources_threshold_rule: { metric: 'c', resource_type: 'i', query: '{"=": {"id": "x"}}', threshold: 1, aggregation_method: 'mean' } });
    assert.equal((byRes.json<J>().gnocchi_aggregation_by_resources_threshold_rule as J).query, '{"and":[{"=":{"created_by_project_id":"p1"}},{"=":{"id":"x"}}]}');
  });

  it('scopes complex queries to the project of a non-administrator', async () => {
    const body = (filter: unknown) => JSON.stringify({ filter: JSON.stringify(filter), orderby: '[{"name": "asc"}]' });
    const r = await app.inject({ method: 'POST', url: '/v2/query/alarms', headers: as('u1', 'p1'), payload: body({ '!=': { name: 'zzz' } }) });
    assert.equal(r.statusCode, 200);
    assert.ok(r.json<J[]>().length > 0 && r.json<J[]>().every((a) => a.project_id === 'p1'));
    const other = await app.inject({ method: 'POST', url: '/v2/query/alarms', headers: as('u1', 'p1'), payload: body({ '=': { project: 'p2' } }) });
    assert.equal(other.statusCode, 401);
    const hist = await app.inject({ method: 'POST', url: '/v2/query/alarms/history', headers: as('u1', 'p1'), payload: JSON.stringify({ filter: '{"=": {"type": "creation"}}', limit: 2 }) });
    assert.equal(hist.json<J[]>().length, 2);
    assert.ok(hist.json<J[]>().every((c) => c.on_behalf_of === 'p1'));
    const badFilter = await app.inject({ method: 'POST', url: '/v2/query/alarms', headers: as('u1', 'p1'), payload: body({ and: [{ '=': { name: 'a' } }] }) });
    assert.equal(badFilter.statusCode, 400);
    assert.match(badFilter.json<{ error_message: J }>().error_message.faultstring as string, /^Filter expression not valid/);
  });

  it('quotas: defaults, administrator overrides, 403 over quota', async () => {
    const get = await app.inject({ method: 'GET', url: '/v2/quotas', headers: as('q1', 'pq') });
    assert.deepEqual(get.json<J>(), { project_id: 'pq', quotas: [{ resource: 'alarms', limit: -1 }] });
    assert.equal((await app.inject({ method: 'GET', url: '/v2/quotas?project_id=p1', headers: as('q1', 'pq') })).statusCode, 401);
    const set = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/v2/quotas', headers, payload: JSON.stringify({ project_id: 'pq', quotas: [{ resource: 'alarms', limit: 1 }] }) });
    assert.equal((await set(as('q1', 'pq'))).statusCode, 403);
    const ok = await set(as('a', 'admin', 'admin'));
    assert.equal(ok.statusCode, 201);
    assert.deepEqual(ok.json<J>(), { project_id: 'pq', quotas: [{ resource: 'alarms', limit: 1 }] });
    assert.equal((await post(threshold(), as('q1', 'pq'))).statusCode, 201);
    const over = await post(threshold(), as('q1', 'pq'));
    assert.equal(over.statusCode, 403);
    assert.equal(over.json<{ error_message: J }>().error_message.faultstring, 'Alarm quota exceeded for user q1 on project pq');
    assert.equal((await app.inject({ method: 'DELETE', url: '/v2/quotas/pq', headers: as('a', 'admin', 'admin') })).statusCode, 204);
    assert.equal((await post(threshold(), as('q1', 'pq'))).statusCode, 201);
  });

  it('asks who calls (401 without identity) and answers the root, health and capabilities', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v2/alarms' })).statusCode, 401);
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.headers['content-type'], 'application/json');
    assert.match(root.body, /"base": "application\/json"/);
    assert.equal((await app.inject({ method: 'GET', url: '/healthcheck' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v2' })).statusCode, 404);
    const caps = (await app.inject({ method: 'GET', url: '/v2/capabilities', headers: as('u1', 'p1') })).json<J>();
    assert.deepEqual(caps.alarm_storage, { 'storage:production_ready': true });
  });
});

describe('alarm API, open policy (Aodh functional-test profile)', () => {
  it('allows requests without identity; their alarms have no owner', async () => {
    const { app, done } = await alarmServer({ policy: 'open' });
    try {
      const r = await app.inject({ method: 'POST', url: '/v2/alarms', payload: JSON.stringify(threshold()), headers: { 'content-type': 'application/json' } });
      assert.equal(r.statusCode, 201);
      assert.equal(r.json<J>().project_id, null);
      const list = await app.inject({ method: 'GET', url: '/v2/alarms' });
      assert.equal(list.json<J[]>().length, 1);
    } finally {
      await done();
    }
  });
});

test('a database that cannot answer (busy, full, read-only) is a 503 in Aodh\'s body, not a 500', async () => {
  const { app, store, done } = await alarmServer();
  try {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    store.list = async () => { throw busy; };
    store.get = async () => { throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' }); };
    for (const url of ['/v2/alarms', '/v2/alarms/5a301761-f78b-46e2-8900-8b4f6fe6f3c5']) {
      const r = await app.inject({ method: 'GET', url, headers: as('u', 'p', 'admin') });
      assert.equal(r.statusCode, 503, url);
      const body = JSON.parse(r.body) as { error_message: { faultstring: string } };
      assert.match(body.error_message.faultstring, /alarm database is unavailable/);
    }
  } finally {
    await done();
  }
});
