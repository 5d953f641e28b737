// POST /v1/aggregates: Gnocchi's operations language over metrics named by id, or (with
// `resource_type` and `search`) over the metrics of the resources a search finds.
// Series are read per (metric, aggregation, granularity) through the engine, then the
// columnar computation of @tally/timeseries' ops does the rest.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  computeAggregates, compileGlob, extractReferences, formatTimestampIn, InvalidPatternError, validateGlob, parseOperations, parsePyFloat,
  readMeasures, OperationsEvalError, OperationsInvalid, OperationsParseError, TimeZone, UnaggregableError,
  type AggregatesResult, type CalendarUnit, type ArchivePolicy, type Fill, type Nanos, type OpNode, type RefKey, type Series,
  type SeriesInput,
} from '@tally/timeseries';
import { InvalidPagination, type Metric } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { HttpError, argumentError, badRequest } from '../errors.js';
import { Invalid } from '../schema.js';
import { pyFloat, Raw } from '../pyjson.js';
import { queryGranularity, queryTime, granularitySeconds, granularityText } from '../read.js';
import { parseBool } from './root.js';
import { metricJson, metricTarget } from './metric.js';
import type { Ctx } from '../context.js';
import { operationsDepth, MAX_OPERATIONS_DEPTH } from '../nesting.js';

type Query = Record<string, string | string[] | undefined>;

// ------------------------------------------------------------ resources (filled in later)

/** A resource as the aggregates APIs need it. */
export interface AggregateResource {
  id: string;
  /** The resource as GET /v1/resource answers it (groupby reads attributes from it). */
  json: Record<string, unknown>;
  /** Its named metrics. */
  metrics: { name: string; metric: Metric }[];
}

/** Resource search for the aggregates APIs; provided once the resource indexer exists. */
export interface ResourceSearch {
  /** False when the resource type does not exist. */
  typeExists(type: string): Promise<boolean>;
  /**
   * Resources of `type` matching `filter` (a search body, a query-string filter, or null)
   * that the requester may search (Gnocchi's "search resource" policy), sorted by `sorts`
   * ("attr:asc"). Throws HttpError(400) for invalid filters and the indexer's
   * InvalidPagination for sorts on attributes the type does not have.
   */
  search(req: FastifyRequest, type: string, filter: unknown, sorts: string[]): Promise<AggregateResource[]>;
}

export interface AggregatesOptions {
  resources?: ResourceSearch;
}

/** What Gnocchi sorts resources by when no groupby is given. */
export const RESOURCE_DEFAULT_SORTS = ['revision_start:asc', 'started_at:asc'];

/** Answered while no resource search is wired in. */
export function resourcesUnavailable(): HttpError {
  return new HttpError(501, 'Aggregating the metrics of resources is not available yet: Tally has no resource indexer');
}

// ------------------------------------------------------------ query string

export interface CommonArgs {
  start?: Nanos;
  stop?: Nanos;
  granularities?: Nanos[];
  neededOverlap: number;
  fill: Fill;
}

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

// ------------------------------------------------------------ reading and computing

/** One series the operations refer to: a metric's aggregation, under its lookup key. */
export interface Ref {
  metric: Metric;
  aggregation: string;
  /** The metric id (metric form) or name (resource form). */
  name: string;
  lookup: RefKey;
  resourceId?: string;
}

const unaggregable = (reason: string, detail: unknown): HttpError =>
  new HttpError(400, { cause: "Metrics can't being aggregated", reason, detail });

export async function policiesOf(ctx: Ctx, metrics: Metric[]): Promise<Map<string, ArchivePolicy>> {
  const out = new Map<string, ArchivePolicy>();
  for (const name of new Set(metrics.map((m) => m.archivePolicyName))) {
    const ap = await ctx.indexer.getArchivePolicy(name);
    if (!ap) throw new HttpError(404, `Archive policy ${name} does not exist`);
    out.set(name, ap);
  }
  return out;
}

