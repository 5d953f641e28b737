import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '@tally/indexer/test-util';
import { migrate, openAlarmDatabase, type AlarmDatabase } from '@tally/alarming';
import { AlarmStore } from '@tally/alarming/store';
import { buildAlarmServer } from '@tally/alarming/api';
import { EventEvaluator } from '@tally/alarming/evaluator';
import { ALARMING_MIGRATIONS, eventRecorder, startAlarmRoles, type AlarmRoles } from '@tally/alarming/service';
import type { RatedPoint, RatingStore, ScopePeriod } from '../model.js';
import { AlarmApiClient, BUDGET_MIGRATIONS, BudgetError, BudgetStore, checkBudgets } from './index.js';
import { migrateRating } from '../db.js';

const HOUR = 3_600_000_000_000n;
const ns = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;

/** Rated hourly periods per project: `perHour` of cost each hour from the month's start. */
function ratedData(perHour: Record<string, string>): Pick<RatingStore, 'readRated'> {
  return {
    async readRated(scopeId, begin, end) {
      const out: { period: ScopePeriod; points: RatedPoint[] }[] = [];
      const price = perHour[scopeId];
      if (price === undefined) return out;
      for (let t = begin; t + HOUR <= end; t += HOUR) {
        out.push({ period: { scopeId, begin: t, end: t + HOUR }, points: [{ type: 'instance', unit: 'hour', qty: '1', groupby: { project_id: scopeId }, metadata: {}, price }] });
      }
      return out;
    },
  };
}

describe('budgets raise alarms in Tally\'s alarming service, delivered by its notifier', () => {
  let database: AlarmDatabase;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  let roles: AlarmRoles;
  let receiver: Server;
  const received: Record<string, unknown>[] = [];
  let receiverUrl = '';
  let alarms: AlarmApiClient;
  let store: AlarmStore;

  const waitFor = async (n: number): Promise<void> => {
    for (let i = 0; i < 200 && received.length < n; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(received.length, n, 'notifications delivered');
  };

  before(async () => {
    const sqlite = testDatabases().find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('no SQLite test database');
    const created = await sqlite.create();
    drop = created.drop;
    database = await openAlarmDatabase(created.url);
    await migrate(database, ALARMING_MIGRATIONS);
    await migrateRating(database, BUDGET_MIGRATIONS);
    store = new AlarmStore(database.db, database.dialect);
    roles = await startAlarmRoles({ database, store, notifier: { pollIntervalMs: 50, backoff: { baseMs: 10, maxMs: 50 } } });
    const notifier = roles.notifier;
    const events = new EventEvaluator({
      listAlarms: (project) => store.list({ enabled: true, type: 'event', project_id: project }),
      ...eventRecorder(store, { wake: () => notifier?.wake() }),
      onError: (err) => { throw err; },
    });
    app = buildAlarmServer({ store, events, notifierDb: database.db, authMode: 'noauth', bodyLimit: 1 << 20 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const a = app.server.address();
    if (typeof a !== 'object' || a === null) throw new Error('no address');
    alarms = new AlarmApiClient(`http://127.0.0.1:${a.port}`, { 'x-user-id': 'tally-rating', 'x-project-id': 'service', 'x-roles': 'admin' });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { received.push(JSON.parse(body) as Record<string, unknown>); res.writeHead(200).end(); });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const ra = receiver.address();
    if (typeof ra !== 'object' || ra === null) throw new Error('no address');
    receiverUrl = `http://127.0.0.1:${ra.port}/budget`;
  });
  after(async () => {
    await roles.stop();
    await app.close();
    receiver.close();
    await database.close();
    await drop();
  });

  it('validates budgets', async () => {
    const budgets = new BudgetStore(database.db);
    await assert.rejects(budgets.create({ project_id: 'p', amount: '0', currency: 'EUR' }), BudgetError);
    await assert.rejects(budgets.create({ project_id: 'p', amount: '1e3', currency: 'EUR' }), /amount/);
    await assert.rejects(budgets.create({ project_id: 'p', amount: '10', currency: 'eur' }), /currency/);
  });

  it('fires once a month when spending (or, when asked, the forecast) reaches the budget; the notifier delivers it', async () => {
    const budgets = new BudgetStore(database.db);
    // On March 11th 00:00, 240 hours rated: p1 spent 12 (>= 10); p2 spent 240, forecast 744
    // (>= 500, on_forecast); p3 spent 240 and forecast 744 but < 1000; p4 forecasts 744 >= 500
    // but does not ask for forecasts.
    const b1 = await budgets.create({ project_id: 'p1', amount: '10', currency: 'EUR', alarm_actions: [receiverUrl] });
    const b2 = await budgets.create({ project_id: 'p2', amount: '500', currency: 'EUR', on_forecast: true, alarm_actions: [receiverUrl] });
    await budgets.create({ project_id: 'p3', amount: '1000', currency: 'EUR', on_forecast: true, alarm_actions: [receiverUrl] });
    await budgets.create({ project_id: 'p4', amount: '500', currency: 'EUR', alarm_actions: [receiverUrl] });
    const rated = ratedData({ p1: '0.05', p2: '1', p3: '1', p4: '1' });
    const at = ns('2024-03-11T00:00:00Z');
    const crossed = await checkBudgets(budgets, rated, alarms, at);
    assert.deepEqual(crossed.map((c) => [c.budget.project_id, c.by, c.spent, c.forecast, c.month]).sort(),
      [['p1', 'spending', '12', '37.2', '2024-03'], ['p2', 'forecast', '240', '744', '2024-03']]);
    await waitFor(2);
    const byAlarm = new Map(received.map((n) => [n.alarm_id, n]));
    for (const c of crossed) {
      const n = byAlarm.get(c.alarm_id);
      assert.ok(n, `notification of ${c.budget.project_id}'s budget alarm`);
      assert.equal(n.current, 'alarm');
      assert.equal(n.alarm_name, `budget-${c.budget.budget_id}`);
      const alarm = await store.get(c.alarm_id);
      assert.equal(alarm?.project_id, c.budget.project_id);
      assert.equal(alarm?.state, 'alarm');
    }
    assert.equal((await budgets.list('p1'))[0].fired_month, '2024-03');
    // Checked again later in the month: nothing fires twice.
    assert.deepEqual(await checkBudgets(budgets, rated, alarms, at + 24n * HOUR), []);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received.length, 2);
    // A new month: each alarm is reset and fires again once April's figures reach its budget
    // (five hours into April, p2's run rate already forecasts 720).
    const april1 = await checkBudgets(budgets, rated, alarms, ns('2024-04-01T05:00:00Z'));
    assert.deepEqual(april1.map((c) => [c.budget.budget_id, c.by, c.spent, c.forecast]), [[b2.budget_id, 'forecast', '5', '720']]);
    assert.deepEqual(await checkBudgets(budgets, rated, alarms, ns('2024-04-09T00:00:00Z')), []);
    const april9 = await checkBudgets(budgets, rated, alarms, ns('2024-04-10T00:00:00Z'));
    assert.deepEqual(april9.map((c) => [c.budget.budget_id, c.by, c.spent]), [[b1.budget_id, 'spending', '10.8']]);
    await waitFor(4);
    assert.deepEqual(received.slice(2).map((n) => [n.alarm_id, n.previous, n.current]),
      [[april1[0].alarm_id, 'ok', 'alarm'], [april9[0].alarm_id, 'ok', 'alarm']]);
    assert.equal(april9[0].alarm_id, crossed.find((c) => c.budget.budget_id === b1.budget_id)?.alarm_id, 'the same alarm, fired again');
  });
});
