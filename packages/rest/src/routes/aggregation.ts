// The older cross-metric API: GET/POST /v1/aggregation/metric (metrics by id) and
// POST /v1/aggregation/resource/{type}/metric/{name} (one named metric of each resource a
// search finds). One metric answers its own measures; several are re-aggregated into one
// series with Gnocchi's "aggregate" operation, checking overlap unless a fill is given.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  calendarBucket, lowerBound, readMeasures, AGGREGATE_METHODS, CalendarDeriveError, type CalendarSampling, type CalendarUnit,
  type Nanos, type OpNode, type TimeZone,
} from '@tally/timeseries';
import { InvalidPagination, type Metric } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { HttpError, badRequest } from '../errors.js';
import { Invalid } from '../schema.js';
import { pyFloat, Raw } from '../pyjson.js';
import { granularitySeconds, queryResample, queryTimeZone, samplingOf } from '../read.js';
import { parseBool } from './root.js';
import { metricTarget } from './metric.js';
import {
  aggregatedItems, canonicalUuid, commonArgs, first, measuresFor, policiesOf, resourcesUnavailable, triples,
  type AggregateResource, type CommonArgs, type Ref, type ResourceSearch,
} from './aggregates.js';
import type { Ctx } from '../context.js';

type Query = Record<string, string | string[] | undefined>;

export interface AggregationOptions {
  resources?: ResourceSearch;
}

const rawList = (items: string[]): Raw => new Raw('[' + items.join(', ') + ']');

function notFoundAggregation(method: string, g: Nanos, metricId: string): HttpError {
  return new HttpError(404, `Aggregation method '${method}' at granularity '${pyFloat(granularitySeconds(g))}' for metric ${metricId} does not exist`);
}

interface CrossArgs extends CommonArgs {
  aggregation: string;
  reaggregation: string;
  resample?: Nanos | CalendarUnit;
  /** `timezone=` (Tally extension): calendar groupings and answered timestamps use it. */
  zone: TimeZone;
}

function crossArgs(q: Query): CrossArgs {
  const args = commonArgs(q, 100.0);
  const aggregation = first(q.aggregation) ?? 'mean';
  const reaggregation = first(q.reaggregation) ?? aggregation;
  return { ...args, aggregation, reaggregation, zone: queryTimeZone(first(q.timezone)) };
}

/** Checked only once there are metrics, as Gnocchi does. */
function resampleArgs(q: Query, a: CrossArgs): void {
  const text = first(q.resample);
  if (!text) return;
  if (!a.granularities) throw badRequest('A granularity must be specified to resample');
  a.resample = queryResample(text);
}

function calendarOf(a: CrossArgs): CalendarSampling | undefined {
  return typeof a.resample === 'string' ? { unit: a.resample, zone: a.zone } : undefined;
}

async function oneMetric(ctx: Ctx, m: Metric, granularities: Nanos[], a: CrossArgs): Promise<string[]> {
  const ap = (await policiesOf(ctx, [m])).get(m.archivePolicyName)!;
  if (!ap.aggregationMethods.includes(a.aggregation)) {
    throw new HttpError(404, { cause: 'Aggregation method does not exist for this metric', detail: { metric: m.id, aggregation_method: a.aggregation } });
  }
  const rec = await ctx.storage.read(m.id);
  const items: string[] = [];
  for (const g of [...granularities].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0))) {
    let r;
    try {
      r = await readMeasures(ap, rec.state, { aggregation: a.aggregation, granularity: g, start: a.start, stop: a.stop, resample: samplingOf(a.resample, a.zone) },
        (key) => ctx.storage.readSplit(m.id, key));
    } catch (e) {
      if (e instanceof CalendarDeriveError) throw badRequest(e.message);
      throw e;
    }
    triples(items, { ts: r.ts, values: r.values }, a.resample ?? g, a.zone);
  }
  return items;
}

