// The client against an in-process Tally listening on 127.0.0.1, and Tally's auth modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTestApi, type TestApi } from '@tally/rest/test-util';
import { SqliteUserStore, StoreTokenVerifier, issueToken, type HttpConfig, type TokenVerifier } from '@tally/rest';
import { apiSuite, type SuiteTarget } from './api-suite.js';
import { GnocchiClient } from './client.js';
import { GnocchiApiError } from './errors.js';
import type { GnocchiAuth } from './transport.js';

async function listen(cfg: Partial<HttpConfig>, opts: { tokens?: TokenVerifier } = {}): Promise<SuiteTarget & { api: TestApi }> {
  const api = await startTestApi(cfg, opts);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (api.app.server.address() as AddressInfo).port;
  return { api, url: `http://127.0.0.1:${port}`, close: () => api.close() };
}

apiSuite('in-process Tally', () => listen({ maxLimit: 7 }));

test('noauth: X-User-Id / X-Project-Id; lists are filtered by project', async () => {
  const t = await listen({ authMode: 'noauth' });
  const admin = new GnocchiClient({ url: t.url, auth: { type: 'noauth', userId: 'root', projectId: 'ops', roles: ['admin'] } });
  const alice = new GnocchiClient({ url: t.url, auth: { type: 'noauth', userId: 'alice', projectId: 'acme' } });
  const eve = new GnocchiClient({ url: t.url, auth: { type: 'noauth', userId: 'eve', projectId: 'evil' } });
  try {
    await admin.archivePolicy.create({ name: 'low', definition: [{ granularity: 1, points: 10 }] });
    const m = await alice.metric.create({ archive_policy_name: 'low' });
    assert.equal(m.creator, 'alice:acme');
    assert.equal(m.created_by_project_id, 'acme');
    assert.deepEqual((await alice.metric.list()).items.map((x) => x.id), [m.id]);
    assert.deepEqual((await eve.metric.list()).items, []);
    const e = await eve.metric.get(m.id).catch((x: unknown) => x);
    assert.ok(e instanceof GnocchiApiError && e.status === 403 && e.title === 'Forbidden');
    const anon = new GnocchiClient({ url: t.url, retry: false });
    const e2 = await anon.metric.list().catch((x: unknown) => x);
    assert.ok(e2 instanceof GnocchiApiError && e2.status === 401);
    anon.close();
  } finally {
    for (const x of [admin, alice, eve]) x.close();
    await t.close();
  }
});

test('token mode: Bearer, X-Auth-Token and basic with the token as password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-client-token-'));
  const users = await SqliteUserStore.open(join(dir, 'users.sqlite'));
  await users.createUser({ name: 'root', projectId: 'ops', role: 'admin' });
  await users.createUser({ name: 'alice', projectId: 'acme', role: 'member' });
  const root = (await issueToken(users, 'root')).token;
  const alice = (await issueToken(users, 'alice')).token;
  const t = await listen({ authMode: 'token' }, { tokens: new StoreTokenVerifier(users) });
  const clients: GnocchiClient[] = [];
  const client = (auth: GnocchiAuth): GnocchiClient => {
    const c = new GnocchiClient({ url: t.url, auth, retry: false });
    clients.push(c);
    return c;
  };
  try {
    await client({ type: 'bearer', token: root }).archivePolicy.create({ name: 'low', definition: [{ granularity: 1, points: 10 }] });
    const viaBearer = await client({ type: 'bearer', token: alice }).metric.create({ archive_policy_name: 'low' });
    const viaKeystone = await client({ type: 'keystone', token: alice }).metric.create({ archive_policy_name: 'low' });
    const viaBasic = await client({ type: 'basic', user: 'anyone', password: alice }).metric.create({ archive_policy_name: 'low' });
    for (const m of [viaBearer, viaKeystone, viaBasic]) assert.equal(m.created_by_project_id, 'acme');
    assert.equal((await client({ type: 'keystone', token: alice }).metric.list()).items.length, 3);
    const e = await client({ type: 'bearer', token: `${alice.slice(0, -2)}xx` }).metric.list().catch((x: unknown) => x);
    assert.ok(e instanceof GnocchiApiError && e.status === 401, String(e));
    const e2 = await client({ type: 'bearer', token: alice }).status().catch((x: unknown) => x);
    assert.ok(e2 instanceof GnocchiApiError && e2.status === 403);
  } finally {
    for (const c of clients) c.close();
    await t.close();
    await users.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
