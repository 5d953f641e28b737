import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '@tally/indexer/test-util';
import { sql, type Kysely } from 'kysely';
import { migrate, openAlarmDatabase, type AlarmDatabase } from '../db.js';
import { ALARM_STORE_MIGRATIONS, AlarmStore, InvalidMarkerError, type AlarmInput } from './index.js';

function input(over: Partial<AlarmInput> = {}): AlarmInput {
  return {
    name: 'cpu high', description: 'd', type: 'gnocchi_resources_threshold', enabled: true, state: 'insufficient data',
    state_reason: 'Not evaluated yet', severity: 'low', ok_actions: [], alarm_actions: ['http://site/alarm'],
    insufficient_data_actions: [], repeat_actions: false, user_id: 'u1', project_id: 'p1', time_constraints: [],
    rule: { metric: 'cpu', resource_id: 'r1', resource_type: 'instance', threshold: 300, comparison_operator: 'gt',
      aggregation_method: 'mean', granularity: 60, evaluation_periods: 1 },
    ...over,
  };
}
const actor = { userId: 'u1', projectId: 'p1' };

for (const engine of testDatabases()) {
  describe(`AlarmStore on ${engine.name}`, () => {
    let database: AlarmDatabase;
    let drop: () => Promise<void>;
    let store: AlarmStore;
    before(async () => {
      const d = await engine.create();
      drop = d.drop;
      database = await openAlarmDatabase(d.url);
      assert.equal(await migrate(database, ALARM_STORE_MIGRATIONS), 1);
      assert.equal(await migrate(database, ALARM_STORE_MIGRATIONS), 0, 'a second upgrade has nothing to do');
      store = new AlarmStore(database.db, database.dialect);
    });
    after(async () => {
      await database.close();
      await drop();
    });

    it('creates, reads and lists alarms with their documents intact', async () => {
      const a = await store.create(input({ time_constraints: [{ name: 'night', description: 'x', start: '0 23 * * *', duration: 3600, timezone: 'Europe/Paris' }] }), actor);
      assert.match(a.alarm_id, /^[0-9a-f-]{36}$/);
      assert.match(a.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
      assert.equal(a.state_timestamp, a.timestamp);
      const got = await store.get(a.alarm_id);
      assert.deepEqual(got, a);
      assert.equal(got?.enabled, true);
      assert.deepEqual(got?.time_constraints[0].timezone, 'Europe/Paris');
      assert.equal(await store.get('nope'), null);
      const h = await store.history(a.alarm_id);
      assert.equal(h.length, 1);
      assert.equal(h[0].type, 'creation');
      const detail = JSON.parse(h[0].detail) as Record<string, unknown>;
      assert.equal(detail.name, 'cpu high');
      // Python's json.dumps: the float threshold keeps its ".0", separators have spaces.
      assert.match(h[0].detail, /"threshold": 300\.0/);
      assert.deepEqual(Object.keys(detail).slice(0, 3), ['alarm_id', 'type', 'enabled']);
      assert.equal(h[0].on_behalf_of, 'p1');
    });

    it('filters lists by equality, null owner included, and pages with sort and marker', async () => {
      const ids: string[] = [];
      for (const [i, sev] of (['critical', 'low', 'moderate', 'low'] as const).entries()) {
        ids.push((await store.create(input({ name: `page-${i}`, severity: sev, project_id: 'pp', enabled: i !== 2 }), actor)).alarm_id);
      }
      await store.create(input({ name: 'orphan', project_id: null, user_id: null }), actor);
      const orphans = await store.list({ project_id: null });
      assert.deepEqual(orphans.map((a) => a.name), ['orphan']);
      assert.deepEqual((await store.list({ project_id: 'pp', enabled: false })).map((a) => a.name), ['page-2']);
      // Newest first by default.
      assert.deepEqual((await store.list({ project_id: 'pp' })).map((a) => a.name), ['page-3', 'page-2', 'page-1', 'page-0']);
      // Severity sorts by its meaning; ties by id; pages follow the marker.
      const all = await store.list({ project_id: 'pp' }, { sort: [{ field: 'severity', dir: 'asc' }] });
      assert.deepEqual(all.map((a) => a.severity), ['low', 'low', 'moderate', 'critical']);
      const first = await store.list({ project_id: 'pp' }, { sort: [{ field: 'severity', dir: 'asc' }], limit: 2 });
      const second = await store.list({ project_id: 'pp' }, { sort: [{ field: 'severity', dir: 'asc' }], limit: 2, marker: first[1].alarm_id });
      assert.deepEqual([...first, ...second].map((a) => a.alarm_id), all.map((a) => a.alarm_id));
      const desc = await store.list({ project_id: 'pp' }, { sort: [{ field: 'name', dir: 'desc' }], marker: ids[2] });
      assert.deepEqual(desc.map((a) => a.name), ['page-1', 'page-0']);
      await assert.rejects(store.list({}, { marker: 'missing' }), InvalidMarkerError);
      assert.deepEqual(await store.list({ project_id: 'pp' }, { limit: 0 }), []);
    });

    it('answers the complex query: and, or, not, in, comparisons, order and limit', async () => {
      const q = await store.query({
        and: [
          { op: '=', field: 'project_id', value: 'pp' },
          { or: [{ op: 'in', field: 'severity', values: ['low', 'critical'] }, { not: { op: '=', field: 'enabled', value: true } }] },
          { op: '>=', field: 'name', value: 'page-1' },
        ],
      }, [{ field: 'name', dir: 'asc' }], 10);
      // page-2 (moderate) matches only through its `not`; page-0 fails the name bound.
      assert.deepEqual(q.map((a) => a.name), ['page-1', 'page-2', 'page-3']);
      const limited = await store.query({ op: '!=', field: 'project_id', value: 'pp' }, null, 1);
      assert.equal(limited.length, 1);
    });

    it('update records only the changed keys; the state keeps its timestamp unless it changes', async () => {
      const a = await store.create(input({ name: 'upd' }), actor);
      const same = await store.update(a.alarm_id, input({ name: 'upd', severity: 'critical', state_reason: 'ignored' }), actor);
      assert.ok(same);
      assert.equal(same.state_timestamp, a.state_timestamp);
      assert.equal(same.state_reason, 'Not evaluated yet');
      assert.notEqual(same.timestamp, a.timestamp);
      const h = await store.history(a.alarm_id);
      assert.deepEqual(h.map((c) => c.type), ['rule change', 'creation']);
      assert.equal(h[0].detail, '{"severity": "critical"}');
      const moved = await store.update(a.alarm_id, input({ name: 'upd', severity: 'critical', state: 'alarm', state_reason: 'Manually set via API' }), actor);
      assert.equal(moved?.state_reason, 'Manually set via API');
      assert.equal(moved?.state_timestamp, moved?.timestamp);
      assert.equal((await store.history(a.alarm_id))[0].detail, '{"state": "alarm", "state_reason": "Manually set via API"}');
      // Nothing changed: no entry.
      await store.update(a.alarm_id, input({ name: 'upd', severity: 'critical', state: 'alarm' }), actor);
      assert.equal((await store.history(a.alarm_id)).length, 3);
      assert.equal(await store.update('missing', input(), actor), null);
    });

    it('transitionState writes the state, its history entry and the caller row in one transaction', async () => {
      const a = await store.create(input({ name: 'trans' }), actor);
      await database.db.schema.createTable('test_outbox').ifNotExists().addColumn('alarm_id', 'varchar(64)').execute();
      const t = await store.transitionState(a.alarm_id, { state: 'alarm', reason: 'over 300', reasonData: { count: 1 } }, async (tx, tr) => {
        await sql`insert into test_outbox (alarm_id) values (${tr.alarm.alarm_id})`.execute(tx);
      });
      assert.ok(t);
      assert.equal(t.previous, 'insufficient data');
      assert.equal(t.changed, true);
      assert.deepEqual(t.reasonData, { count: 1 });
      assert.equal((await store.get(a.alarm_id))?.state, 'alarm');
      const h = await store.history(a.alarm_id, { type: 'state transition' });
      assert.equal(h[0].detail, '{"state": "alarm", "transition_reason": "over 300"}');
      assert.equal(h[0].user_id, null);
      // A failing callback rolls everything back.
      await assert.rejects(store.transitionState(a.alarm_id, { state: 'ok', reason: 'fine' }, async (tx) => {
        await sql`insert into test_outbox (alarm_id) values (${'x'})`.execute(tx);
        throw new Error('outbox full');
      }), /outbox full/);
      assert.equal((await store.get(a.alarm_id))?.state, 'alarm');
      assert.equal((await store.history(a.alarm_id, { type: 'state transition' })).length, 1);
      const rows = await sql<{ n: number | string }>`select count(*) as n from test_outbox`.execute(database.db as Kysely<unknown>);
      assert.equal(Number(rows.rows[0].n), 1);
      // Compare and swap: a stale expectation changes nothing.
      assert.equal(await store.transitionState(a.alarm_id, { state: 'ok', reason: 'r', expectedState: 'ok' }), null);
      const unchanged = await store.transitionState(a.alarm_id, { state: 'alarm', reason: 'still' });
      assert.equal(unchanged?.changed, false);
      assert.equal((await store.history(a.alarm_id, { type: 'state transition' })).length, 1);
    });

    it('delete removes the alarm and leaves a deletion entry; quotas are per project', async () => {
      const a = await store.create(input({ name: 'del', project_id: 'pd' }), actor);
      assert.equal(await store.count({ projectId: 'pd' }), 1);
      assert.equal(await store.delete(a.alarm_id, actor), true);
      assert.equal(await store.delete(a.alarm_id, actor), false);
      assert.equal(await store.get(a.alarm_id), null);
      const h = await store.queryHistory({ op: '=', field: 'alarm_id', value: a.alarm_id }, null);
      assert.deepEqual(h.map((c) => c.type), ['deletion', 'creation']);
      assert.equal(h[0].detail, '{"state": "insufficient data"}');
      assert.equal(await store.count({ projectId: 'pd' }), 0);
      assert.deepEqual(await store.getQuotas('pd'), []);
      assert.deepEqual(await store.setQuotas('pd', [{ resource: 'alarms', limit: 5 }]), [{ resource: 'alarms', limit: 5 }]);
      assert.deepEqual(await store.setQuotas('pd', [{ resource: 'alarms', limit: 7 }]), [{ resource: 'alarms', limit: 7 }]);
      await store.deleteQuotas('pd');
      assert.deepEqual(await store.getQuotas('pd'), []);
    });
  });
}
