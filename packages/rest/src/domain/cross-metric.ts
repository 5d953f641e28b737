// Gnocchi's get_cross_metric_measures_from_objs, behind the older /v1/aggregation API: one
// metric answers its own measures; several are re-aggregated into one series with the
// "aggregate" operation (checking overlap unless a fill is given), resampled first when
// asked, by calendar in a time zone when the resampling is a calendar grouping.
import {
  calendarBucket, lowerBound, AGGREGATE_METHODS, CalendarDeriveError, type ArchivePolicy, type CalendarSampling,
  type CalendarUnit, type Nanos, type OpNode, type Series, type TimeZone,
} from '@tally/timeseries';
import type { Metric } from '@tally/indexer';
import { measuresFor, type CommonArgs, type Ref } from './aggregates.js';
import { metricMeasures, policiesOf } from './measures.js';
import { requestDeadline, type Deadline } from './deadline.js';
import { AggregationMethodMissing, GranularityMissing, InvalidReaggregation, NoGranularityMatch } from './errors.js';
import type { Services } from './services.js';

type ReadServices = Pick<Services, 'indexer' | 'storage' | 'requestDeadlineMs' | 'maxAnswerPoints'>;

export interface CrossArgs extends CommonArgs {
  aggregation: string;
  reaggregation: string;
  resample?: Nanos | CalendarUnit;
  /** `timezone=` (Tally extension): calendar groupings and answered timestamps use it. */
  zone: TimeZone;
}

/** One answered series and what Gnocchi labels its points with (granularity or calendar grouping). */
export interface LabelledSeries {
  label: Nanos | CalendarUnit;
  series: Series;
}

function calendarOf(a: CrossArgs): CalendarSampling | undefined {
  return typeof a.resample === 'string' ? { unit: a.resample, zone: a.zone } : undefined;
}

function samplingOf(a: CrossArgs): Nanos | CalendarSampling | undefined {
  return calendarOf(a) ?? (a.resample as Nanos | undefined);
}

function commonGranularities(metrics: Metric[], aps: Map<string, ArchivePolicy>, aggregation: string): Nanos[] {
  const counts = new Map<Nanos, number>();
  for (const m of metrics) for (const d of aps.get(m.archivePolicyName)!.definition) counts.set(d.granularity, (counts.get(d.granularity) ?? 0) + 1);
  const common = [...counts].filter(([, n]) => n === metrics.length).map(([g]) => g);
  if (common.length === 0) throw new NoGranularityMatch(metrics.map((m) => [m.id, aggregation]));
  return common;
}

export interface CrossPlan {
  aps: Map<string, ArchivePolicy>;
  granularities: Nanos[];
}

/** The granularities to read (asked for, else those all metrics share), checked against every metric. */
export async function planCrossMetric(s: Pick<Services, 'indexer'>, metrics: Metric[], a: CrossArgs): Promise<CrossPlan> {
  const aps = await policiesOf(s, metrics);
  const granularities = a.granularities ?? commonGranularities(metrics, aps, a.aggregation);
  for (const m of metrics) {
    const ap = aps.get(m.archivePolicyName)!;
    const g = granularities.find((x) => !ap.definition.some((d) => d.granularity === x));
    if (g !== undefined) throw new GranularityMissing(m.id, a.aggregation, g);
  }
  return { aps, granularities };
}

async function oneMetric(s: ReadServices, m: Metric, ap: ArchivePolicy, granularities: Nanos[], a: CrossArgs, deadline: Deadline): Promise<LabelledSeries[]> {
  if (!ap.aggregationMethods.includes(a.aggregation)) throw new AggregationMethodMissing(m.id, a.aggregation);
  const out: LabelledSeries[] = [];
  for (const g of [...granularities].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0))) {
    const r = await metricMeasures(s, m, ap, { aggregation: a.aggregation, granularity: g, start: a.start, stop: a.stop, resample: samplingOf(a) }, deadline);
    out.push({ label: a.resample ?? g, series: { ts: r.ts, values: r.values } });
  }
  return out;
}

function reaggregationOperations(metrics: Metric[], a: CrossArgs): OpNode {
  if (!AGGREGATE_METHODS.includes(a.reaggregation)) throw new InvalidReaggregation(a.reaggregation);
  let arg: OpNode = { kind: 'metric', refs: metrics.map((m) => [m.id, a.aggregation] as const), list: true, text: '' };
  const calendar = calendarOf(a);
  if (calendar !== undefined) {
    if (a.aggregation.startsWith('rate:')) throw new CalendarDeriveError();
    arg = { kind: 'resample', method: a.aggregation, sampling: 0n, calendar, arg, text: '' };
  } else if (a.resample !== undefined) {
    arg = { kind: 'resample', method: a.aggregation, sampling: a.resample as Nanos, arg, text: '' };
  }
  return { kind: 'aggregate', method: a.reaggregation, arg, text: '' };
}

/**
 * The answered series of `metrics` (non-empty) once planned (and refreshed when asked).
 * Reads share the loop and count towards the request's bounds, `deadline` (the request's).
 */
export async function crossMetricSeries(
  s: ReadServices, metrics: Metric[], plan: CrossPlan, a: CrossArgs, deadline: Deadline = requestDeadline(s),
): Promise<LabelledSeries[]> {
  const { aps, granularities } = plan;
  if (metrics.length === 1) return oneMetric(s, metrics[0], aps.get(metrics[0].archivePolicyName)!, granularities, a, deadline);
  for (const m of metrics) {
    const ap = aps.get(m.archivePolicyName)!;
    if (!ap.aggregationMethods.includes(a.aggregation)) throw new GranularityMissing(m.id, a.aggregation, ap.definition[0].granularity);
  }
  const refs = metrics.map((m): Ref => ({ metric: m, aggregation: a.aggregation, name: m.id, lookup: [m.id, a.aggregation] }));
  const op = reaggregationOperations(metrics, a);
  const calendar = calendarOf(a);
  const labelled = (groups: { series: Series[]; calendar?: CalendarUnit; granularity: Nanos }[]): LabelledSeries[] =>
    groups.map((grp) => ({ label: grp.calendar ?? grp.granularity, series: grp.series[0] }));
  if (calendar === undefined) return labelled((await measuresFor(s, refs, op, { ...a, granularities }, deadline)).result.groups);
  // By calendar: read whole buckets, answer those starting in [bucket of start, stop).
  const from = a.start === undefined ? undefined : calendarBucket(a.start, calendar).start;
  const to = a.stop === undefined ? undefined : calendarBucket(a.stop, calendar).next;
  const { result } = await measuresFor(s, refs, op, { ...a, start: from, stop: to, granularities }, deadline);
  for (const grp of result.groups) {
    grp.series = grp.series.map((x) => {
      const lo = from === undefined ? 0 : lowerBound(x.ts, from);
      const hi = a.stop === undefined ? x.ts.length : lowerBound(x.ts, a.stop);
      return { ts: x.ts.subarray(lo, Math.max(lo, hi)), values: x.values.subarray(lo, Math.max(lo, hi)) };
    });
  }
  return labelled(result.groups);
}
