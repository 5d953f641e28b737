// End to end: a real Tally over HTTP, measures posted through the API, two evaluators
// sharing the alarms through the file coordinator, one of them killed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { GnocchiClient } from '@tally/client';
import { LocalMembership } from '@tally/coordination';
import { startTestApi, type TestApi } from '@tally/rest/test-util';
import type { Alarm, AlarmState } from '../model.js';
import { Evaluator, type Transition } from './evaluator.js';
import { GnocchiMetricSource } from './gnocchi-source.js';
import type { MetricSource } from './source.js';

const INTERVAL = 500;
const N_ALARMS = 16;

let api: TestApi;
let client: GnocchiClient;
let dir: string;
const resources = Array.from({ length: N_ALARMS }, () => randomUUID());

before(async () => {
  api = await startTestApi();
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  client = new GnocchiClient({ url, auth: { type: 'basic', user: 'admin' }, retry: false });
  dir = mkdtempSync(join(tmpdir(), 'tally-evaluator-'));
  await client.archivePolicy.create({ name: 'alarms', aggregation_methods: ['last', 'max'], definition: [{ granularity: 60, points: 60 }] });
  for (const id of resources) {
    await client.resource.create('generic', { id, metrics: { cpu: { archive_policy_name: 'alarms' } } });
  }
});