/** Granularities every reference has (Gnocchi counts one per reference and definition). */
function commonGranularities(refs: Ref[], aps: Map<string, ArchivePolicy>): Nanos[] {
  const counts = new Map<Nanos, number>();
  for (const r of refs) for (const d of aps.get(r.metric.archivePolicyName)!.definition) counts.set(d.granularity, (counts.get(d.granularity) ?? 0) + 1);
  return [...counts].filter(([, n]) => n === refs.length).map(([g]) => g);
}

function checkReferences(refs: Ref[], aps: Map<string, ArchivePolicy>, granularities: Nanos[]): void {
  const missing: unknown[] = [];
  for (const r of refs) {
    const ap = aps.get(r.metric.archivePolicyName)!;
    if (!ap.aggregationMethods.includes(r.aggregation)) {
      throw new HttpError(404, { cause: 'Metrics with unknown aggregation', detail: [[r.metric.id, r.aggregation]] });
    }
    const g = granularities.find((x) => !ap.definition.some((d) => d.granularity === x));
    if (g !== undefined) missing.push([r.name, r.aggregation, pyFloatValue(granularitySeconds(g))]);
  }
  if (missing.length > 0) throw unaggregable('Granularities are missing', missing);
}

/** A number that pyJson writes as a Python float. */
function pyFloatValue(v: number): Raw {
  return new Raw(pyFloat(v));
}

async function readSeries(ctx: Ctx, ref: Ref, ap: ArchivePolicy, g: Nanos, args: CommonArgs): Promise<Series> {
  const rec = await ctx.storage.read(ref.metric.id);
  const r = await readMeasures(ap, rec.state, { aggregation: ref.aggregation, granularity: g, start: args.start, stop: args.stop },
    (key) => ctx.storage.readSplit(ref.metric.id, key));
  return { ts: r.ts, values: r.values };
}

export function computeOrAbort(op: OpNode, inputs: SeriesInput[], args: CommonArgs): AggregatesResult {
  try {
    return computeAggregates(op, inputs, args);
  } catch (e) {
    if (e instanceof UnaggregableError) throw unaggregable(e.reason, e.detail);
    if (e instanceof OperationsEvalError) throw badRequest({ cause: 'Operations is invalid', reason: e.message, detail: [] });
    throw e;
  }
}

export interface Measured {
  result: AggregatesResult;
  /** The reference of each computation input (result groups index inputs). */
  inputRefs: Ref[];
}

/** Gnocchi's processor.get_measures: granularities, checks, reads, then the computation. */
export async function measuresFor(ctx: Ctx, refs: Ref[], op: OpNode, args: CommonArgs): Promise<Measured> {
  const aps = await policiesOf(ctx, refs.map((r) => r.metric));
  const granularities = args.granularities ?? commonGranularities(refs, aps);
  if (granularities.length === 0) throw unaggregable('No granularity match', refs.map((r) => [r.name, r.aggregation]));
  checkReferences(refs, aps, granularities);
  const inputs: SeriesInput[] = [];
  const inputRefs: Ref[] = [];
  for (const ref of refs) {
    const ap = aps.get(ref.metric.archivePolicyName)!;
    for (const g of granularities) {
      inputs.push({ key: ref.lookup, granularity: g, series: await readSeries(ctx, ref, ap, g, args) });
      inputRefs.push(ref);
    }
  }
  return { result: computeOrAbort(op, inputs, args), inputRefs };
}

// ------------------------------------------------------------ answers

/** [[timestamp, granularity, value], ...] items, written once as JSON text (timestamps in `zone`). */
export function triples(out: string[], s: Series, g: Nanos | CalendarUnit, zone: TimeZone = TimeZone.UTC): void {
  const gText = granularityText(g);
  for (let i = 0; i < s.ts.length; i++) out.push(`["${formatTimestampIn(s.ts[i], zone)}", ${gText}, ${pyFloat(s.values[i])}]`);
}

