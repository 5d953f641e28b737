// /v1/batch/resources/metrics/measures: measures for named metrics of many resources in
// one request, optionally creating the missing metrics (create_metrics=true).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Measures } from '@tally/timeseries';
import * as ix from '@tally/indexer';
import type { Metric } from '@tally/indexer';
import { route, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { Invalid } from '../schema.js';
import { parseMeasures, MeasuresError } from '../measures.js';
import { parseBool } from '../query.js';
import { metricTarget } from './metric.js';
import { choosePolicy } from '../domain/metric-policy.js';
import type { Ctx } from '../context.js';

interface NamedMeasures {
  measures: Measures;
  archivePolicyName?: string;
  unit?: string;
}

/** A metric's entry: a plain measures list, or {archive_policy_name?, unit?, measures}. */
function parseEntry(v: unknown, path: string[]): NamedMeasures {
  const fail = (reason: string): never => {
    throw new Invalid(reason, path, true);
  };
  try {
    if (Array.isArray(v)) return { measures: parseMeasures(v) };
    if (typeof v !== 'object' || v === null) return fail('expected a list or a dictionary');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['archive_policy_name', 'unit', 'measures'].includes(k)) throw new Invalid('extra keys not allowed', [...path, k]);
    if (!('measures' in o)) throw new Invalid('required key not provided', [...path, 'measures']);
    if (o.archive_policy_name !== undefined && typeof o.archive_policy_name !== 'string') throw new Invalid('expected str', [...path, 'archive_policy_name'], true);
    if (o.unit !== undefined && typeof o.unit !== 'string') throw new Invalid('expected str', [...path, 'unit'], true);
    return { measures: parseMeasures(o.measures), archivePolicyName: o.archive_policy_name as string | undefined, unit: o.unit as string | undefined };
  } catch (e) {
    if (e instanceof MeasuresError) return fail(e.reason);
    throw e;
  }
}

type Body = Map<string, { original: string; metrics: Map<string, NamedMeasures> }>;

function parseBody(raw: unknown, creator: string): Body {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Invalid('expected a dictionary').toHttp();
  const out: Body = new Map();
  try {
    for (const [original, metrics] of Object.entries(raw as Record<string, unknown>)) {
      let rid: string;
      try {
        rid = ix.resourceUuid(original, creator);
      } catch (e) {
        throw new Invalid(e instanceof Error ? e.message : String(e), [original]);
      }
      if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) throw new Invalid('expected a dictionary', [original], true);
      const named = new Map<string, NamedMeasures>();
      for (const [name, entry] of Object.entries(metrics as Record<string, unknown>)) named.set(name, parseEntry(entry, [original, name]));
      out.set(rid, { original, metrics: named });
    }
  } catch (e) {
    if (e instanceof Invalid) throw e.toHttp();
    throw e;
  }
  return out;
}

async function createMissing(ctx: Ctx, rid: string, names: string[], entries: Map<string, NamedMeasures>, creator: string): Promise<{ created: Metric[]; unknownResource: boolean }> {
  if (names.length && !(await ctx.indexer.getResource('generic', rid))) return { created: [], unknownResource: true };
  const created: Metric[] = [];
  for (const name of names) {
    const e = entries.get(name) as NamedMeasures;
    const ap = await choosePolicy(ctx, e.archivePolicyName, name);
    try {
      created.push(await ctx.indexer.createMetric({ id: randomUUID(), creator, resourceId: rid, name, unit: e.unit ?? null, archivePolicyName: ap.name }));
    } catch (err) {
      // Created concurrently by another request: use that one.
      if (!(err instanceof ix.NamedMetricAlreadyExists)) throw err;
      created.push(...(await ctx.indexer.listMetrics({ filters: { resourceId: rid, name } })));
    }
  }
  return { created, unknownResource: false };
}

export function batchResourcesRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/batch/resources/metrics/measures', {
    POST: async (req, reply) => {
      const identity = ctx.identity(req);
      const create = parseBool(req.query, 'create_metrics', false);
      const body = parseBody(jsonBody(req), identity.creator);
      const toAdd = new Map<string, Measures>();
      const unknownMetrics: string[] = [];
      const unknownResources: { resource_id: string; original_resource_id: string }[] = [];
      const known: { metric: Metric; measures: Measures }[] = [];
      for (const [rid, { original, metrics: entries }] of body) {
        const names = [...entries.keys()];
        if (names.length === 0) continue;
        const existing = await ctx.indexer.listMetrics({ filters: { resourceId: rid, name: names } });
        const have = new Set(existing.map((m) => m.name));
        const missing = names.filter((n) => !have.has(n));
        let metrics = existing;
        if (create && missing.length) {
          const r = await createMissing(ctx, rid, missing, entries, identity.creator);
          if (r.unknownResource) unknownResources.push({ resource_id: rid, original_resource_id: original });
          metrics = [...existing, ...r.created];
        } else if (missing.length) {
          unknownMetrics.push(...missing.map((n) => `${rid}/${n}`));
        }
        for (const m of metrics) known.push({ metric: m, measures: (entries.get(m.name as string) as NamedMeasures).measures });
      }
      if (unknownResources.length) throw badRequest({ cause: 'Unknown resources', detail: unknownResources });
      if (unknownMetrics.length) throw new HttpError(400, `Unknown metrics: ${unknownMetrics.sort().join(', ')}`);
      for (const { metric, measures } of known) {
        enforce('post measures', identity, metricTarget(metric));
        if (measures.ts.length) toAdd.set(metric.id, measures);
      }
      if (toAdd.size) await ctx.incoming.add(toAdd);
      return reply.code(202).header('content-length', '0').send();
    },
  });
}