after(async () => {
  client.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Posts `value` to the cpu of every resource, later than anything before, and has Tally fold it. */
let tick = 0;
async function setAll(value: number): Promise<void> {
  const timestamp = new Date(Math.floor(Date.now() / 60_000) * 60_000 + tick++).toISOString();
  await client.batch.resourcesMetricsMeasures(Object.fromEntries(resources.map((id) => [id, { cpu: [{ timestamp, value }] }])));
  for (const id of resources) await client.resource.measures('generic', id, 'cpu', { refresh: true, aggregation: 'last' });
}

function makeAlarm(i: number): Alarm {
  return {
    alarm_id: `alarm-${i}`, name: `cpu-${i}`, description: '', type: 'gnocchi_resources_threshold', enabled: true,
    state: 'insufficient data', state_reason: '', severity: 'low', ok_actions: [], alarm_actions: [], insufficient_data_actions: [],
    repeat_actions: false, user_id: null, project_id: null, time_constraints: [], timestamp: '', state_timestamp: '',
    rule: {
      metric: 'cpu', resource_id: resources[i], resource_type: 'generic', comparison_operator: 'gt', threshold: 50,
      aggregation_method: 'last', granularity: 60, evaluation_periods: 1,
    },
  };
}

/** A source that records which evaluator read which resource, and when. */
function recording(inner: MetricSource, who: string, log: { who: string; resource: string; at: number }[]): MetricSource {
  return {
    resourceMeasures: (q) => {
      log.push({ who, resource: q.resourceId, at: Date.now() });
      return inner.resourceMeasures(q);
    },
    metricsAggregate: (q) => inner.metricsAggregate(q),
    resourcesAggregate: (q) => inner.resourcesAggregate(q),
  };
}

async function until(what: string, check: () => boolean, withinMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > withinMs) assert.fail(`${what} not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

test('two evaluators share the alarms: trips and clears within an interval, no double evaluation, takeover after a kill', async () => {
  const alarms = new Map(Array.from({ length: N_ALARMS }, (_, i) => [`alarm-${i}`, makeAlarm(i)]));
  const transitions: { who: string; alarm: string; t: Transition; at: number }[] = [];
  const reads: { who: string; resource: string; at: number }[] = [];
  const errors: unknown[] = [];
  const source = new GnocchiMetricSource(client);
  const evaluator = (who: string, membership: LocalMembership): Evaluator => new Evaluator({
    intervalMs: INTERVAL, membership, memberId: who, source: recording(source, who, reads),
    heartbeatMs: INTERVAL / 5, timeoutMs: INTERVAL,
    listAlarms: async () => [...alarms.values()].map((a) => ({ ...a })),
    onTransition: async (alarm, t) => {
      transitions.push({ who, alarm: alarm.alarm_id, t, at: Date.now() });
      const stored = alarms.get(alarm.alarm_id) as Alarm;
      stored.state = t.state;
      stored.state_reason = t.reason;
    },
    onError: (err) => errors.push(err),
  });
  const ma = new LocalMembership({ dir });
  const mb = new LocalMembership({ dir });
  const a = evaluator('a', ma);
  const b = evaluator('b', mb);
  const states = (s: AlarmState): boolean => [...alarms.values()].every((x) => x.state === s);
  try {
    await setAll(10);
    await Promise.all([a.start(), b.start()]);
    await until('every alarm ok', () => states('ok'), 3 * INTERVAL);
    const owners = new Set(transitions.map((x) => x.who));
    assert.deepEqual([...owners].sort(), ['a', 'b'], 'both evaluators own alarms');

    await setAll(90);
    const tripped = await until('every alarm in alarm', () => states('alarm'), 3 * INTERVAL);
    assert.ok(tripped <= INTERVAL + 250, `tripped in ${tripped} ms`);
    await setAll(5);
    const cleared = await until('every alarm back to ok', () => states('ok'), 3 * INTERVAL);
    assert.ok(cleared <= INTERVAL + 250, `cleared in ${cleared} ms`);
    const last = transitions.filter((x) => x.t.previous === 'alarm');
    assert.equal(last.length, N_ALARMS, 'one transition per alarm');
    assert.equal(last[0].t.reason, 'Transition to ok due to 1 samples inside threshold, most recent: 5.0');

    // Steady state: each alarm read once per round, by one evaluator.
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 4 * INTERVAL));
    const steady = reads.filter((r) => r.at >= from);
    for (const id of resources) {
      const mine = steady.filter((r) => r.resource === id);
      assert.equal(new Set(mine.map((r) => r.who)).size, 1, `alarm on ${id} read by one evaluator`);
      for (let i = 1; i < mine.length; i++) assert.ok(mine[i].at - mine[i - 1].at >= INTERVAL * 0.7, `read twice within an interval (${mine[i].at - mine[i - 1].at} ms)`);
      assert.ok(mine.length >= 3 && mine.length <= 5, `${mine.length} reads in 4 intervals`);
    }

    // Kill b: it stops heartbeating and evaluating without leaving the group.
    const ofB = new Set(steady.filter((r) => r.who === 'b').map((r) => r.resource));
    assert.ok(ofB.size > 0 && ofB.size < N_ALARMS);
    mb.abandon();
    await b.stop();
    const killedAt = Date.now();
    const takenOver = await until('a evaluates the alarms of b',
      () => [...ofB].every((id) => reads.some((r) => r.who === 'a' && r.resource === id && r.at > killedAt)), 4 * INTERVAL);
    assert.ok(takenOver <= 2 * INTERVAL + 250, `taken over in ${takenOver} ms`);
    // And a's share still trips.
    await setAll(95);
    await until('every alarm in alarm after the takeover', () => states('alarm'), 2 * INTERVAL + 250);
    assert.deepEqual(errors.map(String), ['MembershipClosedError: membership is closed'], 'only b failing to leave a closed membership');
  } finally {
    await a.stop();
    await b.stop();
    await ma.close();
  }
});

test('a failing source leaves the alarm as it is, after retries', async () => {
  let calls = 0;
  const down: MetricSource = {
    resourceMeasures: async () => {
      calls++;
      const { SourceUnavailableError } = await import('./source.js');
      throw new SourceUnavailableError('503 Service Unavailable');
    },
    metricsAggregate: async () => [],
    resourcesAggregate: async () => [],
  };
  const membership = new LocalMembership({ dir: mkdtempSync(join(tmpdir(), 'tally-evaluator-')) });
  const transitions: Transition[] = [];
  const errors: unknown[] = [];
  const e = new Evaluator({
    intervalMs: 10_000, membership, source: down, retry: { attempts: 3, baseMs: 5, maxMs: 20 },
    listAlarms: async () => [{ ...makeAlarm(0), state: 'ok' }],
    onTransition: async (_a, t) => void transitions.push(t),
    onError: (err) => errors.push(err),
  });
  await e.start();
  await until('the round gives up', () => errors.length === 1, 2000);
  await e.stop();
  await membership.close();
  rmSync(membership.dir, { recursive: true, force: true });
  assert.equal(calls, 3);
  assert.deepEqual(transitions, [], 'no state change');
  assert.match(String(errors[0]), /SourceUnavailableError: 503/);
});
