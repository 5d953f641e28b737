// The outbox's claim logic on each dialect: transactional enqueue, disjoint claims by
// concurrent notifiers, per-alarm order, lease takeover, stale results refused, summaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inWriteTx } from '@tally/indexer';
import { claimDue, complete, enqueue, summarizeEndedSilences, type ClaimOptions } from './outbox.js';
import { createSilence } from './silences.js';
import { notifierDb } from './schema.js';
import { listDeliveries, listAttempts } from './history.js';
import { dialects, enqueueNow, notification } from './test-support.js';

const T0 = 1_700_000_000_000;

function claimOpts(claim: string, now: number, over: Partial<ClaimOptions> = {}): ClaimOptions {
  return { claim, now, leaseMs: 10_000, limit: 100, perReceiver: 100, inFlight: new Map(), ...over };
}

const attempt = (now: number) => ({ startedAt: now, latencyMs: 1, status: 200, error: null, notifier: 'test' });

for (const d of dialects()) {
  test(`${d.name}: enqueue is part of the caller's transaction`, async () => {
    const t = await d.open();
    try {
      const n = notification({ actions: ['http://a.example/hook', 'log://', 'http://a.example/hook'] });
      await assert.rejects(inWriteTx(t.database.db, t.database.dialect, async (tx) => {
        await enqueue(tx, n, T0);
        throw new Error('state change refused');
      }), /state change refused/);
      assert.equal((await listDeliveries(t.database.db)).length, 0, 'a rolled back change leaves no notification');
      assert.equal(await enqueueNow(t.database, n, T0), 2, 'one row per distinct action');
      assert.equal(await enqueueNow(t.database, n, T0), 0, 'the same request id is queued once');
      const rows = await listDeliveries(t.database.db, { alarm_id: n.alarm_id });
      assert.deepEqual(rows.map((r) => [r.action, r.status, r.request_id, r.receiver]).sort(), [
        ['http://a.example/hook', 'pending', n.request_id, 'http://a.example'],
        ['log://', 'pending', n.request_id, 'log:'],
      ]);
      assert.deepEqual(rows[0].reason_data, n.reason_data);
    } finally {
      await t.done();
    }
  });

  test(`${d.name}: concurrent claims are disjoint, and an alarm's rows go one at a time in order`, async () => {
    const t = await d.open();
    const other = await t.reopen();
    try {
      const alarms = Array.from({ length: 10 }, () => notification({ actions: ['http://r.example/x'] }).alarm_id);
      const order = new Map<string, string[]>();
      for (let k = 0; k < 3; k++) {
        for (const alarm_id of alarms) {
          const n = notification({ alarm_id, actions: ['http://r.example/x'] });
          order.set(alarm_id, [...(order.get(alarm_id) ?? []), n.request_id]);
          await enqueueNow(t.database, n, T0);
        }
      }
      const seen: string[] = [];
      for (let round = 0; round < 3; round++) {
        const [a, b] = await Promise.all([
          claimDue(t.database.db, claimOpts(`a${round}`, T0)),
          claimDue(other.db, claimOpts(`b${round}`, T0)),
        ]);
        const ids = [...a, ...b].map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, 'no row is claimed twice');
        assert.equal(ids.length, 10, 'one row per alarm and action is claimable at a time');
        for (const e of [...a, ...b]) {
          assert.equal(e.request_id, order.get(e.alarm_id as string)?.[round], 'the oldest row of each alarm first');
          seen.push(e.request_id);
          assert.equal(await complete(t.database.db, t.database.dialect, e, { status: 'delivered' }, attempt(T0), T0), true);
        }
        assert.equal((await claimDue(t.database.db, claimOpts(`c${round}`, T0))).length, round < 2 ? 10 : 0,
          'the rows of the next round only after these were delivered');
        // Put back what the probe claimed so the next round sees it unclaimed.
        await notifierDb(t.database.db).updateTable('notifier_outbox').set({ claim: null, lease_until: null })
          .where('status', '=', 'pending').execute();
      }
      assert.equal(seen.length, 30);
    } finally {
      await t.done();
    }
  });

  test(`${d.name}: a lease keeps a row until it runs out, then another notifier takes it over`, async () => {
    const t = await d.open();
    try {
      const n = notification({ actions: ['http://r.example/x'] });
      await enqueueNow(t.database, n, T0);
      const [first] = await claimDue(t.database.db, claimOpts('dead', T0, { leaseMs: 5_000 }));
      assert.equal(first.request_id, n.request_id);
      assert.equal((await claimDue(t.database.db, claimOpts('early', T0 + 4_999))).length, 0, 'held by a live lease');
      const [again] = await claimDue(t.database.db, claimOpts('taker', T0 + 5_000));
      assert.equal(again.id, first.id, 'taken over once the lease ran out');
      assert.equal(again.request_id, n.request_id, 'with the same request id');
      assert.equal(await complete(t.database.db, t.database.dialect, first, { status: 'failed' }, attempt(T0 + 6_000), T0 + 6_000), false,
        'the notifier that lost its lease cannot write the outcome');
      assert.equal(await complete(t.database.db, t.database.dialect, again, { status: 'delivered' }, attempt(T0 + 6_000), T0 + 6_000), true);
      const [row] = await listDeliveries(t.database.db, { alarm_id: n.alarm_id });
      assert.equal(row.status, 'delivered');
      assert.equal(row.attempts, 1);
      assert.deepEqual((await listAttempts(t.database.db, { alarm_id: n.alarm_id })).map((a) => a.outcome).sort(), ['delivered', 'failed'],
        'both attempts are in the history');
    } finally {
      await t.done();
    }
  });

  test(`${d.name}: retries wait for their time; the per-receiver limit spreads a claim`, async () => {
    const t = await d.open();
    try {
      for (let i = 0; i < 5; i++) await enqueueNow(t.database, notification({ actions: ['http://slow.example/x'] }), T0);
      for (let i = 0; i < 3; i++) await enqueueNow(t.database, notification({ actions: ['http://fast.example/x'] }), T0);
      const claimed = await claimDue(t.database.db, claimOpts('a', T0, { limit: 6, perReceiver: 2, inFlight: new Map([['http://slow.example', 1]]) }));
      assert.deepEqual(claimed.map((e) => e.receiver), ['http://slow.example', 'http://fast.example', 'http://fast.example'],
        'one more to the receiver that has one in flight, two to the other');
      await complete(t.database.db, t.database.dialect, claimed[0], { status: 'retry', nextAttemptAt: T0 + 1_000 }, attempt(T0), T0);
      const later = await claimDue(t.database.db, claimOpts('b', T0 + 999, { limit: 10 }));
      assert.ok(!later.some((e) => e.id === claimed[0].id), 'not before its retry time');
      const due = await claimDue(t.database.db, claimOpts('c', T0 + 1_000 + 10_000, { limit: 10 }));
      assert.ok(due.some((e) => e.id === claimed[0].id), 'due at its retry time');
    } finally {
      await t.done();
    }
  });

  test(`${d.name}: an ended silence is summarised once per action, by one of several notifiers`, async () => {
    const t = await d.open();
    const other = await t.reopen();
    try {
      const silence = await createSilence(t.database.db, { admin: true }, { name_pattern: 'db-*', ends_at: T0 + 60_000 }, T0);
      const alarm = notification({ alarm_name: 'db-lag', actions: ['http://a.example/x', 'log://'] });
      const changes: [string, string][] = [['ok', 'alarm'], ['alarm', 'ok'], ['ok', 'alarm']];
      for (const [previous, current] of changes) {
        const n = notification({ ...alarm, previous, current } as typeof alarm);
        n.request_id = `req-${previous}-${current}-${Math.random()}`;
        await enqueueNow(t.database, n, T0 + 1);
        for (const e of await claimDue(t.database.db, claimOpts(`h${Math.random()}`, T0 + 2))) {
          await complete(t.database.db, t.database.dialect, e, { status: 'held', silenceId: silence.id }, null, T0 + 2);
        }
      }
      assert.equal((await listDeliveries(t.database.db, { status: 'held' })).length, 6);
      assert.equal(await summarizeEndedSilences(t.database.db, t.database.dialect, T0 + 59_999, 100), 0, 'not before it ends');
      const run = (db: typeof other): Promise<number> => summarizeEndedSilences(db.db, db.dialect, T0 + 60_000, 2);
      // Two SQLite handles in one process cannot overlap write transactions (the second
      // one's lock wait blocks the thread the first needs): there they run one after the other.
      const counts = d.name === 'postgres'
        ? await Promise.all([run(t.database), run(other)])
        : [await run(t.database), await run(other)];
      assert.equal(counts[0] + counts[1], 2, 'one summary per action, once');
      const summaries = (await listDeliveries(t.database.db, { status: 'pending' })).filter((e) => e.kind === 'summary');
      assert.deepEqual(summaries.map((s) => s.action).sort(), ['http://a.example/x', 'log://']);
      const body = summaries[0].reason_data as { silence: { id: string }; alarms: { alarm_id: string; previous: string; current: string; changes: number; held: { previous: string }[] }[] };
      assert.equal(body.silence.id, silence.id);
      assert.equal(body.alarms.length, 1);
      assert.equal(body.alarms[0].alarm_id, alarm.alarm_id);
      assert.deepEqual([body.alarms[0].previous, body.alarms[0].current, body.alarms[0].changes], ['ok', 'alarm', 3]);
      assert.deepEqual(body.alarms[0].held.map((h) => h.previous), ['alarm', 'ok'], 'the last changes, up to the limit');
    } finally {
      await t.done();
    }
  });
}
