// The rating processor as users run it, against a real `tally serve`: `tally rating` alone
// rates what the metric store holds with the rules set through the rating API and fires a
// budget through the alarm API; `tally rating rerate` replaces rated periods, and when it is
// killed (SIGKILL) half way, the rated data is exactly what its output said it had done, the
// rest untouched, and running it again completes it. A proxy in front of the metric API
// holds or refuses the usage read of one chosen period, so "half way" is the same every run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnocchiClient } from '@tally/client';
import { SqlRatingStore, openRatingDatabase } from '@tally/rating';
import { freePort, poller, TALLY, startTally } from './tally-process.js';
import type { AddressInfo } from 'node:net';

const H_MS = 3_600_000;
const METRICS = `metrics:
  cpu:
    unit: instance
    alt_name: instance
    groupby: [id]
    metadata: [flavor_name]
    mutate: NUMBOOL
    extra_args:
      aggregation_method: mean
      resource_type: vm
`;

const until = poller(20_000);

/** Runs `tally ARGS` to its end. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TALLY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A proxy to the metric API that lets the first `pass` usage reads (POST /v1/aggregates)
 * through, then holds (or refuses with 403) every later one until it is closed.
 */
async function gate(target: number, pass: number, mode: 'hold' | 'refuse'): Promise<{ url: string; held: () => number; close(): Promise<void> }> {
  let seen = 0;
  let held = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && (req.url ?? '').startsWith('/v1/aggregates') && ++seen > pass) {
        if (mode === 'hold') { held++; return; }
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 403, description: 'refused by the test' }));
        return;
      }
      const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

