// No input gets a 500: random bodies, query strings and identities on every route, with
// and without an existing alarm, as administrator and as a project member.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { alarmServer, as, threshold } from './test-util.js';

const ROUTES = ['/', '/healthcheck', '/v2', '/v2/alarms', '/v2/alarms/ID', '/v2/alarms/ID/state', '/v2/alarms/ID/history',
  '/v2/alarms/nope', '/v2/alarms/nope/state', '/v2/query/alarms', '/v2/query/alarms/history', '/v2/capabilities',
  '/v2/quotas', '/v2/quotas/p1'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

const QUERY_KEYS = ['q.field', 'q.op', 'q.value', 'q.type', 'sort', 'limit', 'marker', 'project_id'];
const FIELDS = ['all_projects', 'project_id', 'user_id', 'name', 'enabled', 'state', 'severity', 'timestamp', 'type', 'user', 'project', 'search_offset', 'repeat_actions', 'foo'];

// Pieces of plausible documents, so that deep validation paths are reached, not only the first check.
const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const ruleish = fc.dictionary(fc.constantFrom('metric', 'metrics', 'resource_id', 'resource_type', 'query', 'threshold',
  'aggregation_method', 'granularity', 'evaluation_periods', 'comparison_operator', 'type', 'and', 'or', 'event_type', 'field', 'op', 'value'),
fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.constant([{ type: 'gnocchi_resources_threshold' }])));
const alarmish = fc.record({
  name: scalar, type: fc.oneof(fc.constantFrom('gnocchi_resources_threshold', 'gnocchi_aggregation_by_metrics_threshold',
    'gnocchi_aggregation_by_resources_threshold', 'composite', 'event'), scalar),
  gnocchi_resources_threshold_rule: ruleish, composite_rule: fc.oneof(ruleish, fc.anything()), event_rule: ruleish,
  time_constraints: fc.array(fc.dictionary(fc.constantFrom('name', 'start', 'duration', 'timezone', 'description'), scalar), { maxLength: 2 }),
  alarm_actions: fc.oneof(fc.array(fc.string(), { maxLength: 2 }), scalar), enabled: scalar, severity: scalar, state: scalar,
  project_id: scalar, user_id: scalar,
}, { requiredKeys: [] });
const complexish = fc.record({
  filter: fc.oneof(fc.json(), fc.string(), fc.constant('{"and": [{"=": {"name": 1}}, {"in": {"timestamp": ["x"]}}]}'),
    fc.constant('{"not": {">": {"state_timestamp": "2020-01-01"}}}')),
  orderby: fc.oneof(fc.json(), fc.constant('[{"severity": "desc"}]')),
  limit: scalar,
}, { requiredKeys: [] });
const body = fc.oneof(fc.json().map((j) => j), alarmish.map((a) => JSON.stringify(a)), complexish.map((c) => JSON.stringify(c)),
  fc.string(), fc.constant('"ok"'), fc.constant(''));
const query = fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), fc.oneof(fc.constantFrom(...FIELDS, 'eq', 'lt', 'gt', 'name:desc', 'severity', '2020-01-01T00:00:00', 'true', '-1', 'ID'), fc.string())), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
const who = fc.oneof(fc.constant(as('u1', 'p1')), fc.constant(as('a', 'p0', 'admin')), fc.constant({ 'content-type': 'application/json' }),
  fc.record({ 'x-user-id': fc.string(), 'x-project-id': fc.string(), 'x-roles': fc.string(), 'content-type': fc.constantFrom('application/json', 'text/plain', '') }));

describe('alarm API under garbage', () => {
  let app: FastifyInstance;
  let done: () => Promise<void>;
  let id = '';
  before(async () => {
    ({ app, done } = await alarmServer());
    const r = await app.inject({ method: 'POST', url: '/v2/alarms', headers: as('u1', 'p1'), payload: JSON.stringify(threshold()) });
    id = r.json<{ alarm_id: string }>().alarm_id;
  });
  after(() => done());

  it('answers every route with a status below 500 and Aodh\'s error body', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ROUTES), fc.constantFrom(...METHODS), query, body, who,
      async (route, method, qs, payload, headers) => {
        const url = route.replace('ID', id) + (qs ? `?${qs.replace(/ID/g, id)}` : '');
        const r = await app.inject({ method, url, headers, payload: method === 'GET' || method === 'DELETE' ? undefined : payload });
        assert.ok(r.statusCode < 500, `${method} ${url} ${payload} -> ${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400) {
          const e = r.json<{ error_message: { faultcode: string; faultstring: string } }>().error_message;
          assert.equal(e.faultcode, 'Client');
          assert.equal(typeof e.faultstring, 'string');
        }
      }), { numRuns: 1500 });
  });
});
