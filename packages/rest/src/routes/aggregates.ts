// POST /v1/aggregates: Gnocchi's operations language over metrics named by id, or (with
// `resource_type` and `search`) over the metrics of the resources a search finds. The
// query string and body are checked here; the evaluation is domain/aggregates.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  extractReferences, InvalidPatternError, validateGlob, parseOperations, parsePyFloat, OperationsInvalid, OperationsParseError, type Fill, type OpNode, type RefKey,
} from '@tally/timeseries';
import { InvalidPagination } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { HttpError, argumentError, badRequest } from '../errors.js';
import { Invalid } from '../schema.js';
import { queryGranularity, queryTime } from '../read.js';
import { parseBool } from '../query.js';
import { metricJson, metricTarget } from './metric.js';
import { measuresBody } from './aggregates-json.js';
import type { Ctx } from '../context.js';
import { operationsDepth, MAX_OPERATIONS_DEPTH } from '../nesting.js';
import {
  canonicalOperations, measureResourceGroups, measureResources, measuresFor, refsByMetricIds, type CommonArgs, type ResourcesMeasured,
} from '../domain/aggregates.js';
import { policiesOf } from '../domain/measures.js';
import { requestDeadline, type Deadline } from '../domain/deadline.js';
import { RESOURCE_DEFAULT_SORTS, type AggregateResource, type ResourceSearch } from '../domain/resource-search.js';
import { refreshMetrics } from '../domain/refresh.js';

type Query = Record<string, string | string[] | undefined>;

export interface AggregatesOptions {
  resources?: ResourceSearch;
}

/** Answered while no resource search is wired in. */
export function resourcesUnavailable(): HttpError {
  return new HttpError(501, 'Aggregating the metrics of resources is not available yet: Tally has no resource indexer');
}

// ------------------------------------------------------------ query string

export function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function parseFill(v: string | undefined): Fill {
  if (v === undefined) return null;
  const n = parsePyFloat(v);
  if (n !== null) return n;
  if (v === 'null' || v === 'dropna') return v;
  throw argumentError("Must be a float, 'dropna' or 'null'", 'fill');
}

/** Gnocchi's validate_qs, in its order of checks. */
export function commonArgs(q: Query, defaultOverlap: number): CommonArgs {
  const overlapText = first(q.needed_overlap);
  let neededOverlap = defaultOverlap;
  if (overlapText !== undefined) {
    const n = parsePyFloat(overlapText);
    if (n === null) throw new HttpError(400, { cause: 'Argument value error', detail: 'needed_overlap', reason: 'Must be a number' });
    neededOverlap = n;
  }
  const flat = { start: first(q.start), stop: first(q.stop) };
  const start = queryTime(flat, 'start');
  const stop = queryTime(flat, 'stop');
  const g = queryGranularity(first(q.granularity));
  const fill = parseFill(first(q.fill));
  return { start, stop, granularities: g === undefined ? undefined : [g], neededOverlap, fill };
}

// ------------------------------------------------------------ body

interface FetchBody {
  operations: OpNode;
  resourceType?: string;
  search?: unknown;
}

function operationsOf(raw: unknown): OpNode {
  try {
    return parseOperations(raw);
  } catch (e) {
    if (e instanceof OperationsParseError) {
      throw badRequest({ cause: 'Invalid operations', reason: 'Fail to parse the operations string', detail: e.detail });
    }
    if (e instanceof OperationsInvalid) throw new Invalid(e.msg ?? 'None', ['operations', ...e.path], e.path.length === 0).toHttp();
    throw e;
  }
}

function fetchBody(body: unknown): FetchBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Invalid('expected a dictionary').toHttp();
  const b = body as Record<string, unknown>;
  if (!('operations' in b)) throw new Invalid('required key not provided', ['operations']).toHttp();
  if (operationsDepth(b.operations) > MAX_OPERATIONS_DEPTH) {
    throw badRequest({ cause: 'Invalid operations', reason: `Operations are nested more than ${MAX_OPERATIONS_DEPTH} levels deep`, detail: [] });
  }
  const operations = operationsOf(b.operations);
  for (const k of Object.keys(b)) if (!['operations', 'resource_type', 'search'].includes(k)) throw new Invalid('extra keys not allowed', [k]).toHttp();
  if (!('resource_type' in b)) return { operations };
  if (typeof b.resource_type !== 'string') throw new Invalid('expected str', ['resource_type'], true).toHttp();
  return { operations, resourceType: b.resource_type, search: b.search ?? null };
}