/** All granularities of the single aggregated series. */
export function aggregatedItems(r: AggregatesResult, zone: TimeZone = TimeZone.UTC): string[] {
  const out: string[] = [];
  for (const grp of r.groups) triples(out, grp.series[0], grp.calendar ?? grp.granularity, zone);
  return out;
}

const rawList = (items: string[]): Raw => new Raw('[' + items.join(', ') + ']');

/** {"aggregated": [...]} or {id: {agg: [...]}} / {resource: {name: {agg: [...]}}}. */
export function measuresBody({ result: r, inputRefs }: Measured): Record<string, unknown> {
  if (r.aggregated) return { aggregated: rawList(aggregatedItems(r)) };
  const byPath = new Map<string, { path: string[]; items: string[] }>();
  for (const grp of r.groups) {
    grp.inputs.forEach((inputIndex, i) => {
      const ref = inputRefs[inputIndex];
      const path = ref.resourceId === undefined ? [ref.name, ref.aggregation] : [ref.resourceId, ref.name, ref.aggregation];
      const key = JSON.stringify(path);
      let entry = byPath.get(key);
      if (entry === undefined) byPath.set(key, (entry = { path, items: [] }));
      triples(entry.items, grp.series[i], grp.calendar ?? grp.granularity);
    });
  }
  const root: Record<string, unknown> = {};
  for (const { path, items } of byPath.values()) {
    let node = root;
    for (const p of path.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]] = rawList(items);
  }
  return root;
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

