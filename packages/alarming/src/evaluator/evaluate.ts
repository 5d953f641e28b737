// One alarm's evaluation, from its document to a decision: the time constraints, the rule
// by type, the points from a MetricSource. No state of its own: the loop (evaluator.ts)
// and tests call it.
import type { Alarm, CompositeRule, ThresholdRuleBase } from '../model.js';
import { evaluateComposite, type CompositeLeaf } from './composite.js';
import { fetchStatistics, type GnocchiRule, type MetricSource } from './source.js';
import { evaluateThreshold, evaluationWindow, thresholdTransition, type Decision, type RuleEvaluation } from './threshold.js';
import { withinTimeConstraints } from './time-constraints.js';

/** Alarm types the periodic evaluation handles (event alarms are evaluated as events arrive). */
export const PERIODIC_TYPES: ReadonlySet<string> = new Set([
  'gnocchi_resources_threshold', 'gnocchi_aggregation_by_metrics_threshold',
  'gnocchi_aggregation_by_resources_threshold', 'composite',
]);

export interface EvaluateOptions {
  /** Milliseconds since the epoch. */
  now: number;
  /** Seconds added to every window for late measures (Aodh's additional_ingestion_lag). */
  ingestionLagSeconds?: number;
}

/** Evaluates one threshold rule: the window, the query, the comparison. */
export async function evaluateGnocchiRule(source: MetricSource, r: GnocchiRule, opts: EvaluateOptions): Promise<RuleEvaluation> {
  const stats = await fetchStatistics(source, r, evaluationWindow(r.rule, opts.now, opts.ingestionLagSeconds));
  if ('unknown' in stats) return { kind: 'unknown', reason: stats.unknown, statistics: [] };
  return evaluateThreshold(r.rule, stats.points);
}

/**
 * The decision for `alarm` now: a transition, a repeated announcement (repeat_actions),
 * or null (nothing to do, outside its time constraints, or a type not evaluated
 * periodically). Throws what the source throws for transient failures.
 */
export async function evaluateAlarm(alarm: Alarm, source: MetricSource, opts: EvaluateOptions): Promise<Decision | null> {
  if (!PERIODIC_TYPES.has(alarm.type)) return null;
  if (!withinTimeConstraints(alarm.time_constraints, opts.now)) return null;
  if (alarm.type === 'composite') {
    const leaf = (l: CompositeLeaf): Promise<RuleEvaluation> =>
      evaluateGnocchiRule(source, { type: l.type, rule: l } as GnocchiRule, opts);
    return evaluateComposite(alarm, alarm.rule as CompositeRule, leaf) as Promise<Decision | null>;
  }
  const r = { type: alarm.type, rule: alarm.rule } as GnocchiRule;
  const ev = await evaluateGnocchiRule(source, r, opts);
  return thresholdTransition(alarm, alarm.rule as ThresholdRuleBase, ev) as Decision | null;
}
