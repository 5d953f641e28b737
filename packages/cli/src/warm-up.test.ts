// The start-up warm-up: it runs the real paths over scratch stores, leaves nothing behind,
// never shows in the data a server serves, and a failing one does not stop the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSettings } from './config.js';
import { freePort, startTally } from './tally-process.js';
import { warmUpApi, warmUpProcessing } from './warm-up.js';

function scratchFolders(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('tally-warm-up-'));
}

// The warm-ups in this process make their scratch folders in a temporary folder of its own:
// servers other suites start at the same time warm up in the machine's, and one killed
// leaves its scratch folder there.
const privateTmp = mkdtempSync(join(tmpdir(), 'tally-warmup-test-tmp-'));
process.env.TMPDIR = privateTmp;
process.on('exit', () => rmSync(privateTmp, { recursive: true, force: true }));

test('a processing warm-up folds rounds until its budget is spent, then removes its scratch folder', async () => {
  assert.equal(tmpdir(), privateTmp);
  const t0 = performance.now();
  const r = await warmUpProcessing({ budgetMs: 300 });
  const elapsed = performance.now() - t0;
  assert.ok(r.rounds >= 1, `${r.rounds} rounds`);
  // Every round folds 400 measures of each of its 15 metrics.
  assert.equal(r.measures, r.rounds * 15 * 400);
  assert.ok(r.ms >= 300 && elapsed >= 300, `stopped after ${r.ms} ms, before its budget`);
  assert.deepEqual(scratchFolders(privateTmp), []);
});

test('a warm-up removes the scratch folders of processes that no longer run, and never a running one\'s', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(dead !== undefined);
  const left = join(privateTmp, `tally-warm-up-${dead}-x1`);
  const running = join(privateTmp, `tally-warm-up-${process.ppid}-x2`);
  for (const d of [left, running]) mkdirSync(join(d, 'storage'), { recursive: true });
  await warmUpProcessing({ budgetMs: 1 });
  assert.deepEqual(scratchFolders(privateTmp), [`tally-warm-up-${process.ppid}-x2`]);
  rmSync(running, { recursive: true });
});

test('an API warm-up gets a 2xx answer to every request it sends (it throws otherwise), then removes its scratch folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-warm-test-'));
  try {
    // A round per policy: each round's metrics take the next one (and are read with its method).
    const r = await warmUpApi(resolveSettings({ dataDir: join(dir, 'data') }), { budgetMs: 1, minRounds: 5 });
    assert.equal(r.rounds, 5);
    // Acknowledged into its own incoming store: 8 metrics' first 40 measures 5 at a time,
    // the 25 metrics' other 360 in a batch, 8 fields x 400 lines of InfluxDB, 8 series x
    // 400 samples of Prometheus.
    assert.equal(r.measures, 5 * (8 * 40 + 25 * 360 + 8 * 400 + 8 * 400));
    assert.deepEqual(scratchFolders(privateTmp), []);
    // Its data went to the scratch folder, none to the configured one.
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function served(args: string[], env: Record<string, string> = {}): Promise<{ output: string; policies: string[]; metrics: unknown[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-warm-test-'));
  const port = await freePort();
  const tally = await startTally(['serve', '--data-dir', join(dir, 'data'), '--port', String(port), '--alarm-port', '0', '--rating-port', '0',
    '--metricd-workers', '2', '--log-level', 'info', ...args], env);
  try {
    const get = async (path: string): Promise<unknown> => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` } });
      assert.equal(res.status, 200, path);
      return res.json();
    };
    const policies = ((await get('/v1/archive_policy')) as Array<{ name: string }>).map((p) => p.name).sort();
    const metrics = (await get('/v1/metric')) as unknown[];
    return { output: tally.output(), policies, metrics };
  } finally {
    await tally.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('serve warms up the API and each processing thread before it listens, and serves none of the warm-up data', async () => {
  const { output, policies, metrics } = await served(['--warm-up-ms', '200']);
  const lines = output.split('\n');
  const at = (msg: string) => lines.findIndex((l) => l.includes(`"msg":"${msg}"`));
  assert.ok(at('API warmed up') >= 0, output);
  assert.equal(lines.filter((l) => l.includes('"msg":"processing thread warmed up"')).length, 2, output);
  const listening = at('Tally API listening');
  assert.ok(listening > at('API warmed up'), 'listening before the API warmed up');
  assert.ok(lines.every((l, i) => !l.includes('"msg":"processing thread warmed up"') || i < listening), 'listening before a processing thread warmed up');
  assert.deepEqual(policies, ['bool', 'high', 'low', 'medium']);
  assert.deepEqual(metrics, []);
});

test('--warm-up-ms 0 starts without a warm-up; a warm-up that fails is logged and the server starts anyway', async () => {
  const off = await served(['--warm-up-ms', '0']);
  assert.doesNotMatch(off.output, /warmed up|warm-up failed/);
  // No temporary folder to make one in.
  const failing = await served(['--warm-up-ms', '200'], { TMPDIR: '/nonexistent/tally-warm-up-test' });
  assert.match(failing.output, /"msg":"warm-up failed; the API starts without it"/);
  assert.equal(failing.output.match(/"msg":"warm-up failed; processing starts without it"/g)?.length, 2, failing.output);
  assert.doesNotMatch(failing.output, /warmed up/);
  assert.deepEqual(failing.metrics, []);
});
