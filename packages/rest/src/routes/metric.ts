// /v1/metric, /v1/metric/{id}/measures and /v1/batch/metrics/measures.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ArchivePolicy, Measures } from '@tally/timeseries';
import { parseUuid, resourceUuid, NamedMetricAlreadyExists, type Metric, type MetricFilter } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody, jsonBytes } from '../http.js';
import { fastBatchMeasures, fastMeasuresList } from '../ingest/measures-json.js';
import { enforce, allowed, listsFilteredByProject, type Identity } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { object, opt, str, strLen, validate, Invalid, type Validator } from '../schema.js';
import { parseMeasures, MeasuresError } from '../measures.js';
import { readMeasuresReply } from '../read.js';
import { policyJson } from './archive-policy.js';
import { listArgs, nextLink } from '../paging.js';
import type { Ctx } from '../context.js';
import { resourceJson } from '../resources/json.js';
import { choosePolicy } from '../domain/metric-policy.js';

const metricName: Validator<string> = (v) => {
  const s = str(v);
  if (s.includes('/')) throw new Invalid("'/' is not supported in metric name");
  return s;
};

export const metricSchema = object({
  archive_policy_name: opt(str),
  name: opt(metricName),
  unit: opt(strLen({ max: 31 })),
  resource_id: opt(str),
});

/** Creation answer (Gnocchi returns the policy by name here, and in full on GET). */
export function metricCreatedJson(m: Metric): Record<string, unknown> {
  return {
    id: m.id, creator: m.creator, name: m.name, unit: m.unit, resource_id: m.resourceId,
    archive_policy_name: m.archivePolicyName, created_by_user_id: m.createdByUserId, created_by_project_id: m.createdByProjectId,
  };
}

export function metricJson(m: Metric, ap: ArchivePolicy | undefined, resource?: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: m.id, creator: m.creator, name: m.name, unit: m.unit,
  };
  if (resource !== undefined) out.resource = resource;
  else out.resource_id = m.resourceId;
  out.archive_policy = ap ? policyJson(ap) : null;
  out.created_by_user_id = m.createdByUserId;
  out.created_by_project_id = m.createdByProjectId;
  return out;
}

export async function getMetricOr404(ctx: Ctx, id: string): Promise<Metric> {
  const uuid = parseUuid(id);
  const [m] = uuid ? await ctx.indexer.getMetrics([uuid]) : [];
  if (!m) throw new HttpError(404, `Metric ${id} does not exist`);
  return m;
}

export function metricTarget(m: Metric, resourceProjectId?: string | null): Record<string, string | null | undefined> {
  return { creator: m.creator, createdByProjectId: m.createdByProjectId, resourceProjectId };
}

/** Parses a measures body into columnar form with Gnocchi's 400s. */
export function measuresBody(body: unknown): Measures {
  try {
    return parseMeasures(body);
  } catch (e) {
    if (e instanceof MeasuresError) throw e.toHttp();
    throw e;
  }
}

function listFilter(ctx: Ctx, id: Identity): MetricFilter {
  // Gnocchi's basic and remote-user modes carry no project: nothing to filter on.
  if (allowed('list all metric', id) || !listsFilteredByProject(ctx.cfg.authMode)) return {};
  return id.projectId ? { createdByProjectId: id.projectId } : { creator: id.creator };
}

/** Query argument -> indexer filter field. */
const METRIC_FILTERS: Record<string, keyof MetricFilter> = {
  id: 'id', name: 'name', unit: 'unit', archive_policy_name: 'archivePolicyName', creator: 'creator',
  resource_id: 'resourceId', user_id: 'createdByUserId', project_id: 'createdByProjectId',
  created_by_user_id: 'createdByUserId', created_by_project_id: 'createdByProjectId',
};

async function listMetrics(ctx: Ctx, req: FastifyRequest): Promise<{ metrics: Metric[]; link?: string }> {
  const id = ctx.identity(req);
  enforce('list metric', id);
  const q = req.query as Record<string, string | string[]>;
  const args = listArgs(q, ctx.cfg.maxLimit);
  const filters: MetricFilter = {};
  for (const [arg, field] of Object.entries(METRIC_FILTERS)) {
    const v = q[arg];
    if (v !== undefined) filters[field] = Array.isArray(v) ? v : v;
  }
  Object.assign(filters, listFilter(ctx, id));
  const status = q.status === 'delete' ? 'delete' : 'active';
  const metrics = await ctx.indexer.listMetrics({ status, filters, sort: args.sort, limit: args.limit, marker: args.marker });
  const link = metrics.length >= args.limit ? nextLink(`${ctx.base(req)}/v1/metric`, q, args, metrics[metrics.length - 1].id) : undefined;
  return { metrics, link };
}

async function policiesByName(ctx: Ctx): Promise<Map<string, ArchivePolicy>> {
  return new Map((await ctx.indexer.listArchivePolicies()).map((p) => [p.name, p]));
}

