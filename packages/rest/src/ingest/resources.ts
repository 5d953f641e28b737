// Resources and metrics for the ingest endpoints (InfluxDB, Prometheus), as Gnocchi's
// get_or_create_resource_and_metrics: find the resource of the type, add the metrics it
// lacks (archive policies from the rules), or create it with them; create the resource
// type first when the caller gives its attributes. Concurrent writers racing to create the
// same resource, metric or type are retried.
import * as ix from '@tally/indexer';
import { sleep } from '@tally/retry';
import type { AttributeValue, ResourceAttributeSchema } from '@tally/indexer';
import { enforce, isAdmin, type Identity } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { resourceTarget } from '../routes/resource.js';
import { resolveMetricRefs } from '../domain/metric-policy.js';
import { metricTarget } from '../routes/metric.js';
import type { Ctx } from '../context.js';

export interface IngestTarget {
  type: string;
  /** Resource UUID. */
  id: string;
  originalId: string;
  names: readonly string[];
  attributes: Record<string, AttributeValue>;
  /** Attributes of the resource type, created when missing; without them a missing type is a 404. */
  typeAttributes?: Record<string, ResourceAttributeSchema>;
}

const ATTEMPTS = 20;

/** True for the errors another writer causes by creating the same things concurrently. */
function isRace(e: unknown): boolean {
  return e instanceof ix.NamedMetricAlreadyExists || e instanceof ix.NoSuchResource || e instanceof ix.ResourceTypeAlreadyExists;
}

/** Errors of the indexer that are the client's (bad attribute values, ids, ...). */
function clientError(e: unknown): never {
  if (e instanceof ix.ResourceValueError || e instanceof ix.InvalidResourceId || e instanceof ix.NoSuchArchivePolicy ||
      e instanceof ix.ResourceAttributeError) {
    throw badRequest(e.message);
  }
  throw e;
}

async function attempt(ctx: Ctx, identity: Identity, t: IngestTarget): Promise<Record<string, string> | 'retry'> {
  let r: ix.Resource | null;
  try {
    r = await ctx.indexer.getResource(t.type, t.id);
  } catch (e) {
    if (!(e instanceof ix.NoSuchResourceType) || !t.typeAttributes) throw e;
    enforce('create resource type', identity);
    try {
      await ctx.indexer.createResourceType(t.type, t.typeAttributes);
    } catch (err) {
      if (!(err instanceof ix.ResourceTypeAlreadyExists)) throw err;
    }
    return 'retry';
  }
  if (r) {
    enforce('update resource', identity, resourceTarget(r));
    const have = r.metrics;
    const missing = t.names.filter((n) => !(n in have));
    if (missing.length === 0) return r.metrics;
    const refs = await resolveMetricRefs(ctx, Object.fromEntries(missing.map((n) => [n, {}])));
    try {
      r = await ctx.indexer.updateResource(t.type, t.id, { metrics: refs, appendMetrics: true, createRevision: false });
    } catch (e) {
      if (isRace(e)) return 'retry';
      clientError(e);
    }
    return r.metrics;
  }
  enforce('create resource', identity);
  const refs = await resolveMetricRefs(ctx, Object.fromEntries(t.names.map((n) => [n, {}])));
  try {
    r = await ctx.indexer.createResource({
      type: t.type, id: t.id, originalResourceId: t.originalId, creator: identity.creator, attributes: t.attributes, metrics: refs,
    });
  } catch (e) {
    if (e instanceof ix.ResourceAlreadyExists) {
      // Taken by a resource of another type: that will not change by retrying.
      const other = await ctx.indexer.getResource('generic', t.id);
      if (other && other.type !== t.type) throw new HttpError(409, { ...e.jsonify() });
      return 'retry';
    }
    if (isRace(e)) return 'retry';
    clientError(e);
  }
  return r.metrics;
}

/**
 * The metric ids (by name) of `t.names` on the resource, creating what is missing, after
 * checking that `identity` may post measures to each.
 */
export async function resourceMetrics(ctx: Ctx, identity: Identity, t: IngestTarget): Promise<Map<string, string>> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const got = await attempt(ctx, identity, t);
    if (got === 'retry') {
      if (i > 0) await sleep(Math.min(5 * 2 ** i, 200));
      continue;
    }
    const out = new Map<string, string>();
    for (const n of t.names) {
      const id = got[n];
      if (id !== undefined) out.set(n, id);
    }
    if (!isAdmin(identity)) {
      for (const m of await ctx.indexer.getMetrics([...out.values()])) enforce('post measures', identity, metricTarget(m));
    }
    return out;
  }
  throw new HttpError(503, `Resource ${t.id} is being changed concurrently; try again`);
}
