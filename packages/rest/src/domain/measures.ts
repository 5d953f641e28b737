// Reading one metric's measures: the checks Gnocchi makes first (its archive policy keeps
// the aggregation method, and the granularity when one is asked for), then the engine.
import { readMeasures, type ArchivePolicy, type Nanos, type ReadQuery, type ReadResult } from '@tally/timeseries';
import type { Metric } from '@tally/indexer';
import type { MetricSnapshot } from '@tally/storage';
import { AggregationMethodMissing, ArchivePolicyMissing, GranularityMissing } from './errors.js';
import type { Services } from './services.js';
import { requestDeadline, type Deadline } from './deadline.js';

/** Archive policies of `metrics`, by name. */
export async function policiesOf(s: Pick<Services, 'indexer'>, metrics: Metric[]): Promise<Map<string, ArchivePolicy>> {
  const out = new Map<string, ArchivePolicy>();
  for (const name of new Set(metrics.map((m) => m.archivePolicyName))) {
    const ap = await s.indexer.getArchivePolicy(name);
    if (!ap) throw new ArchivePolicyMissing(name);
    out.set(name, ap);
  }
  return out;
}

export function checkAggregation(m: Metric, ap: ArchivePolicy, aggregation: string, granularity: Nanos | undefined): void {
  if (!ap.aggregationMethods.includes(aggregation)) throw new AggregationMethodMissing(m.id, aggregation);
  if (granularity !== undefined && !ap.definition.some((d) => d.granularity === granularity)) {
    throw new GranularityMissing(m.id, aggregation, granularity);
  }
}

/** The archive policy of `m`, checked to keep `aggregation` (at `granularity` when given). */
export async function checkedPolicy(s: Pick<Services, 'indexer'>, m: Metric, aggregation: string, granularity: Nanos | undefined): Promise<ArchivePolicy> {
  const ap = (await policiesOf(s, [m])).get(m.archivePolicyName) as ArchivePolicy;
  checkAggregation(m, ap, aggregation, granularity);
  return ap;
}

/**
 * One metric's points for `query` (the engine's CalendarDeriveError passes through). The
 * engine asks for the series' splits one by one: between two, the request gives the event
 * loop back when it has held it a while, and stops past `deadline` (DeadlineExceeded). The
 * points read count towards the request's bound (AnswerTooLarge), checked before anything
 * is computed from them or written. `record`: the metric as already read by the caller
 * (a caller reading several granularities of one metric reads it once).
 */
export async function metricMeasures(
  s: Pick<Services, 'storage' | 'requestDeadlineMs' | 'maxAnswerPoints'>, m: Metric, ap: ArchivePolicy, query: ReadQuery,
  deadline: Deadline = requestDeadline(s), record?: MetricSnapshot,
): Promise<ReadResult> {
  // The splits are read from the record's commit: one lookup of the metric for the read.
  const rec = record ?? await s.storage.read(m.id);
  const result = await readMeasures(ap, rec.state, query, async (key) => {
    await deadline.pause();
    return rec.readSplit(key);
  });
  deadline.check();
  deadline.read(result.ts.length);
  return result;
}
