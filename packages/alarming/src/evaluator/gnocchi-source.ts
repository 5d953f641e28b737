// MetricSource over Gnocchi's REST API v1, through @tally/client: works against Tally and
// against Gnocchi 4.4.2 itself.
import { GnocchiApiError, GnocchiTransportError, type GnocchiClient, type Measure, type Operations, type ResourceFilter } from '@tally/client';
import { pyStr } from '@tally/timeseries';
import {
  innerAggregation, SourceNotFoundError, SourceRefusedError, SourceUnavailableError, type MetricSource, type WindowQuery,
} from './source.js';
import type { Point } from './threshold.js';

export class GnocchiMetricSource implements MetricSource {
  /**
   * `client` should not retry much by itself (e.g. `retry: false`): the evaluator retries
   * a failed alarm with its own backoff, bounded by its interval.
   */
  constructor(readonly client: GnocchiClient) {}

  async resourceMeasures(q: WindowQuery & { resourceId: string; metric: string }): Promise<Point[]> {
    // Aodh reads through the generic type, which finds a resource whatever its type.
    return call(() => this.client.resource.measures('generic', q.resourceId, q.metric, {
      aggregation: q.aggregation, granularity: q.granularity, start: q.start, stop: q.stop,
    }));
  }

  async metricsAggregate(q: WindowQuery & { metrics: string[] }): Promise<Point[]> {
    // Aodh 15 sends ["aggregate", m, ["metric", id1, m], ["metric", id2, m], ...], which
    // Gnocchi 4.4.2 refuses as soon as there are two metrics ("'aggregate' operation
    // invalid"). The pairs form of "metric" names them all in one operand and is accepted
    // for one metric or many.
    const inner = innerAggregation(q.aggregation);
    const operations: Operations = ['aggregate', q.aggregation, ['metric', ...q.metrics.map((id) => [id, inner])]];
    const res = await call(() => this.client.aggregates.metrics(operations, {
      granularity: q.granularity, start: q.start, stop: q.stop, needed_overlap: 0,
    }));
    return aggregated(res.measures);
  }

  async resourcesAggregate(q: WindowQuery & { resourceType: string; metric: string; search: unknown }): Promise<Point[]> {
    const operations: Operations = ['aggregate', q.aggregation, ['metric', q.metric, innerAggregation(q.aggregation)]];
    const res = await call(() => this.client.aggregates.resources(operations, q.resourceType, q.search as ResourceFilter, {
      granularity: q.granularity, start: q.start, stop: q.stop, needed_overlap: 0,
    }));
    return aggregated(res.measures);
  }
}

function aggregated(measures: unknown): Point[] {
  const m = measures as { aggregated?: Measure[] } | null;
  return Array.isArray(m?.aggregated) ? m.aggregated : [];
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw sourceError(err);
  }
}

/**
 * A client error as a source error. 404s are told apart as gnocchiclient (and so Aodh)
 * does: by the start of a text description. Other refusals carry the text gnocchiclient's
 * exception prints, which Aodh puts in its reason.
 */
export function sourceError(err: unknown): Error {
  if (err instanceof GnocchiTransportError) return new SourceUnavailableError(err.message, { cause: err });
  if (!(err instanceof GnocchiApiError)) return err instanceof Error ? err : new Error(String(err));
  if (err.status >= 500 || err.status === 429 || err.status === 408) return new SourceUnavailableError(err.message, { cause: err });
  const text = pyStr(err.description) || err.title;
  if (err.status === 404) {
    const d = typeof err.description === 'string' ? err.description : '';
    if (/^Metric .* does not exist/.test(d)) return new SourceNotFoundError('metric', text);
    if (/^Resource type .* does not exist/.test(d)) return new SourceNotFoundError('other', text);
    if (/^Resource .* does not exist/.test(d)) return new SourceNotFoundError('resource', text);
    return new SourceNotFoundError('other', text);
  }
  return new SourceRefusedError(`${text} (HTTP ${err.status})`);
}