function reaggregationOperations(metrics: Metric[], a: CrossArgs): OpNode {
  if (!AGGREGATE_METHODS.includes(a.reaggregation)) {
    throw badRequest({ cause: 'Invalid reaggregation', reason: `'${a.reaggregation}' is not an aggregation method of aggregate`, detail: a.reaggregation });
  }
  let arg: OpNode = { kind: 'metric', refs: metrics.map((m) => [m.id, a.aggregation] as const), list: true, text: '' };
  const calendar = calendarOf(a);
  if (calendar !== undefined) {
    if (a.aggregation.startsWith('rate:')) throw badRequest(new CalendarDeriveError().message);
    arg = { kind: 'resample', method: a.aggregation, sampling: 0n, calendar, arg, text: '' };
  } else if (a.resample !== undefined) {
    arg = { kind: 'resample', method: a.aggregation, sampling: a.resample as Nanos, arg, text: '' };
  }
  return { kind: 'aggregate', method: a.reaggregation, arg, text: '' };
}

/** Gnocchi's get_cross_metric_measures_from_objs. */
async function crossMetric(ctx: Ctx, req: FastifyRequest, metrics: Metric[]): Promise<Raw | unknown[]> {
  const a = crossArgs(req.query as Query);
  const identity = ctx.identity(req);
  for (const m of metrics) enforce('get metric', identity, metricTarget(m));
  if (metrics.length === 0) return [];
  resampleArgs(req.query as Query, a);
  const aps = await policiesOf(ctx, metrics);
  const granularities = a.granularities ?? commonGranularities(metrics, aps, a.aggregation);
  for (const m of metrics) {
    const ap = aps.get(m.archivePolicyName)!;
    const g = granularities.find((x) => !ap.definition.some((d) => d.granularity === x));
    if (g !== undefined) throw notFoundAggregation(a.aggregation, g, m.id);
  }
  if (parseBool(req.query, 'refresh', false)) for (const m of metrics) await ctx.processor.refreshMetric(m.id);
  if (metrics.length === 1) return rawList(await oneMetric(ctx, metrics[0], granularities, a));
  for (const m of metrics) {
    const ap = aps.get(m.archivePolicyName)!;
    if (!ap.aggregationMethods.includes(a.aggregation)) throw notFoundAggregation(a.aggregation, ap.definition[0].granularity, m.id);
  }
  const refs = metrics.map((m): Ref => ({ metric: m, aggregation: a.aggregation, name: m.id, lookup: [m.id, a.aggregation] }));
  const op = reaggregationOperations(metrics, a);
  const calendar = calendarOf(a);
  if (calendar === undefined) return rawList(aggregatedItems((await measuresFor(ctx, refs, op, { ...a, granularities })).result, a.zone));
  // By calendar: read whole buckets, answer those starting in [bucket of start, stop).
  const from = a.start === undefined ? undefined : calendarBucket(a.start, calendar).start;
  const to = a.stop === undefined ? undefined : calendarBucket(a.stop, calendar).next;
  const { result } = await measuresFor(ctx, refs, op, { ...a, start: from, stop: to, granularities });
  for (const grp of result.groups) {
    grp.series = grp.series.map((s) => {
      const lo = from === undefined ? 0 : lowerBound(s.ts, from);
      const hi = a.stop === undefined ? s.ts.length : lowerBound(s.ts, a.stop);
      return { ts: s.ts.subarray(lo, Math.max(lo, hi)), values: s.values.subarray(lo, Math.max(lo, hi)) };
    });
  }
  return rawList(aggregatedItems(result, a.zone));
}

function commonGranularities(metrics: Metric[], aps: Awaited<ReturnType<typeof policiesOf>>, aggregation: string): Nanos[] {
  const counts = new Map<Nanos, number>();
  for (const m of metrics) for (const d of aps.get(m.archivePolicyName)!.definition) counts.set(d.granularity, (counts.get(d.granularity) ?? 0) + 1);
  const common = [...counts].filter(([, n]) => n === metrics.length).map(([g]) => g);
  if (common.length === 0) {
    throw new HttpError(400, { cause: "Metrics can't being aggregated", reason: 'No granularity match', detail: metrics.map((m) => [m.id, aggregation]) });
  }
  return common;
}