// ------------------------------------------------------------ metric ids form

async function byMetricIds(ctx: Ctx, req: FastifyRequest, op: OpNode, keys: RefKey[], args: CommonArgs, details: boolean): Promise<unknown> {
  const { refs, metrics } = await refsByMetricIds(ctx, keys);
  const identity = ctx.identity(req);
  for (const m of metrics) enforce('get metric', identity, metricTarget(m));
  if (parseBool(req.query, 'refresh', false)) await refreshMetrics(ctx, metrics.map((m) => m.id));
  const deadline = requestDeadline(ctx);
  const measured = await measuresFor(ctx, refs, canonicalOperations(op), args, deadline);
  const body: Record<string, unknown> = { measures: await measuresBody(measured, deadline) };
  if (details) {
    const aps = await policiesOf(ctx, metrics);
    body.references = metrics.map((m) => metricJson(m, aps.get(m.archivePolicyName)));
  }
  return body;
}

// ------------------------------------------------------------ resources form

async function resourcesBody(m: ResourcesMeasured, details: boolean, deadline: Deadline): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = { measures: await measuresBody(m, deadline) };
  if (details) body.references = m.used.map((r) => r.json);
  return body;
}

/** Metric name wildcards Tally never admits, refused before any search. */
function checkWildcards(keys: RefKey[]): void {
  for (const key of keys) {
    try {
      validateGlob(key[0]);
    } catch (e) {
      if (e instanceof InvalidPatternError) throw badRequest({ cause: 'Invalid metric references', reason: e.reason, detail: [[...key]] });
      throw e;
    }
  }
}

async function byResources(ctx: Ctx, req: FastifyRequest, search: ResourceSearch | undefined, body: FetchBody, keys: RefKey[], args: CommonArgs, details: boolean): Promise<unknown> {
  if (search === undefined) throw resourcesUnavailable();
  checkWildcards(keys);
  const type = body.resourceType as string;
  if (!(await search.typeExists(type))) throw badRequest(`Resource type ${type} does not exist`);
  const q = req.query as Query;
  const groupby = [...new Set([q.groupby ?? []].flat())].sort();
  const identity = ctx.identity(req);
  enforce('list resource', identity);
  let resources: AggregateResource[];
  try {
    resources = await search.search(identity, type, body.search ?? null, groupby.length > 0 ? groupby : RESOURCE_DEFAULT_SORTS);
  } catch (e) {
    if (e instanceof InvalidPagination) throw badRequest(e.message);
    throw e;
  }
  const deadline = requestDeadline(ctx);
  if (groupby.length === 0) return resourcesBody(await measureResources(ctx, resources, body.operations, keys, args, deadline), details, deadline);
  const groups = await measureResourceGroups(ctx, resources, groupby, body.operations, keys, args, deadline);
  // Every group's answer counts towards the one bound: the whole body is written at once.
  let points = 0;
  for (const { measured } of groups) for (const grp of measured.result.groups) for (const x of grp.series) points += x.ts.length;
  deadline.answer(points);
  const out: unknown[] = [];
  for (const { group, measured } of groups) out.push({ group, measures: await resourcesBody(measured, details, deadline) });
  return out;
}

// ------------------------------------------------------------ route

export function aggregatesRoutes(app: FastifyInstance, ctx: Ctx, opts: AggregatesOptions = {}): void {
  route(app, '/v1/aggregates', {
    POST: async (req, reply) => {
      checkAcceptJson(req);
      const q = req.query as Query;
      const details = parseBool(q, 'details', false);
      const args = commonArgs(q, 100.0);
      // Gnocchi drops NaN cells instead of checking overlap when neither is asked for.
      if (first(q.fill) === undefined && first(q.needed_overlap) === undefined) args.fill = 'dropna';
      const body = fetchBody(jsonBody(req));
      const keys = extractReferences(body.operations);
      if (keys.length === 0) {
        throw badRequest({ cause: 'Operations is invalid', reason: "At least one 'metric' is required", detail: [] });
      }
      const out = body.resourceType === undefined
        ? await byMetricIds(ctx, req, body.operations, keys, args, details)
        : await byResources(ctx, req, opts.resources, body, keys, args, details);
      return send(reply, 200, out);
    },
  });
}
