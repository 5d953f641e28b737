// The older cross-metric API: GET/POST /v1/aggregation/metric (metrics by id) and
// POST /v1/aggregation/resource/{type}/metric/{name} (one named metric of each resource a
// search finds). The query string and the metric lookups are here; the evaluation is
// domain/cross-metric.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidPagination, NoSuchMetric, NoSuchResourceType, parseUuid, type Metric } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest } from '../errors.js';
import { Invalid } from '../schema.js';
import type { RawBytes } from '@tally/timeseries';
import { queryResample, queryTimeZone } from '../read.js';
import { parseBool } from '../query.js';
import { metricTarget } from './metric.js';
import { commonArgs, first, resourcesUnavailable } from './aggregates.js';
import { labelledList } from './aggregates-json.js';
import { requestDeadline } from '../domain/deadline.js';
import { crossMetricSeries, planCrossMetric, type CrossArgs } from '../domain/cross-metric.js';
import type { AggregateResource, ResourceSearch } from '../domain/resource-search.js';
import type { Ctx } from '../context.js';
import { refreshMetrics } from '../domain/refresh.js';

type Query = Record<string, string | string[] | undefined>;

export interface AggregationOptions {
  resources?: ResourceSearch;
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

/** Gnocchi's get_cross_metric_measures_from_objs (domain/cross-metric.ts) with its query string. */
async function crossMetric(ctx: Ctx, req: FastifyRequest, metrics: Metric[]): Promise<RawBytes | unknown[]> {
  const a = crossArgs(req.query as Query);
  const identity = ctx.identity(req);
  for (const m of metrics) enforce('get metric', identity, metricTarget(m));
  if (metrics.length === 0) return [];
  resampleArgs(req.query as Query, a);
  const plan = await planCrossMetric(ctx, metrics, a);
  if (parseBool(req.query, 'refresh', false)) await refreshMetrics(ctx, metrics.map((m) => m.id));
  const deadline = requestDeadline(ctx);
  return labelledList(await crossMetricSeries(ctx, metrics, plan, a, deadline), a.zone, deadline);
}

// ------------------------------------------------------------ metric ids

function idsFromQuery(q: Query): string[] {
  const raw = q.metric === undefined ? [] : [q.metric].flat();
  return raw.map((v, i) => {
    const id = parseUuid(v);
    if (id === null) throw badRequest(`Invalid input: not a valid value @ data[${i}]`);
    return id;
  });
}

function idsFromBody(body: unknown): string[] {
  if (!Array.isArray(body)) throw new Invalid('expected a list').toHttp();
  return body.map((v, i) => {
    const id = typeof v === 'string' ? parseUuid(v) : null;
    if (id === null) throw new Invalid('not a valid value', [i]).toHttp();
    return id;
  });
}

async function metricsOr404(ctx: Ctx, ids: string[]): Promise<Metric[]> {
  const metrics = await ctx.indexer.getMetrics(ids);
  const found = new Set(metrics.map((m) => m.id));
  const missing = ids.find((id) => !found.has(id));
  if (missing !== undefined) throw new NoSuchMetric(missing);
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
  if (!(await search.typeExists(type))) throw new NoSuchResourceType(type);
  const q = req.query as Query;
  const groupby = [...new Set([q.groupby ?? []].flat())].sort();
  const identity = ctx.identity(req);
  enforce('list resource', identity);
  let resources: AggregateResource[];
  try {
    resources = await search.search(identity, type, searchFilter(req), groupby);
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
