import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { EventEvaluator } from '../evaluator/event-evaluator.js';
import type { EventInput } from '../evaluator/event.js';
import type { AlarmStore } from '../store/index.js';
import { MAX_EVENTS, MAX_RAW_DEPTH } from './events.js';
import { alarmServer, as } from './test-util.js';

type J = Record<string, unknown>;
const fault = (r: { json: <T>() => T }): string => r.json<{ error_message: { faultstring: string } }>().error_message.faultstring;

const event = (over: J = {}): J => ({
  event_type: 'compute.instance.update', message_id: 'c1a4d5f8-0000-4000-8000-000000000001', generated: '2024-05-01T10:00:00.123456',
  traits: [['project_id', 1, 'p1'], { name: 'state', type: 'string', value: 'error' }, ['vcpus', 2, 4]], raw: {}, ...over,
});

describe('POST /v2/events: who may post, what is taken', () => {
  let app: FastifyInstance;
  let done: () => Promise<void>;
  const received: EventInput[][] = [];
  before(async () => ({ app, done } = await alarmServer({ events: { evaluateEvents: async (e) => { received.push(e); } } })));
  after(() => done());
  const post = (body: unknown, headers = as('svc', 'services', 'service')) =>
    app.inject({ method: 'POST', url: '/v2/events', headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });

  it('takes one event or a list from an administrator or a service, hands them over whole, answers 202 and the count', async () => {
    const one = await post(event());
    assert.equal(one.statusCode, 202);
    assert.deepEqual(one.json(), { events: 1 });
    assert.deepEqual(received.at(-1), [event()]);
    const two = await post([event(), event({ message_id: 'm2', traits: [] })], as('a', 'p0', 'admin'));
    assert.equal(two.statusCode, 202);
    assert.deepEqual(two.json(), { events: 2 });
    assert.equal(received.at(-1)?.length, 2);
    assert.deepEqual((await post([])).json(), { events: 0 });
  });

  it('refuses project members (403) and anonymous callers (401), with Aodh\'s error body', async () => {
    const before = received.length;
    const member = await post(event(), as('u1', 'p1', 'member'));
    assert.equal(member.statusCode, 403);
    assert.equal(fault(member), 'RBAC Authorization Failed');
    assert.equal((await post(event(), { 'content-type': 'application/json' })).statusCode, 401);
    assert.equal(received.length, before, 'nothing handed over');
  });

  it('checks every field; one bad event refuses the request', async () => {
    const bad = async (body: unknown, message: RegExp) => {
      const before = received.length;
      const r = await post(body);
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(fault(r), message);
      assert.equal(received.length, before);
    };
    await bad(event({ event_type: '' }), /event\.event_type.*non-empty/);
    await bad({ message_id: 'm', generated: '2024-01-01T00:00:00' }, /event\.event_type\. Value: 'None'\. Mandatory field missing/);
    await bad(event({ message_id: 5 }), /event\.message_id/);
    await bad(event({ generated: 'yesterday' }), /event\.generated.*ISO 8601/);
    await bad(event({ surprise: 1 }), /Unknown attribute for argument event: surprise/);
    await bad([event(), event({ traits: 'x' })], /events\[1\]\.traits/);
    await bad(event({ traits: [['a', 2, 'abc']] }), /traits\[0\]\.value.*integer/);
    await bad(event({ traits: [['a', 2, 2 ** 60]] }), /send it as a string/);
    await bad(event({ traits: [['a', 1, 5]] }), /Expected a string/);
    await bad(event({ traits: [['a', 4, '2024-13-01']] }), /datetime/);
    await bad(event({ traits: [['a', 7, 'x']] }), /traits\[0\]\.type/);
    await bad(event({ traits: [['a', 'boolean', 'x']] }), /traits\[0\]\.type/);
    await bad(event({ traits: [['a', 1]] }), /Expected \[name, type, value\]/);
    await bad(event({ traits: [{ name: 'a', type: 1 }] }), /value.*Mandatory/);
    await bad(event({ traits: [{ name: 'a', type: 1, value: 'v', extra: 1 }] }), /Unknown attribute/);
    await bad(event({ traits: [['x'.repeat(256), 1, 'v']] }), /Longer than 255/);
    let deep: unknown = {};
    for (let i = 0; i < MAX_RAW_DEPTH + 1; i++) deep = { d: deep };
    await bad(event({ raw: deep }), /Nested deeper/);
    await bad(Array.from({ length: MAX_EVENTS + 1 }, () => event()), /More than 1000 events/);
    await bad('{not json', /Request is not in valid JSON format/);
    await bad('"text"', /Expected an event object/);
    // The number and the names of the types are both taken.
    assert.equal((await post(event({ traits: [['a', 'datetime', '2024-01-01T00:00:00Z'], ['b', 3, '1e3'], ['c', 0, 'x']] }))).statusCode, 202);
  });

  it('answers 405 to other methods', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/events', headers: as('a', 'p0', 'admin') });
    assert.equal(r.statusCode, 405);
    assert.equal(r.headers.allow, 'POST');
  });

  it('never answers 500 to garbage', async () => {
    const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const traitish = fc.oneof(fc.tuple(scalar, fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 'string', 'integer', 'float', 'datetime'), scalar), scalar),
      fc.dictionary(fc.constantFrom('name', 'type', 'value', 'x'), scalar), fc.anything());
    const eventish = fc.record({
      event_type: scalar, message_id: scalar, generated: fc.oneof(scalar, fc.constant('2024-01-01T00:00:00')),
      traits: fc.oneof(fc.array(traitish, { maxLength: 4 }), scalar), raw: fc.oneof(fc.anything(), fc.object()),
    }, { requiredKeys: [] });
    const body = fc.oneof(eventish.map((e) => JSON.stringify(e)), fc.array(eventish, { maxLength: 3 }).map((e) => JSON.stringify(e)),
      fc.json(), fc.string());
    await fc.assert(fc.asyncProperty(body, async (payload) => {
      const r = await post(payload);
      assert.ok(r.statusCode < 500, `${payload} -> ${r.statusCode} ${r.body}`);
      if (r.statusCode >= 400) assert.equal(r.json<{ error_message: { faultcode: string } }>().error_message.faultcode, 'Client');
    }), { numRuns: 1000 });
  });
});

