// One request must not hold the server: reads and aggregations give the event loop back as
// they go, and stop with a 503 in Gnocchi's error format past --request-deadline-ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './app.js';
import { DEFAULT_HTTP_CONFIG } from './http.js';
import { openTestServices } from './test-util.js';

const METRICS = 8;
const POINTS = 30_000; // 9 splits per metric at 1 s
const T0 = Date.UTC(2026, 0, 1);

async function call(app: FastifyInstance, method: 'GET' | 'POST', url: string, user: string, body?: unknown): Promise<{ status: number; json: unknown; ms: number }> {
  const t = performance.now();
  const res = await app.inject({
    method, url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: 'basic ' + Buffer.from(`${user}:`).toString('base64') },
  });
  return { status: res.statusCode, json: res.body ? JSON.parse(res.body) as unknown : undefined, ms: performance.now() - t };
}

test('a long aggregation shares the loop with other users and stops at the request deadline with a 503', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-deadline-'));
  const svc = await openTestServices(dir);
  const unbounded = buildApi({ ...svc.services, requestDeadlineMs: 0 }, DEFAULT_HTTP_CONFIG);
  const tight = buildApi({ ...svc.services, requestDeadlineMs: 1 }, DEFAULT_HTTP_CONFIG);
  t.after(async () => {
    await unbounded.close();
    await tight.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  assert.equal((await call(unbounded, 'POST', '/v1/archive_policy', 'admin', {
    name: 'dl', aggregation_methods: ['mean'], definition: [{ granularity: '1s', points: POINTS }],
  })).status, 201);
  const measures = Array.from({ length: POINTS }, (_, i) => ({ timestamp: new Date(T0 + i * 1000).toISOString(), value: Math.sin(i) }));
  const ids: string[] = [];
  for (let i = 0; i < METRICS; i++) {
    const id = ((await call(unbounded, 'POST', '/v1/metric', 'bob', { archive_policy_name: 'dl' })).json as { id: string }).id;
    assert.equal((await call(unbounded, 'POST', `/v1/metric/${id}/measures`, 'bob', measures)).status, 202);
    ids.push(id);
  }
  for (let sack = 0; sack < svc.services.processor.sacks; sack++) await svc.services.processor.processSack(sack, { wait: true });
  const other = ((await call(unbounded, 'POST', '/v1/metric', 'alice', { archive_policy_name: 'dl' })).json as { id: string }).id;
  const operations = ['aggregate', 'mean', ['metric', ...ids.map((id) => [id, 'mean'])]];

  await t.test('while an expensive aggregate runs, another user is answered promptly', async () => {
    const expensive = call(unbounded, 'POST', '/v1/aggregates', 'bob', { operations });
    let done = false;
    void expensive.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    const cheap = await call(unbounded, 'GET', `/v1/metric/${other}`, 'alice');
    assert.equal(cheap.status, 200);
    // Generous: it catches a loop held for the whole aggregation, it does not time anything.
    assert.ok(cheap.ms < 1000, `the cheap request waited ${cheap.ms.toFixed(0)} ms`);
    const r = await expensive;
    assert.equal(r.status, 200);
    assert.equal((r.json as { measures: { aggregated: unknown[] } }).measures.aggregated.length, POINTS);
    assert.ok(done);
  });

  await t.test('past the deadline the request answers 503 saying which limit applied', async () => {
    const r = await call(tight, 'POST', '/v1/aggregates', 'bob', { operations });
    assert.equal(r.status, 503);
    const body = r.json as { code: number; title: string; description: string };
    assert.equal(body.code, 503);
    assert.equal(body.title, 'Service Unavailable');
    assert.match(body.description, /too expensive/);
    assert.match(body.description, /longer than 1 ms \(the limit set by request-deadline-ms\)/);
    // The same request within the limit answers.
    assert.equal((await call(unbounded, 'POST', '/v1/aggregates', 'bob', { operations })).status, 200);
  });

  await t.test('a full-series read stops at the deadline too', async () => {
    const r = await call(tight, 'GET', `/v1/metric/${ids[0]}/measures`, 'bob');
    assert.equal(r.status, 503);
    assert.match((r.json as { description: string }).description, /request-deadline-ms/);
  });
});