// ------------------------------------------------------------ metric ids

function idsFromQuery(q: Query): string[] {
  const raw = q.metric === undefined ? [] : [q.metric].flat();
  return raw.map((v, i) => {
    const id = canonicalUuid(v);
    if (id === null) throw badRequest(`Invalid input: not a valid value @ data[${i}]`);
    return id;
  });
}

function idsFromBody(body: unknown): string[] {
  if (!Array.isArray(body)) throw new Invalid('expected a list').toHttp();
  return body.map((v, i) => {
    const id = typeof v === 'string' ? canonicalUuid(v) : null;
    if (id === null) throw new Invalid('not a valid value', [i]).toHttp();
    return id;
  });
}

async function metricsOr404(ctx: Ctx, ids: string[]): Promise<Metric[]> {
  const metrics = await ctx.indexer.getMetrics(ids);
  const found = new Set(metrics.map((m) => m.id));
  const missing = ids.find((id) => !found.has(id));
  if (missing !== undefined) throw new HttpError(404, `Metric ${missing} does not exist`);
  return metrics;
}

// ------------------------------------------------------------ resources

/** The search the older API does: the JSON body, else the `filter` query argument. */
function searchFilter(req: FastifyRequest): unknown {
  const raw = req.body;
  const hasBody = (Buffer.isBuffer(raw) && raw.length > 0) || (typeof raw === 'string' && raw.length > 0);
  if (hasBody) return jsonBody(req);
  return first((req.query as Query).filter) ?? null;
}

async function byResources(ctx: Ctx, req: FastifyRequest, search: ResourceSearch | undefined): Promise<unknown> {
  if (search === undefined) throw resourcesUnavailable();
  const { type, name } = req.params as { type: string; name: string };
  if (!(await search.typeExists(type))) throw new HttpError(404, `Resource type ${type} does not exist`);
  const q = req.query as Query;
  const groupby = [...new Set([q.groupby ?? []].flat())].sort();
  let resources: AggregateResource[];
  try {
    resources = await search.search(req, type, searchFilter(req), groupby);
  } catch (e) {
    if (e instanceof InvalidPagination) throw badRequest('Invalid groupby attribute');
    throw e;
  }
  const metricsOf = (rs: typeof resources): Metric[] =>
    rs.flatMap((r) => r.metrics.filter((x) => x.name === name).slice(0, 1).map((x) => x.metric));
  if (groupby.length === 0) return crossMetric(ctx, req, metricsOf(resources));
  const results: unknown[] = [];
  let at = 0;
  const keyOf = (i: number): string => JSON.stringify(groupby.map((g) => resources[i].json[g] ?? null));
  while (at < resources.length) {
    let end = at;
    while (end < resources.length && keyOf(end) === keyOf(at)) end++;
    const group = Object.fromEntries(groupby.map((g) => [g, resources[at].json[g] ?? null]));
    results.push({ group, measures: await crossMetric(ctx, req, metricsOf(resources.slice(at, end))) });
    at = end;
  }
  return results;
}

// ------------------------------------------------------------ routes

export function aggregationRoutes(app: FastifyInstance, ctx: Ctx, opts: AggregationOptions = {}): void {
  route(app, '/v1/aggregation/metric', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      const metrics = await metricsOr404(ctx, idsFromQuery(req.query as Query));
      return send(reply, 200, await crossMetric(ctx, req, metrics));
    },
    POST: async (req, reply) => {
      checkAcceptJson(req);
      const metrics = await metricsOr404(ctx, idsFromBody(jsonBody(req)));
      return send(reply, 200, await crossMetric(ctx, req, metrics));
    },
  });
  route(app, '/v1/aggregation/resource/:type/metric/:name', {
    POST: async (req, reply) => {
      checkAcceptJson(req);
      return send(reply, 200, await byResources(ctx, req, opts.resources));
    },
  });
  // Gnocchi answers 405 when the metric name is missing.
  route(app, '/v1/aggregation/resource/:type/metric', {});
}
