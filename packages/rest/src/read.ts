// GET .../measures: query arguments, refresh, and the columnar result written as JSON in
// one pass (no per-point objects between storage and the socket).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseTimestamp, parseTimespan, formatTimestamp, readMeasures, type ArchivePolicy, type Nanos } from '@tally/timeseries';
import type { Metric } from '@tally/indexer';
import { HttpError, argumentError, badRequest } from './errors.js';
import { pyFloat } from './pyjson.js';
import { parseBool } from './routes/root.js';
import type { Ctx } from './context.js';

type Query = Record<string, string | undefined>;

export function queryTime(q: Query, name: 'start' | 'stop'): Nanos | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  try {
    return parseTimestamp(v);
  } catch {
    throw new HttpError(400, { cause: 'Argument value error', detail: name, reason: 'Must be a datetime or a timestamp' });
  }
}

export function queryGranularity(v: string | undefined): Nanos | undefined {
  if (v === undefined) return undefined;
  try {
    return parseTimespan(v);
  } catch (e) {
    throw argumentError(e instanceof Error ? e.message : String(e), 'granularity');
  }
}

/** Gnocchi prints granularities as Python floats of seconds: 1.0, 3.6, 42.0. */
export function granularitySeconds(g: Nanos): number {
  return Number(g) / 1e9;
}

export function measuresJson(r: { ts: BigInt64Array; granularity: BigInt64Array; values: Float64Array }): string {
  const parts: string[] = new Array<string>(r.ts.length);
  let lastG = -1n;
  let gText = '';
  for (let i = 0; i < r.ts.length; i++) {
    const g = r.granularity[i];
    if (g !== lastG) {
      lastG = g;
      gText = pyFloat(granularitySeconds(g));
    }
    parts[i] = `["${formatTimestamp(r.ts[i])}", ${gText}, ${pyFloat(r.values[i])}]`;
  }
  return '[' + parts.join(', ') + ']';
}

function checkAggregation(m: Metric, ap: ArchivePolicy, aggregation: string, granularity: Nanos | undefined): void {
  if (!ap.aggregationMethods.includes(aggregation)) {
    throw new HttpError(404, {
      cause: 'Aggregation method does not exist for this metric',
      detail: { metric: m.id, aggregation_method: aggregation },
    });
  }
  if (granularity !== undefined && !ap.definition.some((d) => d.granularity === granularity)) {
    throw new HttpError(404, `Aggregation method '${aggregation}' at granularity '${pyFloat(granularitySeconds(granularity))}' for metric ${m.id} does not exist`);
  }
}

export async function readMeasuresReply(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: Metric): Promise<FastifyReply> {
  const q = req.query as Query;
  const aggregation = q.aggregation ?? 'mean';
  let resample: Nanos | undefined;
  if (q.resample !== undefined) {
    if (q.granularity === undefined) throw badRequest('A granularity must be specified to resample');
    try {
      resample = parseTimespan(q.resample);
    } catch (e) {
      throw badRequest(e instanceof Error ? e.message : String(e));
    }
  }
  const start = queryTime(q, 'start');
  const stop = queryTime(q, 'stop');
  const granularity = queryGranularity(q.granularity);
  const ap = await ctx.indexer.getArchivePolicy(m.archivePolicyName);
  if (!ap) throw new HttpError(404, `Archive policy ${m.archivePolicyName} does not exist`);
  checkAggregation(m, ap, aggregation, granularity);
  if (parseBool(q, 'refresh', false)) await ctx.processor.refreshMetric(m.id);
  const rec = await ctx.storage.read(m.id);
  const result = await readMeasures(ap, rec.state, { aggregation, granularity, start, stop, resample }, (key) => ctx.storage.readSplit(m.id, key));
  return reply.code(200).header('content-type', 'application/json').send(measuresJson(result));
}
