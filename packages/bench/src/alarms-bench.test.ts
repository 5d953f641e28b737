import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderAlarmFigures, type AlarmFigures } from './alarms-bench.js';
import { parseOptions } from './index.js';

test('options: --scenario alarms, its defaults, and no external target', () => {
  const o = parseOptions(['--scenario', 'alarms', '--aodh-alarms', '20000']);
  assert.ok(o !== 'help');
  assert.equal(o.scenario, 'alarms');
  assert.equal(o.alarms.alarms, 10_000);
  assert.equal(o.alarms.aodhAlarms, 10_000, 'Aodh gets a subset of the same alarms, never more');
  assert.equal(o.alarms.concurrency, 10);
  assert.match(o.alarms.aodhScript, /shared\/reference\/aodh-server\.sh$/);
  assert.throws(() => parseOptions(['--scenario', 'alarms', '--target', 'http://x']), /starts its own Tally and Aodh/);
  assert.throws(() => parseOptions(['--scenario', 'alarms', '--alarms', '2']), /--alarms/);
});

test('the report puts the worst round beside the best and orients every ratio so that > 1 favours Tally', () => {
  const f: AlarmFigures = {
    tallyRounds: [{ rate: 1000, cpuPer10k: 2, apiCpuPer10k: 6 }, { rate: 2000, cpuPer10k: 1, apiCpuPer10k: 5 }],
    tallyFirstRate: 500, tallyTransitions: 10, latency: { p50: 7, p99: 29, max: 35, count: 5, sent: 5 },
    aodhFirstRate: 50, aodhFirstComplete: true,
    aodh: { rate: 100, cpuPer10k: 20, evaluatorCpuPer10k: 15, apiCpuPer10k: 10, evaluations: 1000, seconds: 10 },
    compared: 10, stateMismatches: 0, notes: [],
  };
  const cfg = { alarms: 10, aodhAlarms: 10, resources: 1, rounds: 2, aodhSeconds: 10, aodhFirstCycleS: 10, concurrency: 10, notifyEvery: 2, aodhScript: '' };
  const text = renderAlarmFigures(f, cfg);
  const row = (label: string) => text.split('\n').find((l) => l.startsWith(label)) ?? '';
  assert.match(row('evaluations per second, steady'), /1000 +2000 +100 +10\.0x +20\.0x$/);
  assert.match(row('evaluator CPU per 10 000'), /2\.00 +1\.00 +20\.00 +10\.0x +20\.0x$/);
  assert.match(row('notification latency p99'), /29\.0/);
  assert.match(text, /10 of the 10 alarms both evaluated agree/);
  const missing = renderAlarmFigures({ ...f, aodh: null, aodhFirstComplete: false }, cfg);
  assert.match(missing.split('\n').find((l) => l.startsWith('evaluations per second, steady')) ?? '', /n\/a +n\/a +n\/a$/);
});
