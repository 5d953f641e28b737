// Behaviour of the API end to end over real components: auth modes, policy, proxy-aware
// URLs, durable ingest with refresh, nanosecond round trip, pagination links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi } from './test-util.js';
import { parseForwarded } from './http.js';

test('basic auth: no header is 401, non-admin cannot manage archive policies (403), admin can', async () => {
  const api = await startTestApi();
  try {
    const body = { name: 'x', definition: [{ granularity: '1s' }] };
    assert.equal((await api.call('POST', '/v1/archive_policy', { body, user: null })).status, 401);
    assert.equal((await api.call('POST', '/v1/archive_policy', { body, user: 'bob' })).status, 403);
    assert.equal((await api.call('POST', '/v1/archive_policy', { body, user: 'admin' })).status, 201);
    assert.equal((await api.call('DELETE', '/v1/archive_policy/x', { user: 'bob' })).status, 403);
    assert.equal((await api.call('GET', '/v1/status', { user: 'bob' })).status, 403);
    assert.equal((await api.call('GET', '/v1/status', { user: 'admin' })).status, 200);
  } finally {
    await api.close();
  }
});

test('noauth: identity from X-User-Id/X-Project-Id/X-Roles; creator is user:project; others cannot post measures', async () => {
  const api = await startTestApi({ authMode: 'noauth' });
  try {
    const admin = { 'x-user-id': 'root', 'x-project-id': 'ops', 'x-roles': 'admin' };
    assert.equal((await api.call('POST', '/v1/archive_policy', { user: null, headers: admin, body: { name: 'p', definition: [{ granularity: '1s' }] } })).status, 201);
    const alice = { 'x-user-id': 'alice', 'x-project-id': 'pa' };
    const r = await api.call('POST', '/v1/metric', { user: null, headers: alice, body: { archive_policy_name: 'p' } });
    assert.equal(r.status, 201);
    const m = r.json as { id: string; creator: string; created_by_user_id: string; created_by_project_id: string };
    assert.equal(m.creator, 'alice:pa');
    assert.equal(m.created_by_project_id, 'pa');
    const eve = { 'x-user-id': 'eve', 'x-project-id': 'pe' };
    const measures = [{ timestamp: '2020-01-01T00:00:00', value: 1 }];
    assert.equal((await api.call('POST', `/v1/metric/${m.id}/measures`, { user: null, headers: eve, body: measures })).status, 403);
    assert.equal((await api.call('GET', `/v1/metric/${m.id}`, { user: null, headers: eve })).status, 403);
    // eve lists only her project's metrics; alice sees hers; admin sees all.
    assert.deepEqual((await api.call('GET', '/v1/metric', { user: null, headers: eve })).json, []);
    assert.equal(((await api.call('GET', '/v1/metric', { user: null, headers: alice })).json as unknown[]).length, 1);
    assert.equal((await api.call('POST', `/v1/metric/${m.id}/measures`, { user: null, headers: alice, body: measures })).status, 202);
    assert.equal((await api.call('GET', '/v1/metric', { user: null, headers: {} })).status, 401);
  } finally {
    await api.close();
  }
});

test('proxy headers: Location and version links follow Forwarded / X-Forwarded-*; ignored unless enabled', async () => {
  const on = await startTestApi({ proxyHeaders: true, proxyPrefix: '/gnocchi' });
  const off = await startTestApi();
  try {
    let r = await on.call('GET', '/', { headers: { forwarded: 'for=192.0.2.60;proto=https;host=metrics.example' } });
    assert.equal((r.json as { versions: { links: { href: string }[] }[] }).versions[0].links[0].href, 'https://metrics.example/gnocchi/v1/');
    r = await on.call('POST', '/v1/archive_policy', {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'm.example', 'x-forwarded-prefix': '/api' },
      body: { name: 'p', definition: [{ granularity: '1s' }] },
    });
    assert.equal(r.headers.location, 'https://m.example/api/v1/archive_policy/p');
    r = await off.call('GET', '/', { headers: { forwarded: 'proto=https;host=evil' } });
    assert.match((r.json as { versions: { links: { href: string }[] }[] }).versions[0].links[0].href, /^http:\/\/localhost/);
    assert.deepEqual(parseForwarded('for=1.2.3.4;proto=http;host="a:80", for=5.6.7.8'), { proto: 'http', host: 'a:80' });
  } finally {
    await on.close();
    await off.close();
  }
});

