// Evaluations per second of the evaluator's round: 10 000 threshold alarms (a mix of the
// three Gnocchi rule types and composites) over an in-process source, one member owning
// all of them, so the figure is the evaluator's own cost (ring, rules, reasons).
//   node packages/alarming/dist/evaluator/evaluator.bench.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMembership } from '@tally/coordination';
import type { Alarm } from '../model.js';
import { Evaluator } from './evaluator.js';
import type { MetricSource } from './source.js';
import type { Point } from './threshold.js';

const ALARMS = 10_000;
const ROUNDS = 5;

function points(seed: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < 6; i++) out.push([`2024-01-01T00:0${i}:00+00:00`, 60, (seed * 7 + i * 13) % 100]);
  return out;
}

const source: MetricSource = {
  resourceMeasures: async (q) => points(q.resourceId.length + q.metric.length),
  metricsAggregate: async (q) => points(q.metrics.length),
  resourcesAggregate: async (q) => points(q.metric.length * 3),
};

function alarm(i: number): Alarm {
  const base = { comparison_operator: 'gt' as const, threshold: 50, aggregation_method: 'mean', granularity: 60, evaluation_periods: 3 };
  const leaf = { type: 'gnocchi_resources_threshold' as const, metric: `m${i % 7}`, resource_id: `r-${i}`, resource_type: 'generic', ...base };
  const kinds: [Alarm['type'], Alarm['rule']][] = [
    ['gnocchi_resources_threshold', { metric: `m${i % 7}`, resource_id: `r-${i}`, resource_type: 'generic', ...base }],
    ['gnocchi_aggregation_by_metrics_threshold', { metrics: [`a${i}`, `b${i}`], ...base }],
    ['gnocchi_aggregation_by_resources_threshold', { metric: `m${i % 5}`, resource_type: 'generic', query: '{"=": {"project_id": "p"}}', ...base }],
    ['composite', { or: [leaf, { and: [{ ...leaf, threshold: 20 }, { ...leaf, comparison_operator: 'lt' }] }] }],
  ];
  const [type, rule] = kinds[i % kinds.length];
  return {
    alarm_id: `alarm-${i}`, name: `a${i}`, description: '', type, enabled: true, state: 'insufficient data', state_reason: '',
    severity: 'low', ok_actions: [], alarm_actions: [], insufficient_data_actions: [], repeat_actions: i % 3 === 0,
    user_id: null, project_id: null, time_constraints: i % 10 === 0 ? [{ name: 't', description: '', start: '0 8 * * 1-5', duration: 36_000, timezone: 'Europe/Paris' }] : [],
    timestamp: '', state_timestamp: '', rule,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tally-evaluator-bench-'));
const membership = new LocalMembership({ dir });
const alarms = Array.from({ length: ALARMS }, (_, i) => alarm(i));
let transitions = 0;
const evaluator = new Evaluator({
  intervalMs: 60_000, membership, source, concurrency: 10, memberId: 'bench',
  listAlarms: async () => alarms,
  onTransition: async () => void transitions++,
});
try {
  await membership.join(evaluator.group, 'bench', { heartbeatMs: 10_000, timeoutMs: 60_000 });
  await evaluator.round(); // warm-up
  const started = process.hrtime.bigint();
  let evaluated = 0;
  for (let r = 0; r < ROUNDS; r++) evaluated += (await evaluator.round()).evaluated;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${ALARMS} alarms x ${ROUNDS} rounds: ${evaluated} evaluations in ${seconds.toFixed(2)} s = ${Math.round(evaluated / seconds)} evaluations/s (${transitions} transitions)`);
} finally {
  await membership.close();
  rmSync(dir, { recursive: true, force: true });
}
