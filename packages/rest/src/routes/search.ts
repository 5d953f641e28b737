// /v1/search/resource/{type}: Gnocchi's JSON query language (validated here with its
// messages, compiled to SQL by the indexer) and the `filter=` string form.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as ix from '@tally/indexer';
import type { ResourceFilter } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { Invalid, validate, type Validator } from '../schema.js';
import { listArgs, nextLink } from '../paging.js';
import { parseBool } from './root.js';
import { resourceJson } from '../resources/json.js';
import { getTypeOr404, resourcePolicyFilter } from './resource.js';
import type { Ctx } from '../context.js';
import type { AggregateResource, ResourceSearch } from './aggregates.js';

const COMPARISONS = ['=', '==', 'eq', '<', 'lt', '>', 'gt', '<=', '≤', 'le', '>=', '≥', 'ge', '!=', '≠', 'ne'];
const LOGICAL = ['and', '∨', 'or', '∧'];
/** Deeper queries are refused: they cost the database more than any real question needs. */
export const MAX_QUERY_DEPTH = 32;
/** And as many terms (and `in` values) as a database compiles comfortably. */
export const MAX_QUERY_TERMS = 1000;

type Value = string | number | boolean | null;

function scalar(v: unknown): Value {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  // voluptuous reports the first alternative of Any(str, float, int, bool, None).
  throw new Invalid('expected str');
}

function single(v: unknown): [string, unknown] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid('expected a dictionary');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length !== 1) throw new Invalid(entries.length === 0 ? 'length of value must be at least 1' : 'length of value must be at most 1');
  return entries[0];
}

function mapId(v: unknown, creator: string): string {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Invalid('expected str');
  try {
    return ix.resourceUuid(String(v), creator);
  } catch (e) {
    throw new Invalid(e instanceof Error ? e.message : String(e));
  }
}

function within<T>(key: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Invalid) throw new Invalid(e.msg, [key, ...e.path], e.path.length === 0 || e.dictValue);
    throw e;
  }
}

/** Validates a search tree as Gnocchi's ResourceSearchSchema, mapping resource ids to UUIDs. */
export function resourceSearchSchema(creator: string): Validator<ResourceFilter> {
  let terms = 0;
  const node = (v: unknown, depth: number): ResourceFilter => {
    if (depth > MAX_QUERY_DEPTH) throw new Invalid(`query is nested more than ${MAX_QUERY_DEPTH} levels`);
    if (++terms > MAX_QUERY_TERMS) throw new Invalid(`query has more than ${MAX_QUERY_TERMS} terms`);
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) return {};
    const [op, arg] = single(v);
    return within(op, () => {
      if (COMPARISONS.includes(op)) {
        const [attr, val] = single(arg);
        return { [op]: { [attr]: within(attr, () => (attr === 'id' ? mapId(val, creator) : scalar(val))) } };
      }
      if (op === 'like') {
        const [attr, val] = single(arg);
        if (attr === 'id') throw new Invalid('extra keys not allowed', ['id']);
        return { like: { [attr]: within(attr, () => scalar(val)) } };
      }
      if (op === 'in') {
        const [attr, vals] = single(arg);
        return { in: { [attr]: within(attr, () => {
          if (!Array.isArray(vals)) throw new Invalid('expected a list');
          if (vals.length === 0) throw new Invalid('length of value must be at least 1');
          if (vals.length > MAX_QUERY_TERMS) throw new Invalid(`length of value must be at most ${MAX_QUERY_TERMS}`);
          return vals.map((x) => (attr === 'id' ? mapId(x, creator) : scalar(x)));
        }) } };
      }
      if (LOGICAL.includes(op)) {
        if (!Array.isArray(arg)) throw new Invalid('expected a list');
        if (arg.length === 0) throw new Invalid('length of value must be at least 1');
        return { [op]: arg.map((x) => node(x, depth + 1)) };
      }
      if (op === 'not') return { not: node(arg, depth + 1) };
      throw new Invalid('extra keys not allowed');
    });
  };
  return (v) => node(v, 0);
}

/**
 * The search filter of a request: a JSON body, else the `filter=` query string, else null.
 * An empty object means "everything" for a search (null), and is refused for a deletion.
 */
