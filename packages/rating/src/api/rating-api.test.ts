import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases, type TestDatabase } from '@tally/indexer/test-util';
import { migrateRating, openRatingDatabase } from '../db.js';
import { RATING_STORE_MIGRATIONS, SqlRatingStore } from '../store/index.js';
import { buildRatingServer } from './rating-api.js';

const ADMIN = { 'x-user-id': 'u', 'x-project-id': 'admin-p', 'x-roles': 'admin', 'content-type': 'application/json' };
const P1 = { 'x-user-id': 'u1', 'x-project-id': 'p1', 'x-roles': 'member', 'content-type': 'application/json' };
const H = '/v1/rating/module_config/hashmap';

async function server(engine: TestDatabase) {
  const { url, drop } = await engine.create();
  const database = await openRatingDatabase(url);
  await migrateRating(database, RATING_STORE_MIGRATIONS);
  const store = new SqlRatingStore(database.db, database.dialect);
  const app = buildRatingServer({ store, authMode: 'noauth', bodyLimit: 1 << 20 });
  await app.ready();
  return { app, done: async () => { await app.close(); await database.close(); await drop(); } };
}

for (const engine of testDatabases()) {
  test(`${engine.name}: hashmap rules are the administrator's, with CloudKitty's codes and bodies`, async () => {
    const { app, done } = await server(engine);
    try {
      const denied = await app.inject({ method: 'POST', url: `${H}/services`, headers: P1, payload: { name: 'instance' } });
      assert.equal(denied.statusCode, 403);
      const svc = await app.inject({ method: 'POST', url: `${H}/services`, headers: ADMIN, payload: { name: 'instance' } });
      assert.equal(svc.statusCode, 201);
      const { service_id } = svc.json<{ service_id: string }>();
      const dup = await app.inject({ method: 'POST', url: `${H}/services`, headers: ADMIN, payload: { name: 'instance' } });
      assert.equal(dup.statusCode, 409);
      assert.match(dup.json<{ faultstring: string }>().faultstring, /^Service instance already exists/);
      const field = (await app.inject({ method: 'POST', url: `${H}/fields`, headers: ADMIN, payload: { service_id, name: 'flavor_name' } })).json<{ field_id: string }>();
      const m = await app.inject({ method: 'POST', url: `${H}/mappings`, headers: ADMIN, payload: { field_id: field.field_id, value: 'm1.tiny', cost: '0.5', type: 'flat' } });
      assert.equal(m.statusCode, 201);
      assert.equal(m.json<{ cost: string }>().cost, '0.5000000000000000000000000000');
      const list = await app.inject({ url: `${H}/mappings?field_id=${field.field_id}`, headers: ADMIN });
      assert.equal(list.json<{ mappings: unknown[] }>().mappings.length, 1);
      const noParent = await app.inject({ url: `${H}/mappings`, headers: ADMIN });
      assert.equal(noParent.statusCode, 400);
      const missing = await app.inject({ url: `${H}/mappings/00000000-0000-0000-0000-000000000000`, headers: ADMIN });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json<{ faultstring: string }>().faultstring, 'No such mapping: 00000000-0000-0000-0000-000000000000');
      const mod = await app.inject({ method: 'PUT', url: '/v1/rating/modules/hashmap', headers: ADMIN, payload: { enabled: true } });
      assert.equal(mod.statusCode, 302);
      assert.equal((await app.inject({ url: '/v2/rating/modules/hashmap', headers: ADMIN })).json<{ enabled: boolean }>().enabled, true);
    } finally {
      await done();
    }
  });

  test(`${engine.name}: a project reads its own costs only; sums are exact`, async () => {
    const { app, done } = await server(engine);
    try {
      const frame = (project: string, price: string) => ({
        period: { begin: '2024-01-01T00:00:00+00:00', end: '2024-01-01T01:00:00+00:00' },
        usage: { instance: [{ vol: { unit: 'instance', qty: 1 }, rating: { price }, groupby: { project_id: project, id: 'r' }, metadata: { flavor_name: 'a' } }] },
      });
      assert.equal((await app.inject({ method: 'POST', url: '/v2/dataframes', headers: P1, payload: { dataframes: [frame('p1', '0.1')] } })).statusCode, 403);
      for (const [p, price] of [['p1', '0.1'], ['p1', '0.2'], ['p2', '5']] as const) {
        const frames = { dataframes: [{ ...frame(p, price), period: { begin: `2024-01-01T0${price === '0.2' ? 1 : 0}:00:00Z`, end: `2024-01-01T0${price === '0.2' ? 2 : 1}:00:00Z` } }] };
        assert.equal((await app.inject({ method: 'POST', url: '/v2/dataframes', headers: ADMIN, payload: frames })).statusCode, 204);
      }
      const q = 'begin=2024-01-01T00:00:00&end=2024-02-01T00:00:00';
      const mine = await app.inject({ url: `/v2/summary?${q}&groupby=project_id&groupby=type`, headers: P1 });
      assert.equal(mine.statusCode, 200);
      assert.match(mine.body, /"results": \[\["2024-01-01T00:00:00\+00:00", "2024-02-01T00:00:00\+00:00", 2, 0\.3, "p1", "instance"\]\]/);
      const all = await app.inject({ url: `/v2/summary?${q}&groupby=project_id&response_format=object`, headers: ADMIN });
      assert.deepEqual(all.json<{ results: { project_id: string; rate: number }[] }>().results.map((r) => [r.project_id, r.rate]), [['p1', 0.3], ['p2', 5]]);
      const frames = await app.inject({ url: `/v2/dataframes?${q}`, headers: P1 });
      assert.equal(frames.json<{ total: number }>().total, 2);
      const scope = await app.inject({ url: '/v2/scope?scope_id=p1', headers: ADMIN });
      assert.equal(scope.json<{ results: { last_processed_timestamp: string }[] }>().results[0]?.last_processed_timestamp, '2024-01-01T02:00:00+00:00');
      const reset = await app.inject({ method: 'PUT', url: '/v2/scope', headers: ADMIN, payload: { scope_id: 'p1', last_processed_timestamp: '2024-01-01T01:00:00Z' } });
      assert.equal(reset.statusCode, 202);
      assert.equal((await app.inject({ url: `/v1/report/total?${q}`, headers: P1 })).body, '0.1');
    } finally {
      await done();
    }
  });

  test(`${engine.name}: random requests get a 4xx in CloudKitty's format, never a 500`, async () => {
    const { app, done } = await server(engine);
    try {
      let seed = 42;
      const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
      const junk = ['', '{', '[]', 'null', '{"name": 3}', '{"cost": "x"}', '{"cost": 1, "service_id": "bad"}', '{"dataframes": [{}]}',
        '{"dataframes": [{"period": {"begin": "x", "end": "y"}, "usage": {}}]}', '{"scope_id": 5}', '{"enabled": "yes"}', '{"priority": -1}'];
      const paths = ['/v1/rating/modules/hashmap', '/v1/rating/modules/zzz', `${H}/services`, `${H}/fields?service_id=abc`, `${H}/mappings?field_id=%00`,
        `${H}/thresholds`, `${H}/groups/x/mappings`, '/v2/summary?limit=-1', '/v2/summary?filters=bad', '/v2/summary?begin=2024-13-45', '/v2/dataframes',
        '/v2/scope', '/v2/scope?active=x', '/v1/report/summary?begin=nope', '/v2/rating/modules/x', '/v1/storage/dataframes?tenant_id=other'];
      const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
      for (let i = 0; i < 400; i++) {
        const headers = rnd(3) === 0 ? P1 : ADMIN;
        const r = await app.inject({ method: methods[rnd(methods.length)], url: paths[rnd(paths.length)], headers, payload: junk[rnd(junk.length)] });
        assert.ok(r.statusCode < 500, `${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400) assert.doesNotThrow(() => JSON.parse(r.body) as unknown, r.body);
      }
    } finally {
      await done();
    }
  });

  test(`${engine.name}: requests as Debian's cloudkitty client makes them`, async () => {
    const { app, done } = await server(engine);
    try {
      const post = async <T>(url: string, payload: unknown): Promise<T> => {
        const r = await app.inject({ method: 'POST', url, headers: ADMIN, payload: payload as Record<string, unknown> });
        assert.equal(r.statusCode, 201, r.body);
        return r.json<T>();
      };
      const { service_id } = await post<{ service_id: string }>(`${H}/services`, { name: 'volume.size' });
      const { group_id } = await post<{ group_id: string }>(`${H}/groups`, { name: 'g' });
      // The rule type is `type` on the wire, both ways.
      const m = await post<Record<string, unknown>>(`${H}/mappings`, { service_id, cost: '0.01', type: 'rate', group_id });
      assert.equal(m.type, 'rate');
      assert.equal('map_type' in m, false);
      const t = await post<Record<string, unknown>>(`${H}/thresholds`, { service_id, level: '100', cost: '0.2', type: 'flat', group_id });
      assert.deepEqual([t.type, t.level], ['flat', '100.00000000']);
      const fine = await post<Record<string, unknown>>(`${H}/thresholds`, { service_id, level: '0.123456789', cost: '0.3' });
      assert.equal(fine.level, '0.123456789', 'a level with more than 8 places is shown whole');

      // Updates go to the collection with the id in the whole object read before; the
      // redirect that answers them is absolute (keystoneauth follows it as is).
      const put = await app.inject({ method: 'PUT', url: `${H}/mappings/`, headers: ADMIN, payload: { ...m, cost: '0.02' } });
      assert.equal(put.statusCode, 302, put.body);
      assert.match(String(put.headers.location), /^http:\/\/[^/]+\/v1\/rating\/module_config\/hashmap\/mappings\/$/);
      assert.equal((await app.inject({ url: `${H}/mappings/${String(m.mapping_id)}`, headers: ADMIN })).json<{ cost: string }>().cost, '0.0200000000000000000000000000');
      const putT = await app.inject({ method: 'PUT', url: `${H}/thresholds`, headers: ADMIN, payload: { ...t, level: '50' } });
      assert.equal(putT.statusCode, 302, putT.body);
      assert.equal((await app.inject({ url: `${H}/thresholds/${String(t.threshold_id)}`, headers: ADMIN })).json<{ level: string }>().level, '50.00000000');
      const mod = await app.inject({ method: 'PUT', url: '/v1/rating/modules/noop?x=1', headers: ADMIN, payload: { enabled: true } });
      assert.match(String(mod.headers.location), /^http:\/\/[^/]+\/v1\/rating\/modules\/noop$/);
      assert.equal((await app.inject({ method: 'PUT', url: `${H}/mappings`, headers: ADMIN, payload: { cost: '1' } })).statusCode, 400, 'no id anywhere');

      // A group's rules, the group as a query parameter.
      const gm = await app.inject({ url: `${H}/groups/mappings?group_id=${group_id}`, headers: ADMIN });
      assert.deepEqual(gm.json<{ mappings: { mapping_id: string }[] }>().mappings.map((x) => x.mapping_id), [m.mapping_id]);
      const gt = await app.inject({ url: `${H}/groups/thresholds?group_id=${group_id}`, headers: ADMIN });
      assert.deepEqual(gt.json<{ thresholds: { threshold_id: string }[] }>().thresholds.map((x) => x.threshold_id), [t.threshold_id]);
      assert.equal((await app.inject({ url: `${H}/groups/mappings?group_id=${group_id}`, headers: P1 })).statusCode, 403);

      // Deletions on the collection with the id (and options) in the body.
      const del = await app.inject({ method: 'DELETE', url: `${H}/thresholds`, headers: ADMIN, payload: { threshold_id: fine.threshold_id } });
      assert.equal(del.statusCode, 204, del.body);
      assert.equal((await app.inject({ url: `${H}/thresholds/${String(fine.threshold_id)}`, headers: ADMIN })).statusCode, 404);
      assert.equal((await app.inject({ method: 'DELETE', url: `${H}/groups`, headers: P1, payload: { group_id } })).statusCode, 403);
      assert.equal((await app.inject({ method: 'DELETE', url: `${H}/groups`, headers: ADMIN, payload: { group_id, recursive: 'yes' } })).statusCode, 400);
      assert.equal((await app.inject({ method: 'DELETE', url: `${H}/groups`, headers: ADMIN, payload: { group_id, recursive: true } })).statusCode, 204);
      assert.equal((await app.inject({ url: `${H}/mappings/${String(m.mapping_id)}`, headers: ADMIN })).statusCode, 404, "the group's mapping went with it");
      assert.equal((await app.inject({ method: 'DELETE', url: `${H}/services`, headers: ADMIN, payload: {} })).statusCode, 400);
      assert.equal((await app.inject({ method: 'DELETE', url: `${H}/services`, headers: ADMIN, payload: { service_id } })).statusCode, 204);
      assert.deepEqual((await app.inject({ url: `${H}/services`, headers: ADMIN })).json(), { services: [] });
    } finally {
      await done();
    }
  });

  test(`${engine.name}: v1 reports cover the caller's project unless all_tenants; rated projects; a scope's active flag as 0/1`, async () => {
    const { app, done } = await server(engine);
    try {
      const point = (project: string, price: string) => ({ vol: { unit: 'GiB', qty: 1 }, rating: { price }, groupby: { project_id: project }, metadata: {} });
      const frames = { dataframes: [{ period: { begin: '2024-01-01T00:00:00Z', end: '2024-01-01T01:00:00Z' }, usage: { volume: [point('p1', '0.1'), point('p2', '0.2')] } }] };
      assert.equal((await app.inject({ method: 'POST', url: '/v2/dataframes', headers: ADMIN, payload: frames })).statusCode, 204);
      const q = 'begin=2024-01-01+00%3A00%3A00&end=2024-02-01+00%3A00%3A00';
      assert.equal((await app.inject({ url: `/v1/report/total?${q}`, headers: ADMIN })).body, '0', "the administrator's own project");
      assert.equal((await app.inject({ url: `/v1/report/total?${q}&all_tenants=True`, headers: ADMIN })).body, '0.3');
      assert.equal((await app.inject({ url: `/v1/report/total?${q}&tenant_id=p2`, headers: ADMIN })).body, '0.2');
      assert.equal((await app.inject({ url: `/v1/report/total?${q}`, headers: P1 })).body, '0.1');
      assert.equal((await app.inject({ url: `/v1/report/total?${q}&all_tenants=True`, headers: P1 })).statusCode, 403);
      const sum = await app.inject({ url: `/v1/report/summary?${q}&all_tenants=True&groupby=tenant_id`, headers: ADMIN });
      assert.deepEqual(sum.json<{ summary: { tenant_id: string; rate: number }[] }>().summary.map((r) => [r.tenant_id, r.rate]), [['p1', 0.1], ['p2', 0.2]]);
      const mine = await app.inject({ url: `/v1/report/summary?${q}`, headers: P1 });
      assert.deepEqual(mine.json<{ summary: { tenant_id: string; rate: number }[] }>().summary.map((r) => [r.tenant_id, r.rate]), [['ALL', 0.1]]);
      assert.deepEqual((await app.inject({ url: `/v1/report/tenants?${q}`, headers: ADMIN })).json(), ['p1', 'p2']);
      assert.deepEqual((await app.inject({ url: '/v1/report/tenants?begin=2025-01-01T00:00:00&end=2025-02-01T00:00:00', headers: ADMIN })).json(), []);
      assert.equal((await app.inject({ url: `/v1/report/tenants?${q}`, headers: P1 })).statusCode, 403);
      const off = await app.inject({ method: 'PATCH', url: '/v2/scope', headers: ADMIN, payload: { scope_id: 'p2', active: 0 } });
      assert.equal(off.statusCode, 200, off.body);
      assert.equal(off.json<{ active: boolean }>().active, false);
      const on = await app.inject({ method: 'PATCH', url: '/v2/scope', headers: ADMIN, payload: { scope_id: 'p2', active: 1 } });
      assert.equal(on.json<{ active: boolean }>().active, true);
      assert.equal((await app.inject({ method: 'PATCH', url: '/v2/scope', headers: ADMIN, payload: { scope_id: 'p2', active: 'no' } })).statusCode, 400);
    } finally {
      await done();
    }
  });
}
