// Threshold rules over Gnocchi's aggregates, as Aodh 15 evaluates them: the points of the
// rule's granularity in the window, the last `evaluation_periods` of them compared with
// the threshold; all outside -> alarm, none -> ok, a mix keeps the state (the "trend"
// decides only from insufficient data); too few points -> insufficient data. Reason texts
// and reason_data are Aodh's, since notifications and alarm history carry them to users
// and tools that parse them. Pure: the points come from a MetricSource.
import { pyFloatRepr } from '@tally/timeseries';
import type { AlarmState, ComparisonOperator, ThresholdRuleBase } from '../model.js';

/** A point as Gnocchi returns it: [timestamp, granularity (s), value]. */
export type Point = readonly [timestamp: string, granularity: number | string, value: number];

/** What a threshold rule says, before the alarm's current state is taken into account. */
export type RuleEvaluation =
  /** Every compared point on one side of the threshold (or M of N breaching). */
  | { kind: 'decided'; state: 'ok' | 'alarm'; statistics: number[]; compared: number; outside: number }
  /** A mix: `trending` is the side of the most recent point. */
  | { kind: 'trending'; trending: 'ok' | 'alarm'; statistics: number[]; compared: number; outside: number }
  /** Not enough data, or none could be had; `reason` is Aodh's text for it. */
  | { kind: 'unknown'; reason: string; statistics: number[] };

export interface ThresholdReasonData {
  type: 'threshold';
  disposition: 'inside' | 'outside' | 'unknown';
  count: number;
  most_recent: number | null;
}

/** A state to record or announce. */
export interface Decision<R = Record<string, unknown>> {
  state: AlarmState;
  reason: string;
  reasonData: R;
  /** True: a transition (store it, notify). False: the same state announced again (repeat_actions). */
  changed: boolean;
}

const COMPARATORS: Record<ComparisonOperator, (a: number, b: number) => boolean> = {
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  ge: (a, b) => a >= b,
  gt: (a, b) => a > b,
};

export function compare(op: ComparisonOperator, value: number, threshold: number): boolean {
  return COMPARATORS[op](value, threshold);
}

/** The window Aodh queries: `granularity x (evaluation_periods + 1)` seconds back from now (ms). */
export function evaluationWindow(rule: Pick<ThresholdRuleBase, 'granularity' | 'evaluation_periods'>, nowMs: number,
                                 ingestionLagSeconds = 0): { start: string; stop: string } {
  const seconds = rule.granularity * (rule.evaluation_periods + 1) + ingestionLagSeconds;
  return { start: new Date(nowMs - seconds * 1000).toISOString(), stop: new Date(nowMs).toISOString() };
}

/**
 * The values of the points at the rule's granularity, the last `evaluation_periods` of
 * them. Null when there is none (Aodh: "No datapoint for granularity").
 */
export function sanitize(rule: Pick<ThresholdRuleBase, 'granularity' | 'evaluation_periods'>, points: readonly Point[]): number[] | null {
  const values: number[] = [];
  for (const p of points) if (Number(p[1]) === rule.granularity) values.push(p[2]);
  if (values.length === 0) return null;
  return values.slice(-rule.evaluation_periods);
}

/** Evaluates a threshold rule over the points its source returned. */
export function evaluateThreshold(rule: ThresholdRuleBase, points: readonly Point[]): RuleEvaluation {
  const n = rule.evaluation_periods;
  const policy = rule.missing_data ?? 'insufficient';
  const statistics = sanitize(rule, points);
  if (statistics === null && policy === 'insufficient') {
    return { kind: 'unknown', reason: `No datapoint for granularity ${rule.granularity}`, statistics: [] };
  }
  const values = statistics ?? [];
  const missing = n - values.length;
  if (missing > 0 && policy === 'insufficient') {
    return { kind: 'unknown', reason: `${n} datapoints are unknown`, statistics: values };
  }
  // Periods without a point count as the oldest ones: the points that exist are the most
  // recent, and the "trend" follows the most recent point that exists.
  const compared: boolean[] = missing > 0 ? new Array<boolean>(missing).fill(policy === 'breaching') : [];
  for (const v of values) compared.push(compare(rule.comparison_operator, v, rule.threshold));
  let outside = 0;
  for (const c of compared) if (c) outside++;
  const base = { statistics: values, compared: compared.length, outside };
  if (rule.breaching_points !== undefined) {
    // M of N: at least M points outside alarm, fewer is ok; no trend to keep.
    return { kind: 'decided', state: outside >= rule.breaching_points ? 'alarm' : 'ok', ...base };
  }
  if (outside === compared.length) return { kind: 'decided', state: 'alarm', ...base };
  if (outside === 0) return { kind: 'decided', state: 'ok', ...base };
  return { kind: 'trending', trending: compared[compared.length - 1] ? 'alarm' : 'ok', ...base };
}

function formatMostRecent(v: number | null): string {
  return v === null ? 'None' : pyFloatRepr(v);
}

/** Aodh's reason for a threshold state and its reason_data. */
export function thresholdReason(previous: AlarmState, state: 'ok' | 'alarm', statistics: readonly number[],
                                compared: number, outside: number): { reason: string; reasonData: ThresholdReasonData } {
  const disposition = state === 'ok' ? 'inside' : 'outside';
  const count = state === 'ok' ? compared - outside : outside;
  const mostRecent = statistics.length > 0 ? statistics[statistics.length - 1] : null;
  const reasonData: ThresholdReasonData = { type: 'threshold', disposition, count, most_recent: mostRecent };
  const lead = previous !== state ? `Transition to ${state}` : `Remaining as ${state}`;
  return {
    reason: `${lead} due to ${count} samples ${disposition} threshold, most recent: ${formatMostRecent(mostRecent)}`,
    reasonData,
  };
}

/**
 * The state an evaluation leads to from the alarm's current one, as Aodh's threshold
 * evaluator decides it; null when nothing is to be recorded or announced.
 */
export function thresholdTransition(alarm: { state: AlarmState; repeat_actions: boolean },
                                    rule: Pick<ThresholdRuleBase, 'evaluation_periods'>,
                                    ev: RuleEvaluation): Decision<ThresholdReasonData> | null {
  const unknown = alarm.state === 'insufficient data';
  const continuous = alarm.repeat_actions;
  const decide = (state: AlarmState, reason: string, reasonData: ThresholdReasonData): Decision<ThresholdReasonData> | null => {
    if (state !== alarm.state) return { state, reason, reasonData, changed: true };
    return continuous ? { state, reason, reasonData, changed: false } : null;
  };
  switch (ev.kind) {
    case 'trending': {
      // A mix leaves ok and alarm alone; from insufficient data it follows the trend.
      if (!unknown && !continuous) return null;
      const state = unknown ? ev.trending : (alarm.state as 'ok' | 'alarm');
      const r = thresholdReason(alarm.state, state, ev.statistics, ev.compared, ev.outside);
      return decide(state, r.reason, r.reasonData);
    }
    case 'unknown': {
      // Insufficient data is announced once, never repeated.
      if (unknown) return null;
      const last = ev.statistics.length > 0 ? ev.statistics[ev.statistics.length - 1] : null;
      return {
        state: 'insufficient data', reason: ev.reason, changed: true,
        reasonData: { type: 'threshold', disposition: 'unknown', count: rule.evaluation_periods, most_recent: last },
      };
    }
    case 'decided': {
      const r = thresholdReason(alarm.state, ev.state, ev.statistics, ev.compared, ev.outside);
      return decide(ev.state, r.reason, r.reasonData);
    }
  }
}
