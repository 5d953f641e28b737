// Resource search: Gnocchi's JSON query language validated with its messages (ids mapped
// to UUIDs as at creation; compiled to SQL by the indexer), the `filter=` string form, the
// project restriction of the listing policy, and the search the aggregates APIs run.
import * as ix from '@tally/indexer';
import type { Metric, ResourceFilter } from '@tally/indexer';
import { allowed, listsFilteredByProject, type AuthMode, type Identity } from '../auth.js';
import { Invalid, type Validator } from '../schema.js';
import { resourceJson } from '../resources/json.js';
import { InvalidSearch } from './errors.js';
import type { Services } from './services.js';

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

/** A resource as the aggregates APIs need it. */
export interface AggregateResource {
  id: string;
  /** The resource as GET /v1/resource answers it (groupby reads attributes from it). */
  json: Record<string, unknown>;
  /** Its named metrics. */
  metrics: { name: string; metric: Metric }[];
}

/** Resource search for the aggregates APIs. */
export interface ResourceSearch {
  /** False when the resource type does not exist. */
  typeExists(type: string): Promise<boolean>;
  /**
   * Resources of `type` matching `filter` (a search body, a query-string filter, or null)
   * that `identity` may list, sorted by `sorts` ("attr:asc"). Throws Invalid or
   * InvalidSearch for invalid filters and the indexer's InvalidPagination for sorts on
   * attributes the type does not have.
   */
  search(identity: Identity, type: string, filter: unknown, sorts: string[]): Promise<AggregateResource[]>;
}

/** What Gnocchi sorts resources by when no groupby is given. */
export const RESOURCE_DEFAULT_SORTS = ['revision_start:asc', 'started_at:asc'];

/**
 * A search filter: a search tree, a `filter=` string, or null/undefined. An empty tree
 * means "everything" (null).
 */
export function compileSearchFilter(filter: unknown, creator: string): ResourceFilter | null {
  let tree: ResourceFilter | null = null;
  try {
    if (typeof filter === 'string') tree = resourceSearchSchema(creator)(ix.parseFilterString(filter));
    else if (filter !== null && filter !== undefined) tree = resourceSearchSchema(creator)(filter);
  } catch (e) {
    if (e instanceof ix.IndexerError) throw new InvalidSearch(e.message);
    throw e;
  }
  return tree && Object.keys(tree).length === 0 ? null : tree;
}

/** Basic and remote-user modes carry no project: as in Gnocchi, nothing to filter on. */
export function resourcePolicyFilter(authMode: AuthMode, id: Identity): ResourceFilter | null {
  if (allowed('list all resource', id) || !listsFilteredByProject(authMode) || !id.projectId) return null;
  return { or: [{ '=': { created_by_project_id: id.projectId } }, { '=': { project_id: id.projectId } }] };
}

/** `filter` restricted to what `id` may list. */
export function withPolicy(authMode: AuthMode, id: Identity, filter: ResourceFilter | null): ResourceFilter | null {
  const policy = resourcePolicyFilter(authMode, id);
  return policy && filter ? { and: [policy, filter] } : (policy ?? filter);
}

/** The resource type named, or the indexer's NoSuchResourceType. */
export async function resourceTypeOf(s: Pick<Services, 'indexer'>, name: string): Promise<ix.ResourceType> {
  const rt = await s.indexer.getResourceType(name);
  if (!rt) throw new ix.NoSuchResourceType(name);
  return rt;
}

/** The resource search the aggregates APIs use (listing policy applied, all pages). */
export function indexerResourceSearch(s: Pick<Services, 'indexer'>, authMode: AuthMode): ResourceSearch {
  return {
    typeExists: async (type) => (await s.indexer.getResourceType(type)) !== null,
    async search(identity, type, filter, sorts): Promise<AggregateResource[]> {
      const all = withPolicy(authMode, identity, compileSearchFilter(filter, identity.creator));
      const sort = sorts.map((x) => {
        const [key, dir = 'asc'] = x.split(':');
        return { key, dir };
      });
      let rs;
      try {
        rs = await s.indexer.listResources({ type, filter: all, details: true, sort });
      } catch (e) {
        // Invalid sorts (groupby attributes) are left to the caller: each API words them its own way.
        if (e instanceof ix.InvalidPagination) throw e;
        if (e instanceof ix.IndexerError) throw new InvalidSearch(e.message);
        throw e;
      }
      const ids = rs.flatMap((r) => Object.values(r.metrics));
      const byId = new Map((await s.indexer.getMetrics(ids)).map((m) => [m.id, m]));
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
