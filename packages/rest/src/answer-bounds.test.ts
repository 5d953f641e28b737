// One request must not hold the server with a large answer: the points a request reads and
// answers are bounded (413 in Gnocchi's error format past --max-answer-points), and answers
// below the bound are written in chunks that give the event loop back.
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
const POINTS = 30_000;
const T0 = Date.UTC(2026, 0, 1);

async function call(app: FastifyInstance, method: 'GET' | 'POST', url: string, user: string, body?: unknown): Promise<{ status: number; text: string; ms: number }> {
  const t = performance.now();
  const res = await app.inject({
    method, url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: 'basic ' + Buffer.from(`${user}:`).toString('base64') },
  });
  return { status: res.statusCode, text: res.body, ms: performance.now() - t };
}

/** The longest stretch the event loop was held while `work` ran, in ms. */
async function longestHold<T>(work: Promise<T>): Promise<{ result: T; ms: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    return { result: await work, ms: longest };
  } finally {
    clearInterval(timer);
  }
}

function assertTooLarge(r: { status: number; text: string }, limit: number): void {
  assert.equal(r.status, 413, r.text.slice(0, 300));
  const body = JSON.parse(r.text) as { code: number; title: string; description: string };
  assert.equal(body.code, 413);
  assert.equal(body.title, 'Request Entity Too Large');
  assert.match(body.description, new RegExp(`more than ${limit} points \\(the limit set by max-answer-points`));
  assert.match(body.description, /narrower start and stop, a coarser granularity/);
}