describe('POST /v2/events without an event handler', () => {
  it('is not a route', async () => {
    const { app, done } = await alarmServer();
    try {
      const r = await app.inject({ method: 'POST', url: '/v2/events', headers: as('a', 'p0', 'admin'), payload: JSON.stringify(event()) });
      assert.equal(r.statusCode, 404);
    } finally {
      await done();
    }
  });
});

describe('event alarms in process: store, API and EventEvaluator', () => {
  let app: FastifyInstance;
  let store: AlarmStore;
  let done: () => Promise<void>;
  const errors: unknown[] = [];
  before(async () => {
    let evaluator: EventEvaluator | null = null;
    ({ app, store, done } = await alarmServer({ events: { evaluateEvents: (e) => (evaluator as EventEvaluator).evaluateEvents(e) } }));
    evaluator = new EventEvaluator({
      listAlarms: (project) => store.list({ enabled: true, type: 'event', project_id: project }),
      onTransition: async (a, t) => (await store.transitionState(a.alarm_id,
        { state: t.state, reason: t.reason, reasonData: t.reasonData, expectedState: t.previous })) !== null,
      onRepeat: async (a, t) => (await store.transitionState(a.alarm_id,
        { state: t.state, reason: t.reason, reasonData: t.reasonData, alwaysRecord: true })) !== null,
      onError: (err) => errors.push(err),
    });
  });
  after(() => done());

  const create = async (body: J, headers = as('u1', 'p1')): Promise<string> => {
    const r = await app.inject({ method: 'POST', url: '/v2/alarms', headers, payload: JSON.stringify({ name: 'ev', type: 'event', ...body }) });
    assert.equal(r.statusCode, 201, r.body);
    return r.json<{ alarm_id: string }>().alarm_id;
  };
  const get = async (id: string, path = ''): Promise<unknown> =>
    (await app.inject({ method: 'GET', url: `/v2/alarms/${id}${path}`, headers: as('u1', 'p1') })).json();
  const postEvents = async (body: unknown) => {
    const r = await app.inject({ method: 'POST', url: '/v2/events', headers: as('ceilometer', 'service', 'service'), payload: JSON.stringify(body) });
    assert.equal(r.statusCode, 202, r.body);
  };

  it('a matching event fires the alarm, a non-matching one does not; the state and history show it', async () => {
    const query = [{ field: 'traits.state', op: 'eq', type: 'string', value: 'error' }, { field: 'traits.vcpus', op: 'ge', type: 'integer', value: '4' }];
    const id = await create({ event_rule: { event_type: 'compute.instance.*', query } });
    const quiet = await create({ name: 'other-type', event_rule: { event_type: 'image.*' } });
    const elsewhere = await create({ name: 'p2', event_rule: { event_type: '*' } }, as('u2', 'p2'));

    await postEvents(event({ message_id: 'miss', traits: [['project_id', 1, 'p1'], ['state', 1, 'active'], ['vcpus', 2, 8]] }));
    assert.equal(await get(id, '/state'), 'insufficient data');

    await postEvents(event({ message_id: 'hit' }));
    const a = await get(id) as J;
    assert.equal(a.state, 'alarm');
    const reason = 'Event <id=hit,event_type=compute.instance.update> hits the query <query=[{"field": "traits.state", "op": "eq", "type": "string", "value": "error"}, {"field": "traits.vcpus", "op": "ge", "type": "integer", "value": "4"}]>.';
    assert.equal(a.state_reason, reason);
    const history = await get(id, '/history') as J[];
    assert.deepEqual(history.map((h) => h.type), ['state transition', 'creation']);
    assert.deepEqual(JSON.parse(history[0].detail as string), { state: 'alarm', transition_reason: reason });
    assert.equal(await get(quiet, '/state'), 'insufficient data');
    assert.equal((await store.get(elsewhere))?.state, 'insufficient data');

    // Fired, without repeat_actions: a second hit leaves no trace.
    await postEvents(event({ message_id: 'again' }));
    assert.equal((await get(id, '/history') as J[]).length, 2);
    assert.deepEqual(errors, []);
  });

  it('repeat_actions records every hit; a disabled alarm and a reset one behave as stored now', async () => {
    const rep = await create({ name: 'rep', repeat_actions: true, event_rule: { event_type: '*' } });
    const off = await create({ name: 'off', enabled: false, event_rule: { event_type: '*' } });
    const reset = await create({ name: 'reset', event_rule: { event_type: '*' } });
    await postEvents([event({ message_id: 'r1' }), event({ message_id: 'r2' })]);
    const h = await get(rep, '/history') as J[];
    assert.deepEqual(h.map((x) => x.type), ['state transition', 'state transition', 'creation']);
    assert.match(String(h[0].detail), /id=r2/);
    assert.equal((await store.get(off))?.state, 'insufficient data');
    // A client sets the fired alarm back to ok: the next event fires it again at once.
    await app.inject({ method: 'PUT', url: `/v2/alarms/${reset}/state`, headers: as('u1', 'p1'), payload: '"ok"' });
    await postEvents(event({ message_id: 'r3' }));
    assert.equal(await get(reset, '/state'), 'alarm');
    assert.match(String((await store.get(reset))?.state_reason), /id=r3/);
  });
});
