import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../test-util.js';
import { createDatabaseName } from './influxdb.js';

let api: TestApi;
before(async () => {
  api = await startTestApi();
  await api.call('POST', '/v1/archive_policy', { body: { name: 'low', definition: [{ granularity: '1 second' }] } });
  await api.call('POST', '/v1/archive_policy_rule', { body: { name: 'all', metric_pattern: '*', archive_policy_name: 'low' } });
});
after(async () => api.close());

const write = (body: string, query = 'db=telegraf', headers: Record<string, string> = {}, user?: string): ReturnType<TestApi['call']> =>
  api.call('POST', `/v1/influxdb/write?${query}`, { raw: body, user, headers: { 'content-type': 'text/plain', ...headers } });

test('createDatabaseName: Gnocchi grammar', () => {
  assert.equal(createDatabaseName('create database foo'), 'foo');
  assert.equal(createDatabaseName('CREATE  DATABASE  "my db"'), 'my db');
  assert.equal(createDatabaseName('create database foo_1;'), 'foo_1');
  assert.equal(createDatabaseName('create database "a\\"b"'), 'a"b');
  assert.equal(createDatabaseName('create database 1abc'), null);
  assert.equal(createDatabaseName('select * from x'), null);
  assert.equal(createDatabaseName('create databasefoo'), null);
});

test('influxdb: ping, query', async () => {
  const ping = await api.call('GET', '/v1/influxdb/ping', { user: null });
  assert.equal(ping.status, 204);
  assert.match(String(ping.headers['x-influxdb-version']), /^Tally /);
  assert.equal((await api.call('POST', '/v1/influxdb/query?q=create+database+telegraf')).status, 204);
  assert.equal((await api.call('POST', '/v1/influxdb/query?q=create+database+telegraf')).status, 204);
  assert.equal((await api.call('POST', '/v1/influxdb/query')).status, 204);
  const bad = await api.call('POST', '/v1/influxdb/query?q=show+databases');
  assert.equal(bad.status, 501);
  assert.deepEqual((bad.json as { description: unknown }).description, { cause: 'Not implemented error', detail: 'q', reason: 'Query not implemented' });
  assert.equal((await api.call('POST', '/v1/influxdb/query?q=create+database+x', { user: 'bob' })).status, 403);
  assert.equal((await api.call('GET', '/v1/resource_type/telegraf')).status, 200);
});

test('influxdb: write creates resources and metrics, measures readable', async () => {
  const t0 = 1_700_000_000n;
  const body = `cpu,host=web1,cpu=cpu0 user=1.5,idle=98i,name="x" ${t0}\ncpu,host=web1,cpu=cpu0 user=2.5 ${t0 + 1n}\nmem,host=web2 used=100 ${t0}`;
  const r = await write(body, 'db=telegraf&precision=s');
  assert.equal(r.status, 204, r.text);
  const res = await api.call('GET', '/v1/resource/telegraf/web1');
  assert.equal(res.status, 200);
  const metrics = (res.json as { metrics: Record<string, string> }).metrics;
  assert.deepEqual(Object.keys(metrics).sort(), ['cpu.idle@cpu=cpu0', 'cpu.user@cpu=cpu0']);
  const m = await api.call('GET', `/v1/resource/telegraf/web1/metric/cpu.user@cpu=cpu0/measures?refresh=true&granularity=1`);
  assert.deepEqual(m.json, [['2023-11-14T22:13:20+00:00', 1.0, 1.5], ['2023-11-14T22:13:21+00:00', 1.0, 2.5]]);
  // A second write adds the metrics the resource lacks.
  assert.equal((await write(`cpu,host=web1,cpu=cpu0 system=3 ${t0}000000000`)).status, 204);
  const again = await api.call('GET', '/v1/resource/telegraf/web1');
  assert.equal(Object.keys((again.json as { metrics: object }).metrics).length, 3);
});

