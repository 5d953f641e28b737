// Tally's delivery-history and silence routes on the alarm API: who sees and silences what,
// paging and filters, and Aodh-style error bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enqueue } from '../notifier/index.js';
import { alarmServer, as, threshold } from './test-util.js';

test('deliveries and silences: an administrator for any alarm, a member for its project\'s; Aodh error bodies', async (t) => {
  const { app, db, done } = await alarmServer({}, { notifier: true });
  t.after(done);
  const call = async (method: string, url: string, headers: Record<string, string>, body?: unknown) => {
    const res = await app.inject({ method: method as 'GET', url, headers, payload: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, json: res.body === '' ? null : JSON.parse(res.body) as unknown };
  };
  const admin = as('root', 'ops', 'admin');
  const alice = as('alice', 'p1');
  const bob = as('bob', 'p2');
  const a1 = (await call('POST', '/v2/alarms', alice, threshold({ name: 'a1', alarm_actions: ['http://r/1'] }))).json as { alarm_id: string };
  const a2 = (await call('POST', '/v2/alarms', bob, threshold({ name: 'a2', alarm_actions: ['http://r/2'] }))).json as { alarm_id: string };
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < 5; i++) {
    for (const [a, project] of [[a1, 'p1'], [a2, 'p2']] as const) {
      await enqueue(db, {
        alarm_id: a.alarm_id, alarm_name: 'n', severity: 'low', previous: 'ok', current: 'alarm', reason: `r${i}`,
        reason_data: { most_recent: 1 }, actions: [`http://r/${project}`], request_id: `req-${project}-${i}`, project_id: project,
      }, t0 + i * 60_000);
    }
  }

  const all = (await call('GET', '/v2/deliveries', admin)).json as { id: number; project_id: string; created_at: string }[];
  assert.equal(all.length, 10);
  assert.deepEqual(all.map((d) => d.id), [...all.map((d) => d.id)].sort((x, y) => y - x), 'newest first');
  const mine = (await call('GET', '/v2/deliveries', alice)).json as { project_id: string }[];
  assert.equal(mine.length, 5);
  assert.ok(mine.every((d) => d.project_id === 'p1'));
  assert.deepEqual((await call('GET', `/v2/alarms/${a2.alarm_id}/deliveries`, alice)).json, [], "another project's deliveries are not shown");
  // Paging and filters.
  const page1 = (await call('GET', `/v2/alarms/${a1.alarm_id}/deliveries?limit=2`, alice)).json as { id: number; reason: string }[];
  const page2 = (await call('GET', `/v2/alarms/${a1.alarm_id}/deliveries?limit=2&marker=${page1[1].id}`, alice)).json as { id: number; reason: string }[];
  assert.deepEqual([...page1, ...page2].map((d) => d.reason), ['r4', 'r3', 'r2', 'r1']);
  const window = (await call('GET', `/v2/deliveries?since=2026-01-01T00:01:00&until=2026-01-01T00:03:00`, alice)).json as { reason: string; created_at: string }[];
  assert.deepEqual(window.map((d) => d.reason), ['r2', 'r1']);
  assert.equal(window[1].created_at, '2026-01-01T00:01:00');
  assert.deepEqual((await call('GET', '/v2/deliveries?status=delivered', admin)).json, []);
  const bad = await call('GET', '/v2/deliveries?status=lost', admin);
  assert.equal(bad.status, 400);
  assert.match((bad.json as { error_message: { faultstring: string } }).error_message.faultstring, /^Invalid input for field\/attribute status\. Value: 'lost'\./);

  // Silences: a member's is bound to its project; another project, or another project's alarm, is refused.
  const ends = '2099-01-01T00:00:00';
  const s1 = await call('POST', '/v2/silences', alice, { severity: 'low', ends_at: ends, comment: 'maintenance' });
  assert.equal(s1.status, 201);
  assert.equal((s1.json as { project_id: string; owner_project_id: string }).owner_project_id, 'p1');
  assert.equal((s1.json as { project_id: string }).project_id, 'p1');
  const other = await call('POST', '/v2/silences', alice, { project_id: 'p2', ends_at: ends });
  assert.equal(other.status, 401);
  assert.deepEqual(other.json, { error_message: { faultcode: 'Client', faultstring: 'Not Authorized to access project p2', debuginfo: null } });
  assert.equal((await call('POST', '/v2/silences', alice, { alarm_id: a2.alarm_id, ends_at: ends })).status, 404);
  const admins = await call('POST', '/v2/silences', admin, { alarm_id: a2.alarm_id, ends_at: ends });
  assert.equal(admins.status, 201);
  assert.equal((admins.json as { owner_project_id: string | null }).owner_project_id, null);
  assert.equal((await call('POST', '/v2/silences', alice, { ends_at: ends, colour: 'red' })).status, 400);
  assert.equal((await call('POST', '/v2/silences', alice, { severity: 'low' })).status, 400, 'ends_at is required');
  assert.equal((await call('POST', '/v2/silences', alice, { severity: 'low', ends_at: '2000-01-01' })).status, 400, 'in the past');

  const id1 = (s1.json as { id: string }).id;
  const adminId = (admins.json as { id: string }).id;
  assert.deepEqual(((await call('GET', '/v2/silences', alice)).json as { id: string }[]).map((s) => s.id), [id1]);
  assert.equal(((await call('GET', '/v2/silences?active=true', admin)).json as unknown[]).length, 2);
  assert.equal((await call('GET', `/v2/silences/${adminId}`, alice)).status, 404);
  assert.equal((await call('DELETE', `/v2/silences/${adminId}`, bob)).status, 404);
  assert.equal((await call('DELETE', `/v2/silences/${id1}`, alice)).status, 204);
  assert.deepEqual(((await call('GET', '/v2/silences?active=true', admin)).json as { id: string }[]).map((s) => s.id), [adminId]);
  assert.equal((await call('PUT', '/v2/silences', admin)).status, 405);
});

test('without the notifier\'s tables the API serves Aodh\'s routes only', async (t) => {
  const { app, done } = await alarmServer();
  t.after(done);
  assert.equal((await app.inject({ method: 'GET', url: '/v2/silences', headers: as('root', 'ops', 'admin') })).statusCode, 404);
});