test('tally rating alone, budgets, and rerate killed half way then resumed', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-rating-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const metricsFile = join(dir, 'metrics.yml');
  writeFileSync(metricsFile, METRICS);
  const [port, alarmPort, ratingPort] = [await freePort(), await freePort(), await freePort()];
  const tally = await startTally(['serve', '--data-dir', data, '--port', String(port), '--alarm-port', String(alarmPort), '--rating-port', String(ratingPort),
    '--alarm-policy', 'open', '--processing-interval', '100', '--rating-processor', 'off'], {}, 'Tally rating API listening');
  const gnocchi = new GnocchiClient({ url: `http://127.0.0.1:${port}`, auth: { type: 'basic', user: 'admin' }, retry: false });
  t.after(async () => {
    gnocchi.close();
    await tally.stop();
  });
  const admin = { authorization: `Basic ${Buffer.from('admin:').toString('base64')}`, 'content-type': 'application/json' };
  const call = async (base: number, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${base}${path}`, { method, headers: admin, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
    assert.ok(res.status < 400, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    const text = await res.text();
    return text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
  };

  // Rules: instance (cpu) of flavor small costs 1 per period.
  await call(ratingPort, 'PUT', '/v1/rating/modules/hashmap', { enabled: true });
  const svc = await call(ratingPort, 'POST', '/v1/rating/module_config/hashmap/services', { name: 'instance' });
  const field = await call(ratingPort, 'POST', '/v1/rating/module_config/hashmap/fields', { service_id: svc.service_id, name: 'flavor_name' });
  const mapping = await call(ratingPort, 'POST', '/v1/rating/module_config/hashmap/mappings', { field_id: field.field_id, value: 'small', cost: '1', type: 'flat' });

  // Usage: one vm per project, a measure in each of the last four whole hours.
  const h0 = Math.floor(Date.now() / H_MS) * H_MS;
  const iso = (ms: number): string => new Date(ms).toISOString();
  await gnocchi.archivePolicy.create({ name: 'hourly', aggregation_methods: ['mean'], definition: [{ granularity: 3600, timespan: 7 * 86_400 }] });
  await call(port, 'POST', '/v1/resource_type', { name: 'vm', attributes: { flavor_name: { type: 'string', required: false } } });
  for (const [id, project] of [['11111111-1111-4111-8111-111111111111', 'p1'], ['22222222-2222-4222-8222-222222222222', 'p2']]) {
    await call(port, 'POST', '/v1/resource/vm', { id, project_id: project, flavor_name: 'small', started_at: iso(h0 - 5 * H_MS), metrics: { cpu: { archive_policy_name: 'hourly' } } });
    await call(port, 'POST', `/v1/resource/vm/${id}/metric/cpu/measures`, [4, 3, 2, 1].map((k) => ({ timestamp: iso(h0 - k * H_MS + 600_000), value: 5 })));
    await call(port, 'GET', `/v1/resource/vm/${id}/metric/cpu/measures?refresh=true`);
  }

  const database = await openRatingDatabase(`sqlite://${join(data, 'index.sqlite')}`);
  t.after(() => database.close());
  const store = new SqlRatingStore(database.db, database.dialect);
  const priceAt = async (scope: string, beginMs: number): Promise<string | undefined> =>
    (await store.readRated(scope, BigInt(beginMs) * 1_000_000n, BigInt(beginMs + H_MS) * 1_000_000n))[0]?.points[0]?.price;
  const common = ['--data-dir', data, '--rating-metrics', metricsFile];

  // tally rating alone rates this month's periods and fires p1's budget through the alarm API.
  const monthStart = Date.UTC(new Date(h0).getUTCFullYear(), new Date(h0).getUTCMonth(), 1);
  const budget = await run(['rating', 'budget', 'set', ...common, '--project', 'p1', '--amount', '0.5']);
  assert.equal(budget.code, 0, budget.stderr);
  const budgetId = (JSON.parse(budget.stdout) as { budget_id: string }).budget_id;
  if (h0 - H_MS >= monthStart) {
    const rating = await startTally(['rating', ...common, '--rating-interval', '1', '--rating-alarm-url', `http://127.0.0.1:${alarmPort}`], {}, 'Tally rating processor running');
    try {
      await until('the last hour rated', async () => (await priceAt('p1', h0 - H_MS)) === '1' && (await priceAt('p2', h0 - H_MS)) === '1');
      const fired = await until('the budget fired', async () => {
        const list = await run(['rating', 'budget', 'list', ...common, '--project', 'p1']);
        const b = JSON.parse(list.stdout.trim().split('\n')[0]) as { fired_month: string | null; alarm_id: string | null };
        return b.fired_month !== null && b.alarm_id !== null ? b : null;
      }).catch((e: Error) => { throw new Error(`${e.message}\n${rating.output()}`); });
      const alarm = await call(alarmPort, 'GET', `/v2/alarms/${fired.alarm_id}`);
      assert.equal(alarm.name, `budget-${budgetId}`);
      assert.equal(alarm.project_id, 'p1');
    } finally {
      await rating.stop();
    }
  } else {
    t.diagnostic('less than an hour of this month is over: the processor has nothing to rate yet, its part is skipped');
  }

  // Re-rating: everything at cost 1 first, then the rule changes to 2.
  // Period by period below, so that the failures fall between periods; batched just here.
  const batched = ['rating', 'rerate', ...common, '--scope', 'p1,p2', '--begin', iso(h0 - 4 * H_MS), '--end', iso(h0)];
  const rerate = [...batched, '--batch-periods', '1'];
  const first = await run(batched);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.trim().split('\n').length, 8);
  assert.equal((await run([...batched, '--batch-periods', '0'])).code, 2, 'a batch of no periods is refused');
  await call(ratingPort, 'PUT', `/v1/rating/module_config/hashmap/mappings/${String(mapping.mapping_id)}`, { cost: '2' });
  const all = ['p1', 'p2'].flatMap((s) => [4, 3, 2, 1].map((k) => ({ scope: s, begin: h0 - k * H_MS })));
  const prices = async (): Promise<string[]> => Promise.all(all.map(async (p) => (await priceAt(p.scope, p.begin)) ?? '-'));
  assert.deepEqual(await prices(), Array(8).fill('1'));

  // A failing read: the command lists what it rated and what it did not, and exits 1.
  const refuse = await gate(port, 2, 'refuse');
  const failed = await run([...rerate, '--gnocchi-url', refuse.url]);
  await refuse.close();
  assert.equal(failed.code, 1);
  const rated = failed.stdout.split('\n').filter((l) => l.startsWith('rated '));
  const notRated = failed.stdout.split('\n').filter((l) => l.startsWith('not-rated '));
  assert.deepEqual([rated.length, notRated.length], [2, 6]);
  assert.match(failed.stderr, /rating stopped after 2 of 8 scope-periods/);
  assert.deepEqual(await prices(), ['2', '2', '1', '1', '1', '1', '1', '1']);

  // Killed half way: the data is exactly what the output said.
  const hold = await gate(port, 5, 'hold');
  const child: ChildProcess = spawn(process.execPath, [TALLY, ...rerate, '--gnocchi-url', hold.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await until('five periods rated and the sixth read held', async () => out.split('\n').filter((l) => l.startsWith('rated ')).length === 5 && hold.held() === 1);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  await hold.close();
  const done = new Set(out.split('\n').filter((l) => l.startsWith('rated ')).map((l) => l.split(' ').slice(1, 3).join(' ')));
  assert.equal(done.size, 5);
  const after = await prices();
  all.forEach((p, i) => assert.equal(after[i], done.has(`${p.scope} ${iso(p.begin)}`) ? '2' : '1', `${p.scope} ${iso(p.begin)}`));
  // Resumed: the same command completes it.
  const resumed = await run(rerate);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await prices(), Array(8).fill('2'));
});