test('influxdb: errors are 4xx with Gnocchi bodies', async () => {
  const parse = await write('cpu,host=a f=1\ncpu,host=a f=', 'db=telegraf');
  assert.equal(parse.status, 400);
  assert.deepEqual((parse.json as { description: unknown }).description, { cause: 'Value error', detail: 'line', reason: 'Unable to parse line 2' });
  const key = await write('cpu,nohost=a f=1', 'db=telegraf');
  assert.deepEqual((key.json as { description: unknown }).description, { cause: 'Value error', detail: 'key', reason: "Unable to find key `host' in tags" });
  const utf = await api.app.inject({
    method: 'POST', url: '/v1/influxdb/write?db=telegraf', payload: Buffer.from('cpu,host=a f=1\ncpu,host=\xff f=1', 'latin1'),
    headers: { 'content-type': 'text/plain', accept: 'application/json', authorization: 'basic ' + Buffer.from('admin:').toString('base64') },
  });
  assert.equal(utf.statusCode, 400);
  assert.match(utf.body, /Unable to parse line 2/);
  assert.equal((await write('cpu,host=a f=1', 'db=nosuch')).status, 404);
  assert.equal((await write('cpu,host=a f=1', 'db=telegraf&precision=weeks')).status, 400);
  assert.equal((await write('cpu,host=a/b f=1', 'db=telegraf')).status, 400);
  // Another type already holds the id: 409 with Gnocchi's description.
  await api.call('POST', '/v1/resource/generic', { body: { id: 'taken' } });
  const conflict = await write('cpu,host=taken f=1', 'db=telegraf');
  assert.equal(conflict.status, 409);
  assert.equal((conflict.json as { description: { cause: string } }).description.cause, 'Resource already exists');
  // Resource names map to ids per user, except UUIDs: another user may not add metrics to those.
  const uuid = '5a301761-aaaa-bbbb-cccc-000000000001';
  assert.equal((await write(`cpu,host=${uuid} f=1`, 'db=telegraf')).status, 204);
  assert.equal((await write(`cpu,host=${uuid} other=1`, 'db=telegraf', {}, 'bob')).status, 403);
  assert.equal((await write('cpu,host=web1,cpu=cpu0 other=1', 'db=telegraf', {}, 'bob')).status, 204);
});

test('influxdb: the resource tag comes from the header', async () => {
  const r = await write('m,host=h,node=n1 v=1 1000000000', 'db=telegraf', { 'x-gnocchi-influxdb-tag-resource-id': 'node' });
  assert.equal(r.status, 204);
  const res = await api.call('GET', '/v1/resource/telegraf/n1');
  assert.deepEqual(Object.keys((res.json as { metrics: object }).metrics), ['m.v@host=h']);
});

test('influxdb: concurrent writes to one new resource', async () => {
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => write(`race,host=r1 a=${i},b${i % 3}=1 ${i + 1}000000000`)));
  for (const r of rs) assert.equal(r.status, 204, r.text);
  const res = await api.call('GET', '/v1/resource/telegraf/r1');
  assert.deepEqual(Object.keys((res.json as { metrics: object }).metrics).sort(), ['race.a', 'race.b0', 'race.b1', 'race.b2']);
});

test('influxdb: gzip bodies, quoted database names', async () => {
  const { gzipSync } = await import('node:zlib');
  const gz = await api.app.inject({
    method: 'POST', url: '/v1/influxdb/write?db=telegraf', payload: gzipSync('gz,host=gzhost f=1 1000000000'),
    headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip', authorization: 'basic ' + Buffer.from('admin:').toString('base64') },
  });
  assert.equal(gz.statusCode, 204, gz.body);
  assert.equal((await api.call('GET', '/v1/resource/telegraf/gzhost')).status, 200);
  const notGz = await write('gz,host=gzhost f=1', 'db=telegraf', { 'content-encoding': 'gzip' });
  assert.equal(notGz.status, 400);
  assert.equal((await write('gz,host=gzhost f=1', 'db=telegraf', { 'content-encoding': 'br' })).status, 415);
  assert.equal((await api.call('POST', '/v1/influxdb/query?q=' + encodeURIComponent('create database "my db"'))).status, 204);
  assert.equal((await write('m,host=q f=1', 'db=my%20db')).status, 204);
  assert.equal((await api.call('GET', '/v1/resource/my%20db/q')).status, 200);
});
