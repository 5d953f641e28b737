import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { creationCurveFigures, runCreationCurve } from './creation-curve.js';
import { parseOptions } from './index.js';
import { Progress } from './progress.js';
import { externalTarget, startTally } from './targets.js';
import { freePort } from './system.js';
import { benchClient } from './workload.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('creation scenario: options and one rate and one CPU figure per round', () => {
  const o = parseOptions(['--scenario', 'creation', '--creation-rounds', '3', '--creation-round-size', '200']);
  assert.ok(o !== 'help');
  assert.equal(o.scenario, 'creation');
  assert.deepEqual({ ...o.creation, user: undefined, password: undefined },
    { rounds: 3, roundSize: 200, concurrency: 8, pauseMs: 500, clientWarmup: 5000, user: undefined, password: undefined });
  const keys = creationCurveFigures(o.creation).map((d) => d.key);
  assert.deepEqual(keys, ['creation_rate_1', 'creation_cpu_1', 'creation_rate_2', 'creation_cpu_2', 'creation_rate_3', 'creation_cpu_3']);
  assert.match(creationCurveFigures(o.creation)[2].label, /creations 201-400/);
  assert.throws(() => parseOptions(['--scenario', 'creations']), /unknown scenario 'creations' \(known: standard, noisy-neighbour, creation,/);
});

test('creation scenario against a fresh Tally: every round creates its metrics and is timed', async () => {
  const lines: string[] = [];
  const quiet = new Progress({ isTTY: false, write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WriteStream);
  const target = await startTally({
    tallyBin: `${REPO_ROOT}bin/tally`, tallyMetricdWorkers: 1, referenceScript: '', user: 'admin', password: '', keepData: false,
    readyTimeoutMs: 60_000, onLog: () => {},
  });
  try {
    const res = await runCreationCurve(target, { rounds: 2, roundSize: 30, concurrency: 4, pauseMs: 0, clientWarmup: 50, user: 'admin', password: '' }, quiet);
    assert.equal(res.error, null);
    assert.ok(lines.some((l) => l.includes('client warm-up on a bare HTTP server (50 creations)')), lines.join(''));
    for (const r of [1, 2]) {
      assert.ok((res.figures[`creation_rate_${r}`] ?? 0) > 0, `round ${r} rate`);
      // The server's own process: a round of creations costs it CPU (counted in 10 ms ticks, so 0 is possible, never less).
      assert.ok((res.figures[`creation_cpu_${r}`] ?? -1) >= 0, `round ${r} CPU`);
    }
    // The warm-up went to the bare server: the target holds exactly the rounds' metrics.
    const client = benchClient(target.url, 'admin', '', 1);
    try {
      let n = 0;
      for await (const m of client.metric.listAll()) if (m.archive_policy.name === 'bench-creation-curve') n++;
      assert.equal(n, 60);
    } finally {
      client.close();
    }
  } finally {
    await target.stop();
  }
});

test('creation scenario: a target that does not answer ends the run with an error, not an exception', async () => {
  const lines: string[] = [];
  const quiet = new Progress({ isTTY: false, write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WriteStream);
  const res = await runCreationCurve(externalTarget(`http://127.0.0.1:${await freePort()}`, null, null), { rounds: 1, roundSize: 5, concurrency: 2, pauseMs: 0, clientWarmup: 10, user: 'admin', password: '' }, quiet);
  assert.match(res.error ?? '', /ECONNREFUSED|connect/i);
  assert.deepEqual(res.notes, ["the target's process is unknown (--pid): no CPU per creation"]);
  assert.equal(res.figures.creation_rate_1, undefined);
});