/** Python's uuid.UUID() then str(): canonical lowercase form, or null. */
export function canonicalUuid(text: string): string | null {
  const hex = text.replace(/^urn:/, '').replace(/^uuid:/, '').replace(/^\{|\}$/g, '').replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return null;
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ------------------------------------------------------------ metric ids form

async function refsByMetricIds(ctx: Ctx, req: FastifyRequest, keys: RefKey[]): Promise<{ refs: Ref[]; metrics: Metric[] }> {
  const ids = keys.map(([id]) => canonicalUuid(id));
  if (ids.some((id) => id === null)) {
    throw badRequest({ cause: 'Invalid metric references', reason: 'badly formed hexadecimal UUID string', detail: keys.map((k) => [...k]) });
  }
  const wanted = [...new Set(ids as string[])];
  const metrics = await ctx.indexer.getMetrics(wanted);
  const byId = new Map(metrics.map((m) => [m.id, m]));
  const missing = wanted.filter((id) => !byId.has(id)).sort();
  if (missing.length > 0) throw new HttpError(404, { cause: 'Unknown metrics', reason: "Provided metrics don't exists", detail: missing });
  const identity = ctx.identity(req);
  for (const m of metrics) enforce('get metric', identity, metricTarget(m));
  const refs = keys.map(([, agg], i): Ref => {
    const m = byId.get(ids[i] as string)!;
    return { metric: m, aggregation: agg, name: m.id, lookup: [m.id, agg] };
  });
  return { refs, metrics: wanted.map((id) => byId.get(id)!) };
}

/** References name metrics by id as given; lookups use the canonical id. */
function canonicalOperations(op: OpNode): OpNode {
  if (op.kind === 'metric') return { ...op, refs: op.refs.map(([id, agg]): RefKey => [canonicalUuid(id) ?? id, agg]) };
  if (op.kind === 'number') return op;
  if (op.kind === 'binary') return { ...op, left: canonicalOperations(op.left), right: canonicalOperations(op.right) };
  if (op.kind === 'clip') return { ...op, arg: canonicalOperations(op.arg), min: canonicalOperations(op.min), max: op.max && canonicalOperations(op.max) };
  return { ...op, arg: canonicalOperations(op.arg) };
}

async function byMetricIds(ctx: Ctx, req: FastifyRequest, op: OpNode, keys: RefKey[], args: CommonArgs, details: boolean): Promise<unknown> {
  const { refs, metrics } = await refsByMetricIds(ctx, req, keys);
  if (parseBool(req.query, 'refresh', false)) for (const m of metrics) await ctx.processor.refreshMetric(m.id);
  const measured = await measuresFor(ctx, refs, canonicalOperations(op), args);
  const body: Record<string, unknown> = { measures: measuresBody(measured) };
  if (details) {
    const aps = await policiesOf(ctx, metrics);
    body.references = metrics.map((m) => metricJson(m, aps.get(m.archivePolicyName)));
  }
  return body;
}

// ------------------------------------------------------------ resources form

function refsOfResources(resources: AggregateResource[], keys: RefKey[]): Ref[] {
  const refs: Ref[] = [];
  const globs = keys.map(([wildcard]) => compileGlob(wildcard));
  for (const r of resources) {
    for (const [k, [wildcard, agg]] of keys.entries()) {
      for (const { name, metric } of r.metrics) {
        if (globs[k].test(name)) refs.push({ metric, aggregation: agg, name, lookup: [wildcard, agg], resourceId: r.id });
      }
    }
  }
  return refs;
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

/** Gnocchi's NoSuchMetric as a 400: the wildcards that matched nothing (a set, sorted here). */
function noSuchMetric(keys: RefKey[]): HttpError {
  return badRequest({ cause: 'Metrics not found', detail: [...new Set(keys.map(([n]) => n))].sort() });
}

async function resourcesMeasures(ctx: Ctx, resources: AggregateResource[], op: OpNode, keys: RefKey[], args: CommonArgs, details: boolean): Promise<Record<string, unknown> | null> {
  const refs = refsOfResources(resources, keys);
  if (refs.length === 0) return null;
  const measured = await measuresFor(ctx, refs, op, args);
  const body: Record<string, unknown> = { measures: measuresBody(measured) };
  if (details) {
    const used = new Set(refs.map((r) => r.resourceId));
    body.references = resources.filter((r) => used.has(r.id)).map((r) => r.json);
  }
  return body;
}

function groupKey(r: AggregateResource, groupby: string[]): string {
  return JSON.stringify(groupby.map((a) => r.json[a] ?? null));
}

async function byResources(ctx: Ctx, req: FastifyRequest, search: ResourceSearch | undefined, body: FetchBody, keys: RefKey[], args: CommonArgs, details: boolean): Promise<unknown> {
  if (search === undefined) throw resourcesUnavailable();
  checkWildcards(keys);
  const type = body.resourceType as string;
  if (!(await search.typeExists(type))) throw badRequest(`Resource type ${type} does not exist`);
  const q = req.query as Query;
  const groupby = [...new Set([q.groupby ?? []].flat())].sort();
  let resources: AggregateResource[];
  try {
    resources = await search.search(req, type, body.search ?? null, groupby.length > 0 ? groupby : RESOURCE_DEFAULT_SORTS);
  } catch (e) {
    if (e instanceof InvalidPagination) throw badRequest(e.message);
    throw e;
  }
  if (groupby.length === 0) {
    const out = await resourcesMeasures(ctx, resources, body.operations, keys, args, details);
    if (out === null) throw noSuchMetric(keys);
    return out;
  }
  const results: unknown[] = [];
  let at = 0;
  while (at < resources.length) {
    const key = groupKey(resources[at], groupby);
    let end = at;
    while (end < resources.length && groupKey(resources[end], groupby) === key) end++;
    const out = await resourcesMeasures(ctx, resources.slice(at, end), body.operations, keys, args, details);
    if (out !== null) results.push({ group: Object.fromEntries(groupby.map((a) => [a, resources[at].json[a] ?? null])), measures: out });
    at = end;
  }
  if (results.length === 0) throw noSuchMetric(keys);
  return results;
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