test('answers are bounded in points and written without holding the loop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-answers-'));
  const svc = await openTestServices(dir);
  const unbounded = buildApi({ ...svc.services, maxAnswerPoints: 0 }, DEFAULT_HTTP_CONFIG);
  const LIMIT = 100_000; // over one metric, under all of them
  const bounded = buildApi({ ...svc.services, maxAnswerPoints: LIMIT }, DEFAULT_HTTP_CONFIG);
  t.after(async () => {
    await unbounded.close();
    await bounded.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  assert.equal((await call(unbounded, 'POST', '/v1/archive_policy', 'admin', {
    name: 'big', aggregation_methods: ['mean', 'max'], definition: [{ granularity: '1s', points: POINTS }],
  })).status, 201);
  const measures = Array.from({ length: POINTS }, (_, i) => ({ timestamp: new Date(T0 + i * 1000).toISOString(), value: Math.round(Math.sin(i) * 1e4) / 100 }));
  const ids: string[] = [];
  for (let i = 0; i < METRICS; i++) {
    const id = (JSON.parse((await call(unbounded, 'POST', '/v1/metric', 'bob', { archive_policy_name: 'big' })).text) as { id: string }).id;
    assert.equal((await call(unbounded, 'POST', `/v1/metric/${id}/measures`, 'bob', measures)).status, 202);
    ids.push(id);
  }
  const resource = (JSON.parse((await call(unbounded, 'POST', '/v1/resource/generic', 'bob', {
    id: '5a301761-aaaa-46e2-8900-8b4f6fe6675a', metrics: { cpu: { archive_policy_name: 'big' } },
  })).text) as { metrics: { cpu: string } }).metrics.cpu;
  assert.equal((await call(unbounded, 'POST', `/v1/metric/${resource}/measures`, 'bob', measures)).status, 202);
  for (let sack = 0; sack < svc.services.processor.sacks; sack++) await svc.services.processor.processSack(sack, { wait: true });
  const other = (JSON.parse((await call(unbounded, 'POST', '/v1/metric', 'alice', { archive_policy_name: 'big' })).text) as { id: string }).id;
  const everyMetric = ['metric', ...ids.map((id) => [id, 'mean'])];

  await t.test('requests under the bound answer as without it', async () => {
    for (const url of [`/v1/metric/${ids[0]}/measures`, `/v1/metric/${ids[0]}/measures?start=${T0 / 1000 + 100}&stop=${T0 / 1000 + 200}`]) {
      const a = await call(bounded, 'GET', url, 'bob');
      assert.equal(a.status, 200);
      assert.equal(a.text, (await call(unbounded, 'GET', url, 'bob')).text);
    }
    const first = JSON.parse((await call(bounded, 'GET', `/v1/metric/${ids[0]}/measures`, 'bob')).text) as [string, number, number][];
    assert.equal(first.length, POINTS);
    assert.deepEqual(first[1], [new Date(T0 + 1000).toISOString().replace('.000Z', '+00:00'), 1.0, measures[1].value]);
    const ops = { operations: ['metric', [ids[0], 'mean'], [ids[1], 'mean']] };
    const a = await call(bounded, 'POST', '/v1/aggregates', 'bob', ops);
    assert.equal(a.status, 200);
    assert.equal(a.text, (await call(unbounded, 'POST', '/v1/aggregates', 'bob', ops)).text);
    const parsed = JSON.parse(a.text) as { measures: Record<string, { mean: unknown[][] }> };
    assert.deepEqual(parsed.measures[ids[1]].mean[2], first[2]);
  });

  await t.test('over the bound, reads, aggregates, the resource and value-search answers are 413 saying which limit applied', async () => {
    const tight = buildApi({ ...svc.services, maxAnswerPoints: POINTS - 1 }, DEFAULT_HTTP_CONFIG);
    t.after(() => tight.close());
    assertTooLarge(await call(tight, 'GET', `/v1/metric/${ids[0]}/measures`, 'bob'), POINTS - 1);
    assertTooLarge(await call(tight, 'GET', '/v1/resource/generic/5a301761-aaaa-46e2-8900-8b4f6fe6675a/metric/cpu/measures', 'bob'), POINTS - 1);
    // A narrower window answers.
    assert.equal((await call(tight, 'GET', `/v1/metric/${ids[0]}/measures?start=${T0 / 1000}&stop=${T0 / 1000 + 60}`, 'bob')).status, 200);
    assertTooLarge(await call(bounded, 'POST', '/v1/aggregates', 'bob', { operations: everyMetric }), LIMIT);
    // An aggregate answers few points but reads them all: its inputs are bounded too.
    assertTooLarge(await call(bounded, 'POST', '/v1/aggregates', 'bob', { operations: ['aggregate', 'mean', everyMetric] }), LIMIT);
    assertTooLarge(await call(bounded, 'GET', `/v1/aggregation/metric?${ids.map((id) => `metric=${id}`).join('&')}`, 'bob'), LIMIT);
    assertTooLarge(await call(bounded, 'POST', `/v1/search/metric?${ids.map((id) => `metric_id=${id}`).join('&')}`, 'bob', { '>=': -1000 }), LIMIT);
  });

  await t.test('while a large answer is written, another user is answered promptly', async () => {
    // 16 series of 30 000 points: about 23 MB of JSON, over a second of work in one go.
    const both = ['metric', ...ids.flatMap((id) => [[id, 'mean'], [id, 'max']])];
    const t0 = performance.now();
    const { result: [big, waits], ms: held } = await longestHold((async () => {
      const expensive = call(unbounded, 'POST', '/v1/aggregates', 'bob', { operations: both });
      let done = false;
      void expensive.then(() => (done = true));
      // Another user's cheap requests, one after the other for as long as the large one runs.
      const cheap: number[] = [];
      while (!done) {
        // A client's next request arrives through I/O, after the loop's other work.
        await new Promise((r) => setImmediate(r));
        const r = await call(unbounded, 'GET', `/v1/metric/${other}`, 'alice');
        assert.equal(r.status, 200);
        cheap.push(r.ms);
      }
      return Promise.all([expensive, cheap]);
    })());
    const worst = Math.max(...waits);
    assert.equal(big.status, 200);
    const body = JSON.parse(big.text) as { measures: Record<string, { mean: unknown[]; max: unknown[] }> };
    assert.equal(Object.keys(body.measures).length, METRICS);
    for (const id of ids) assert.deepEqual([body.measures[id].mean.length, body.measures[id].max.length], [POINTS, POINTS]);
    // Generous: they catch a loop held for the whole answer (seconds), they do not time
    // anything. On a loaded machine a collection or the scheduler can hold the loop for
    // hundreds of ms, and the whole answer then takes longer too: the bounds grow with it.
    const whole = big.ms;
    assert.ok(waits.length >= 3, `only ${waits.length} cheap requests were answered during the large one (${whole.toFixed(0)} ms)`);
    assert.ok(worst < Math.max(1000, whole / 2), `a cheap request waited ${worst.toFixed(0)} ms of the large answer's ${whole.toFixed(0)} ms`);
    assert.ok(held < Math.max(500, whole / 3), `the loop was held ${held.toFixed(0)} ms in one go, of the large answer's ${whole.toFixed(0)} ms (${(performance.now() - t0).toFixed(0)} ms in all)`);
  });
});