function metricCollection(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/metric', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      const { metrics, link } = await listMetrics(ctx, req);
      const aps = await policiesByName(ctx);
      if (link) reply.header('link', link);
      return send(reply, 200, metrics.map((m) => metricJson(m, aps.get(m.archivePolicyName))));
    },
    POST: async (req, reply) => {
      const id = ctx.identity(req);
      enforce('create metric', id);
      checkAcceptJson(req);
      const body = validate(metricSchema, jsonBody(req));
      const ap = await choosePolicy(ctx, body.archive_policy_name, body.name);
      let resourceId: string | null = null;
      if (body.resource_id !== undefined) {
        try {
          resourceId = resourceUuid(body.resource_id, id.creator);
        } catch (e) {
          throw new Invalid(e instanceof Error ? e.message : String(e), ['resource_id'], true).toHttp();
        }
        if (body.name === undefined) {
          throw badRequest({ cause: 'Attribute value error', detail: 'name', reason: 'Name cannot be null if resource_id is not null' });
        }
        if (!(await ctx.indexer.getResource('generic', resourceId))) throw badRequest(`Resource ${resourceId} does not exist`);
      }
      let m: Metric;
      try {
        m = await ctx.indexer.createMetric({
          id: randomUUID(), archivePolicyName: ap.name, name: body.name ?? null, unit: body.unit ?? null,
          resourceId, creator: id.creator,
        });
      } catch (e) {
        if (e instanceof NamedMetricAlreadyExists) throw badRequest({ cause: 'Named metric already exists', detail: body.name });
        throw e;
      }
      reply.header('location', `${ctx.base(req)}/v1/metric/${m.id}`);
      return send(reply, 201, metricCreatedJson(m));
    },
  });
}

/** GET of one metric, with its resource and archive policy in full (Gnocchi's details). */
export async function showMetric(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: Metric): Promise<FastifyReply> {
  checkAcceptJson(req);
  const resource = m.resourceId ? await ctx.indexer.getResource('generic', m.resourceId) : null;
  enforce('get metric', ctx.identity(req), metricTarget(m, resource?.projectId));
  const ap = await ctx.indexer.getArchivePolicy(m.archivePolicyName);
  // Gnocchi shows the metric's resource without its metrics (the relation is not loaded).
  const shown = resource ? resourceJson(resource) : null;
  if (shown) delete shown.metrics;
  return send(reply, 200, metricJson(m, ap ?? undefined, shown));
}

export async function deleteMetric(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: Metric): Promise<FastifyReply> {
  enforce('delete metric', ctx.identity(req), metricTarget(m));
  if (!(await ctx.indexer.deleteMetric(m.id))) throw new HttpError(404, `Metric ${m.id} does not exist`);
  return reply.code(204).send();
}

export async function postMeasures(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: Metric): Promise<FastifyReply> {
  enforce('post measures', ctx.identity(req), metricTarget(m));
  const bytes = jsonBytes(req);
  const fast = bytes === null ? null : fastMeasuresList(bytes);
  const measures = fast ?? measuresBody(jsonBody(req));
  if (measures.ts.length > 0) await ctx.incoming.add(new Map([[m.id, measures]]));
  return reply.code(202).header('content-length', '0').send();
}

export async function getMeasures(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: Metric): Promise<FastifyReply> {
  checkAcceptJson(req);
  enforce('get measures', ctx.identity(req), metricTarget(m));
  return readMeasuresReply(ctx, req, reply, m);
}

function metricItem(app: FastifyInstance, ctx: Ctx): void {
  const metricOf = (req: FastifyRequest): Promise<Metric> => getMetricOr404(ctx, (req.params as { id: string }).id);
  route(app, '/v1/metric/:id', {
    GET: async (req, reply) => showMetric(ctx, req, reply, await metricOf(req)),
    DELETE: async (req, reply) => deleteMetric(ctx, req, reply, await metricOf(req)),
  });
  route(app, '/v1/metric/:id/measures', {
    POST: async (req, reply) => postMeasures(ctx, req, reply, await metricOf(req)),
    GET: async (req, reply) => getMeasures(ctx, req, reply, await metricOf(req)),
  });
}

/** The measures of a batch body by metric id (Gnocchi's errors on bad input). */
function batchBody(req: FastifyRequest): Map<string, Measures> {
  const bytes = jsonBytes(req);
  const fast = bytes === null ? null : fastBatchMeasures(bytes);
  if (fast !== null) return fast;
  const parsed = new Map<string, Measures>();
  const body = jsonBody(req);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Invalid('expected a dictionary').toHttp();
  for (const [key, list] of Object.entries(body as Record<string, unknown>)) {
    const metricId = parseUuid(key);
    if (!metricId) throw new Invalid('not a valid value', [key]).toHttp();
    try {
      parsed.set(metricId, parseMeasures(list));
    } catch (e) {
      if (e instanceof MeasuresError) throw new Invalid(e.reason, [key], true).toHttp();
      throw e;
    }
  }
  return parsed;
}

function batchRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/batch/metrics/measures', {
    POST: async (req, reply) => {
      const id = ctx.identity(req);
      const parsed = batchBody(req);
      const found = await ctx.indexer.getMetrics([...parsed.keys()]);
      if (found.length !== parsed.size) {
        const known = new Set(found.map((m) => m.id));
        const missing = [...parsed.keys()].filter((k) => !known.has(k)).sort();
        throw badRequest(`Unknown metrics: ${missing.join(', ')}`);
      }
      for (const m of found) enforce('post measures', id, metricTarget(m));
      for (const [k, v] of parsed) if (v.ts.length === 0) parsed.delete(k);
      if (parsed.size > 0) await ctx.incoming.add(parsed);
      return reply.code(202).header('content-length', '0').send();
    },
  });
}

export function metricRoutes(app: FastifyInstance, ctx: Ctx): void {
  metricCollection(app, ctx);
  metricItem(app, ctx);
  batchRoutes(app, ctx);
}