export function searchFilterFromBody(req: FastifyRequest, creator: string, opts: { required?: boolean } = {}): ResourceFilter | null {
  const hasBody = Buffer.isBuffer(req.body) ? req.body.length > 0 : req.body != null && req.body !== '';
  const q = req.query as Record<string, string | undefined>;
  let filter: ResourceFilter | null = null;
  if (hasBody) filter = validate(resourceSearchSchema(creator), jsonBody(req));
  else if (q.filter) {
    try {
      filter = validate(resourceSearchSchema(creator), ix.parseFilterString(q.filter));
    } catch (e) {
      if (e instanceof ix.IndexerError) throw badRequest(e.message);
      throw e;
    }
  }
  if (filter && Object.keys(filter).length === 0) filter = null;
  if (opts.required && !filter) return null;
  return filter;
}

export function searchRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/search/resource/:type', {
    // Searching is a POST; a GET names the type first, so an unknown one is a 404.
    GET: async (req) => {
      await getTypeOr404(ctx, (req.params as { type: string }).type);
      throw new HttpError(405, 'The method GET is not allowed for this resource.', { allow: 'POST' });
    },
    POST: async (req, reply) => {
      checkAcceptJson(req);
      const identity = ctx.identity(req);
      const { type } = req.params as { type: string };
      await getTypeOr404(ctx, type);
      enforce('list resource', identity);
      const q = req.query as Record<string, string | string[]>;
      const filter = searchFilterFromBody(req, identity.creator);
      const policy = resourcePolicyFilter(ctx, identity);
      const all = policy && filter ? { and: [policy, filter] } : (policy ?? filter);
      const history = parseBool(q, 'history', false);
      const args = listArgs(q, ctx.cfg.maxLimit, ['revision_start:asc', 'started_at:asc']);
      let rs;
      try {
        rs = await ctx.indexer.listResources({ type, filter: all, details: parseBool(q, 'details', false), history, sort: args.sort, limit: args.limit, marker: args.marker });
      } catch (e) {
        if (e instanceof ix.IndexerError) throw badRequest(e.message);
        throw e;
      }
      if (rs.length >= args.limit) {
        const last = rs[rs.length - 1];
        reply.header('link', nextLink(`${ctx.base(req)}/v1/search/resource/${type}`, q, args, history ? `${last.id}@${last.revision}` : last.id));
      }
      const attrs = q.attrs === undefined ? undefined : (Array.isArray(q.attrs) ? q.attrs : [q.attrs]);
      return send(reply, 200, rs.map((r) => resourceJson(r, attrs)));
    },
  });
}

/** The resource search the aggregates APIs use (search policy applied, all pages). */
export function indexerResourceSearch(ctx: Ctx): ResourceSearch {
  return {
    typeExists: async (type) => (await ctx.indexer.getResourceType(type)) !== null,
    async search(req, type, filter, sorts): Promise<AggregateResource[]> {
      const identity = ctx.identity(req);
      enforce('list resource', identity);
      let tree: ResourceFilter | null = null;
      try {
        if (typeof filter === 'string') tree = validate(resourceSearchSchema(identity.creator), ix.parseFilterString(filter));
        else if (filter !== null && filter !== undefined) tree = validate(resourceSearchSchema(identity.creator), filter);
      } catch (e) {
        if (e instanceof ix.IndexerError) throw badRequest(e.message);
        throw e;
      }
      if (tree && Object.keys(tree).length === 0) tree = null;
      const policy = resourcePolicyFilter(ctx, identity);
      const all = policy && tree ? { and: [policy, tree] } : (policy ?? tree);
      const sort = sorts.map((s) => {
        const [key, dir = 'asc'] = s.split(':');
        return { key, dir };
      });
      let rs;
      try {
        rs = await ctx.indexer.listResources({ type, filter: all, details: true, sort });
      } catch (e) {
        // Invalid sorts (groupby attributes) are left to the caller: each API words them its own way.
        if (e instanceof ix.InvalidPagination) throw e;
        if (e instanceof ix.IndexerError) throw badRequest(e.message);
        throw e;
      }
      const ids = rs.flatMap((r) => Object.values(r.metrics));
      const byId = new Map((await ctx.indexer.getMetrics(ids)).map((m) => [m.id, m]));
      return rs.map((r) => ({
        id: r.id,
        json: resourceJson(r),
        metrics: Object.entries(r.metrics).flatMap(([name, id]) => {
          const metric = byId.get(id);
          return metric ? [{ name, metric }] : [];
        }),
      }));
    },
  };
}