test('measures round-trip with nanosecond precision and refresh processes the backlog', async () => {
  const api = await startTestApi();
  try {
    await api.call('POST', '/v1/archive_policy', { body: { name: 'ns', aggregation_methods: ['last', 'count'], definition: [{ granularity: '0.000000001', points: 1_000_000_000 }, { granularity: '1s', points: 10 }] } });
    const m = (await api.call('POST', '/v1/metric', { body: { archive_policy_name: 'ns' } })).json as { id: string };
    const measures = [
      { timestamp: '2026-11-22T10:00:00.123456789', value: 1.5 },
      { timestamp: '2026-11-22T11:00:00.123456790+01:00', value: 2.5 },
      { timestamp: '2026-11-22T10:00:00.5Z', value: 4 },
    ];
    assert.equal((await api.call('POST', `/v1/metric/${m.id}/measures`, { body: measures })).status, 202);
    const status = (await api.call('GET', '/v1/status')).json as { storage: { summary: { measures: number } } };
    assert.equal(status.storage.summary.measures, 3);
    const r = await api.call('GET', `/v1/metric/${m.id}/measures?refresh=true&aggregation=last&granularity=0.000000001`);
    assert.deepEqual(r.json, [
      ['2026-11-22T10:00:00.123456789+00:00', 1e-9, 1.5],
      ['2026-11-22T10:00:00.123456790+00:00', 1e-9, 2.5],
      ['2026-11-22T10:00:00.500000+00:00', 1e-9, 4],
    ]);
    const counts = await api.call('GET', `/v1/metric/${m.id}/measures?aggregation=count&granularity=1`);
    assert.deepEqual(counts.json, [['2026-11-22T10:00:00+00:00', 1, 3]]);
    assert.match(counts.text, /, 1\.0, 3\.0\]/); // floats printed as Python does
    const after = (await api.call('GET', '/v1/status')).json as { storage: { summary: { measures: number } } };
    assert.equal(after.storage.summary.measures, 0);
  } finally {
    await api.close();
  }
});

test('metric list pages carry a Link to the next page, in Gnocchi form', async () => {
  const api = await startTestApi({ maxLimit: 2 });
  try {
    await api.call('POST', '/v1/archive_policy', { body: { name: 'p', definition: [{ granularity: '1s' }] } });
    for (const name of ['a', 'b', 'c']) await api.call('POST', '/v1/metric', { body: { archive_policy_name: 'p', name } });
    const r = await api.call('GET', '/v1/metric?sort=name:asc');
    const page = r.json as { id: string; name: string }[];
    assert.deepEqual(page.map((m) => m.name), ['a', 'b']);
    assert.equal(r.headers.link, `<http://localhost:80/v1/metric?limit=2&marker=${page[1].id}&sort=name%3Aasc>; rel="next"`);
    const next = await api.call('GET', `/v1/metric?sort=name:asc&marker=${page[1].id}`);
    assert.deepEqual((next.json as { name: string }[]).map((m) => m.name), ['c']);
    assert.equal(next.headers.link, undefined);
  } finally {
    await api.close();
  }
});

test('errors are JSON for JSON clients, plain text or HTML for others, as Gnocchi negotiates', async () => {
  const api = await startTestApi();
  try {
    let r = await api.call('GET', '/v1/metric/nope');
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(r.json, { code: 404, title: 'Not Found', description: 'Metric nope does not exist' });
    r = await api.call('GET', '/v1/metric/nope', { headers: { accept: '*/*' } });
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(r.text, /<title>404 Not Found<\/title>/);
    assert.match(r.text, /The resource could not be found\.<br \/><br \/>\nMetric nope does not exist/);
    r = await api.call('GET', '/v1/metric/nope', { headers: { accept: '' } });
    assert.equal(r.text, "404 Not Found\n\nThe resource could not be found.\n\n Metric nope does not exist  ");
    r = await api.call('GET', '/v1/metric', { headers: { accept: 'text/plain' } });
    assert.equal(r.status, 406);
    assert.match(r.text, /^406 Not Acceptable/);
    r = await api.call('GET', '/v1/metric', { headers: { accept: 'text/plain, application/json; q=0.8' } });
    assert.equal(r.status, 200);
  } finally {
    await api.close();
  }
});
