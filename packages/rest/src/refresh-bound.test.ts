// ?refresh=true waits for the fold of pending measures at most until the request deadline:
// past it the answer is a 503 naming the limit, the fold goes on and its measures become
// readable when it completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi } from './app.js';
import { DEFAULT_HTTP_CONFIG } from './http.js';
import { openTestServices } from './test-util.js';

const auth = { authorization: 'basic ' + Buffer.from('bob:').toString('base64'), 'content-type': 'application/json', accept: 'application/json' };

test('a refresh slower than the request deadline answers 503 at the deadline, and the fold still completes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-refresh-bound-'));
  const svc = await openTestServices(dir);
  const real = svc.services.processor;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let folded = false;
  // A fold that takes longer than the deadline: held until released.
  const slow = { refreshMetric: async (id: string) => { await gate; await real.refreshMetric(id); folded = true; } };
  const app = buildApi({ ...svc.services, processor: slow, requestDeadlineMs: 200 }, DEFAULT_HTTP_CONFIG);
  t.after(async () => {
    release();
    await app.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = { ...auth, authorization: 'basic ' + Buffer.from('admin:').toString('base64') };
  const policy = { name: 'rb', aggregation_methods: ['mean'], definition: [{ granularity: '1s', points: 10 }] };
  assert.equal((await app.inject({ method: 'POST', url: '/v1/archive_policy', headers: admin, payload: JSON.stringify(policy) })).statusCode, 201);
  const created = await app.inject({ method: 'POST', url: '/v1/metric', headers: auth, payload: JSON.stringify({ archive_policy_name: 'rb' }) });
  assert.equal(created.statusCode, 201, created.body);
  const id = (JSON.parse(created.body) as { id: string }).id;
  const posted = await app.inject({ method: 'POST', url: `/v1/metric/${id}/measures`, headers: auth, payload: JSON.stringify([{ timestamp: '2026-01-01T00:00:00', value: 4.5 }]) });
  assert.equal(posted.statusCode, 202);

  const t0 = performance.now();
  const res = await app.inject({ method: 'GET', url: `/v1/metric/${id}/measures?refresh=true`, headers: auth });
  const ms = performance.now() - t0;
  assert.equal(res.statusCode, 503, res.body);
  const body = JSON.parse(res.body) as { code: number; description: string };
  assert.equal(body.code, 503);
  assert.match(body.description, /still being processed after 200 ms \(the limit set by request-deadline-ms\)/);
  assert.ok(ms >= 190 && ms < 5_000, `answered after ${ms} ms`);

  release();
  for (let i = 0; i < 100 && !folded; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(folded, 'the fold went on after the request answered');
  const read = await app.inject({ method: 'GET', url: `/v1/metric/${id}/measures`, headers: auth });
  assert.equal(read.statusCode, 200);
  assert.ok(read.body.includes('4.5'), read.body);
});
