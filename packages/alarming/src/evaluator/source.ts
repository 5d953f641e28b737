// Where threshold rules get their points: Gnocchi's API (Tally's or Gnocchi's own, see
// gnocchi-source.ts) or, in tests and benchmarks, something in process. The three queries
// are those of Aodh's three Gnocchi rule types; a source reports why it has no points with
// the errors below, which the evaluator turns into Aodh's insufficient-data reasons.
import { pyRepr } from '@tally/timeseries';
import type {
  AggregationByMetricsThresholdRule, AggregationByResourcesThresholdRule, ResourcesThresholdRule,
} from '../model.js';
import type { Point } from './threshold.js';

export interface WindowQuery {
  /** The rule's aggregation method ("mean", "rate:mean"...). */
  aggregation: string;
  /** Seconds. */
  granularity: number;
  /** ISO 8601. */
  start: string;
  stop: string;
}

export interface MetricSource {
  /** Measures of the metric named `metric` of a resource. */
  resourceMeasures(q: WindowQuery & { resourceId: string; metric: string }): Promise<Point[]>;
  /** One series aggregating several metrics (by id) with `aggregation`. */
  metricsAggregate(q: WindowQuery & { metrics: string[] }): Promise<Point[]>;
  /** One series aggregating the metric named `metric` of the resources a search finds. */
  resourcesAggregate(q: WindowQuery & { resourceType: string; metric: string; search: unknown }): Promise<Point[]>;
}

/**
 * `source`, asking each distinct query once: the alarms of one round that ask the same
 * thing (alarms at several thresholds over one metric, composites sharing a leaf) share
 * its answer, so a round costs the metric store one query per distinct rule and window
 * rather than one per alarm. A failed query is forgotten, so a retry asks again. Answers
 * are shared: callers must not modify them.
 */
export function sharedQueries(source: MetricSource): MetricSource {
  const answers = new Map<string, Promise<Point[]>>();
  const once = (key: string, ask: () => Promise<Point[]>): Promise<Point[]> => {
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = ask();
      answers.set(key, answer);
      answer.catch(() => answers.delete(key));
    }
    return answer;
  };
  return {
    resourceMeasures: (q) => once(`r${JSON.stringify([q.resourceId, q.metric, q.aggregation, q.granularity, q.start, q.stop])}`, () => source.resourceMeasures(q)),
    metricsAggregate: (q) => once(`m${JSON.stringify([q.metrics, q.aggregation, q.granularity, q.start, q.stop])}`, () => source.metricsAggregate(q)),
    resourcesAggregate: (q) => once(`s${JSON.stringify([q.resourceType, q.metric, q.search, q.aggregation, q.granularity, q.start, q.stop])}`, () => source.resourcesAggregate(q)),
  };
}

/** What was not found, as Gnocchi's 404 answers tell them apart. */
export type NotFoundKind = 'metric' | 'resource' | 'other';

/** The source answered that something the rule names does not exist. */
export class SourceNotFoundError extends Error {
  constructor(readonly kind: NotFoundKind, message: string) {
    super(message);
    this.name = 'SourceNotFoundError';
  }
}

/** The source refused the query for good (bad input, no permission): retrying would not help. */
export class SourceRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceRefusedError';
  }
}

/** The source could not answer now (down, overloaded, timed out): worth retrying later. */
export class SourceUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SourceUnavailableError';
  }
}

/** The inner aggregation of a cross-metric aggregate: a rate is taken on the aggregate, over the plain method's series. */
export function innerAggregation(method: string): string {
  return method.startsWith('rate:') ? method.slice('rate:'.length) : method;
}

export type GnocchiRule =
  | { type: 'gnocchi_resources_threshold'; rule: ResourcesThresholdRule }
  | { type: 'gnocchi_aggregation_by_metrics_threshold'; rule: AggregationByMetricsThresholdRule }
  | { type: 'gnocchi_aggregation_by_resources_threshold'; rule: AggregationByResourcesThresholdRule };

/** Points of a rule, or Aodh's reason for having none. Transient failures are thrown (SourceUnavailableError). */
export type Statistics = { points: Point[] } | { unknown: string };

/**
 * Queries `source` for a rule over `window`. A missing metric, resource or aggregation and
 * a refused query give Aodh's insufficient-data reasons; SourceUnavailableError (and any
 * other error) propagates so that the caller retries or leaves the alarm as it is.
 */
export async function fetchStatistics(source: MetricSource, r: GnocchiRule, window: { start: string; stop: string }): Promise<Statistics> {
  const base = { aggregation: r.rule.aggregation_method, granularity: r.rule.granularity, ...window };
  try {
    switch (r.type) {
      case 'gnocchi_resources_threshold':
        return { points: await source.resourceMeasures({ ...base, resourceId: r.rule.resource_id, metric: r.rule.metric }) };
      case 'gnocchi_aggregation_by_metrics_threshold':
        return { points: await source.metricsAggregate({ ...base, metrics: r.rule.metrics }) };
      case 'gnocchi_aggregation_by_resources_threshold': {
        let search: unknown;
        try {
          search = JSON.parse(r.rule.query);
        } catch (err) {
          return { unknown: `alarm statistics retrieval failed: ${(err as Error).message}` };
        }
        return { points: await source.resourcesAggregate({ ...base, resourceType: r.rule.resource_type, metric: r.rule.metric, search }) };
      }
    }
  } catch (err) {
    if (err instanceof SourceNotFoundError) return { unknown: notFoundReason(r, err.kind) };
    if (err instanceof SourceRefusedError) return { unknown: `alarm statistics retrieval failed: ${err.message}` };
    throw err;
  }
}

/** Aodh's texts (spelling included) for a 404 by rule type and by what Gnocchi said was missing. */
function notFoundReason(r: GnocchiRule, kind: NotFoundKind): string {
  const agg = r.rule.aggregation_method;
  switch (r.type) {
    case 'gnocchi_resources_threshold':
      if (kind === 'metric') return `metric ${r.rule.metric} for resource ${r.rule.resource_id} does not exists`;
      if (kind === 'resource') return `resource ${r.rule.resource_id} does not exists`;
      return `aggregation ${agg} does not exist for metric ${r.rule.metric} of resource ${r.rule.resource_id}`;
    case 'gnocchi_aggregation_by_metrics_threshold':
      if (kind === 'metric') return `At least of metrics in ${pyRepr(r.rule.metrics)} does not exist`;
      return `aggregation ${agg} does not exist for at least one metrics in ${pyRepr(r.rule.metrics)}`;
    case 'gnocchi_aggregation_by_resources_threshold':
      if (kind === 'metric') return `metric ${r.rule.metric} does not exists`;
      return `aggregation ${agg} does not exist for at least one metric of the query`;
  }
}
