// The console's routes: cache rules of the bundle, the redirect that keeps a proxy's
// prefix, what config.json says, and the alarm API reached through /console/alarming/.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { consoleRoutes } from './console.js';

function bundle(): string {
  const root = mkdtempSync(join(tmpdir(), 'tally-console-routes-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><script type="module" src="assets/main-ABC123.js"></script>');
  writeFileSync(join(root, 'assets', 'main-ABC123.js'), 'console.log(1)');
  return root;
}

async function server(root: string, alarm: FastifyInstance | null): Promise<FastifyInstance> {
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
  await app.register(consoleRoutes, { root, alarmApi: () => alarm, authMode: 'token', version: '9.9.9' });
  return app;
}

test('index.html is never cached, hashed assets are cached for good, /console redirects relatively', async (t) => {
  const root = bundle();
  const app = await server(root, null);
  t.after(async () => { await app.close(); rmSync(root, { recursive: true }); });
  const index = await app.inject({ url: '/console/' });
  assert.equal(index.statusCode, 200);
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.match(String(index.headers['content-type']), /^text\/html/);
  assert.match(index.body, /assets\/main-ABC123\.js/);
  assert.match(String(index.headers['content-security-policy']), /script-src 'self'; .*frame-ancestors 'none'/);
  const bare = await app.inject({ url: '/console' });
  assert.equal(bare.statusCode, 308);
  assert.equal(bare.headers.location, 'console/', 'relative, so that a path prefix in front stays');
  const asset = await app.inject({ url: '/console/assets/main-ABC123.js' });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(String(asset.headers['content-type']), /^text\/javascript/);
  assert.equal((await app.inject({ url: '/console/assets/../index.html' })).statusCode, 404);
  assert.equal((await app.inject({ url: '/console/assets/main-OTHER.js' })).statusCode, 404);
  assert.deepEqual((await app.inject({ url: '/console/config.json' })).json(), { authMode: 'token', alarming: false, version: '9.9.9' });
});

test('an unbuilt console says how to build it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tally-console-empty-'));
  const app = await server(root, null);
  t.after(async () => { await app.close(); rmSync(root, { recursive: true }); });
  const r = await app.inject({ url: '/console/' });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /npm run build/);
});

test('/console/alarming/* reaches the alarm API with the method, path, query, body and credentials', async (t) => {
  const alarm = Fastify();
  alarm.removeAllContentTypeParsers();
  alarm.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  alarm.put('/v2/alarms/:id', async (req, reply) => reply.code(200).header('x-openstack-request-id', 'req-1').send({
    url: req.url, auth: req.headers.authorization ?? null, type: req.headers['content-type'] ?? null,
    body: JSON.parse(String(req.body)) as unknown,
  }));
  alarm.get('/v2/alarms', async (req, reply) => (req.headers.authorization ? reply.send([]) : reply.code(401).send({ error_message: { faultstring: 'no' } })));
  const root = bundle();
  const app = await server(root, alarm);
  t.after(async () => { await app.close(); await alarm.close(); rmSync(root, { recursive: true }); });
  const r = await app.inject({
    method: 'PUT', url: '/console/alarming/v2/alarms/a1?x=1',
    headers: { authorization: 'Bearer tally_t', 'content-type': 'application/json' }, payload: JSON.stringify({ enabled: false }),
  });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['x-openstack-request-id'], 'req-1');
  assert.deepEqual(r.json(), { url: '/v2/alarms/a1?x=1', auth: 'Bearer tally_t', type: 'application/json', body: { enabled: false } });
  assert.equal((await app.inject({ url: '/console/alarming/v2/alarms' })).statusCode, 401, "the alarm API's own answer");
  assert.deepEqual((await app.inject({ url: '/console/config.json' })).json(), { authMode: 'token', alarming: true, version: '9.9.9' });
});

test('without an alarm API, /console/alarming/ answers 503', async (t) => {
  const root = bundle();
  const app = await server(root, null);
  t.after(async () => { await app.close(); rmSync(root, { recursive: true }); });
  const r = await app.inject({ url: '/console/alarming/v2/alarms' });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /alarm API/);
});
