import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHttpServer, DEFAULT_HTTP_CONFIG } from './http.js';
import { gnocchiApi } from './gnocchi-api.js';
import { openTestServices, startTestApi } from './test-util.js';

/** A second API with Aodh's error body, as another API would be mounted beside Gnocchi's. */
async function aodhLike(app: FastifyInstance): Promise<void> {
  app.setErrorHandler(async (err, _req, reply) =>
    reply.code(400).send({ error_message: { faultstring: (err as Error).message, debuginfo: null } }));
  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({ error_message: { faultstring: `No route for ${req.url}`, debuginfo: null } }));
  app.get('/fail', async () => {
    throw new Error('alarm is broken');
  });
  app.post('/echo', async (req) => ({ got: req.body }));
}

test('the Gnocchi plugin and another API keep their own errors, 404s and body parsers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-plugins-'));
  const svc = await openTestServices(dir);
  const app = createHttpServer({ bodyLimit: 1 << 20 });
  await app.register(gnocchiApi, { services: svc.services, cfg: DEFAULT_HTTP_CONFIG });
  await app.register(aodhLike, { prefix: '/alarming' });
  await app.ready();
  const auth = { accept: 'application/json', authorization: 'basic ' + Buffer.from('admin:').toString('base64') };
  try {
    const gnocchi404 = await app.inject({ url: '/v1/nope', headers: auth });
    assert.equal(gnocchi404.statusCode, 404);
    assert.deepEqual(gnocchi404.json(), { code: 404, title: 'Not Found', description: null });
    const gnocchiError = await app.inject({ url: '/v1/metric/nope', headers: auth });
    assert.deepEqual(gnocchiError.json(), { code: 404, title: 'Not Found', description: 'Metric nope does not exist' });

    const other404 = await app.inject({ url: '/alarming/v2/nope', headers: auth });
    assert.equal(other404.statusCode, 404);
    assert.deepEqual(other404.json(), { error_message: { faultstring: 'No route for /alarming/v2/nope', debuginfo: null } });
    const otherError = await app.inject({ url: '/alarming/fail', headers: auth });
    assert.equal(otherError.statusCode, 400);
    assert.deepEqual(otherError.json(), { error_message: { faultstring: 'alarm is broken', debuginfo: null } });
    // Gnocchi keeps bodies raw for its routes; the other API still gets Fastify's JSON parser.
    const echo = await app.inject({ method: 'POST', url: '/alarming/echo', headers: { 'content-type': 'application/json' }, payload: '{"a": 1}' });
    assert.deepEqual(echo.json(), { got: { a: 1 } });
  } finally {
    await app.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GET / names the Gnocchi API version in build, and Tally\'s version beside it', async () => {
  const api = await startTestApi();
  try {
    const r = await api.call('GET', '/');
    assert.equal(r.status, 200);
    const body = r.json as Record<string, unknown>;
    assert.equal(body.build, '4.4.2');
    assert.equal(body.tally_version, 'test');
    assert.equal(r.headers['x-tally-version'], 'test');
    assert.deepEqual(Object.keys(body), ['build', 'versions', 'tally_version']);
  } finally {
    await api.close();
  }
});

test('an unknown path answers 404 as Gnocchi 4.4.2 does, in JSON, text and HTML', async () => {
  const api = await startTestApi();
  try {
    const json = await api.call('POST', '/nope');
    assert.equal(json.status, 404);
    assert.equal(json.text, '{"code": 404, "title": "Not Found", "description": null}');
    const text = await api.call('GET', '/nope', { headers: { accept: 'text/plain' } });
    assert.equal(text.text, '404 Not Found\n\nThe resource could not be found.\n\n   ');
    const html = await api.call('GET', '/nope', { headers: { accept: 'text/html' } });
    assert.equal(html.text, '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n' +
      '  The resource could not be found.<br /><br />\n\n\n\n </body>\n</html>');
  } finally {
    await api.close();
  }
});
