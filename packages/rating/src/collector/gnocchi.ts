// Usage of one scope and period, read through Gnocchi's REST API as CloudKitty's gnocchi
// collector reads it: per metric of the configuration (in name order), one
// `POST /v1/aggregates` with `groupby` and a `search` on the resource type and the scope, the
// first aggregated value of each group converted with factor, offset and mutate; metadata
// attributes from a resource search over the period widened by one period each side (so
// resources deleted during it are still found). The same code reads Tally in process (an
// InjectTransport over its API) or any Gnocchi over HTTP.
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { GnocchiApiError, GnocchiClient, InjectTransport, type AggregatesGroup, type GnocchiAuth, type JsonValue, type ResourceFilter } from '@tally/client';
import type { UsagePoint } from '../model.js';
import { Dec, decimalString, exactDecimalOfDouble } from '../money.js';
import type { MetricConfig } from './metrics-config.js';

export const NS_PER_S = 1_000_000_000n;

export function isoOfNs(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

/** Where usage comes from: the processor only needs these three reads. */
export interface UsageSource {
  /** Usage of `scopeId` in [begin, end). */
  usage(scopeId: string, begin: bigint, end: bigint): Promise<UsagePoint[]>;
  /** Scopes with resources alive at some time in [begin, end). */
  scopes(begin: bigint, end: bigint): Promise<string[]>;
  /** Measures received but not processed yet (a period is rated once this is 0). */
  backlog(): Promise<number>;
}

/** Thrown when the metric store cannot be read; the period is left for a later try. */
export class UsageReadError extends Error {
  constructor(readonly metric: string | null, readonly scopeId: string | null, cause: unknown) {
    super(`reading usage${metric === null ? '' : ` of ${metric}`}${scopeId === null ? '' : ` for scope ${scopeId}`} failed: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'UsageReadError';
  }
}

/** CloudKitty's conversion: exact value of the float, times factor, plus offset, then mutate. */
export function convertQty(value: number, m: Pick<MetricConfig, 'factor' | 'offset' | 'mutate' | 'mutate_map'>): string {
  const q = exactDecimalOfDouble(value).times(exactDecimalOfDouble(m.factor)).plus(exactDecimalOfDouble(m.offset));
  switch (m.mutate) {
    case 'NUMBOOL': return q.isZero() ? '0' : '1';
    case 'NOTNUMBOOL': return q.isZero() ? '1' : '0';
    case 'FLOOR': return decimalString(q.floor());
    case 'CEIL': return decimalString(q.ceil());
    case 'MAP': {
      for (const [k, v] of m.mutate_map ?? []) if (exactDecimalOfDouble(k).eq(q)) return decimalString(new Dec(String(v)));
      return '0';
    }
    default: return decimalString(q);
  }
}

function attr(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export interface GnocchiUsageOptions {
  /** The attribute scopes are (CloudKitty's collect.scope_key). */
  scopeKey?: string;
  /** The rating period, s (widens the metadata search as CloudKitty's does). */
  periodS?: number;
}

export class GnocchiUsageSource implements UsageSource {
  readonly scopeKey: string;
  readonly periodS: number;

  constructor(readonly client: GnocchiClient, readonly metrics: readonly MetricConfig[], opts: GnocchiUsageOptions = {}) {
    this.scopeKey = opts.scopeKey ?? 'project_id';
    this.periodS = opts.periodS ?? 3600;
  }

  async usage(scopeId: string, begin: bigint, end: bigint): Promise<UsagePoint[]> {
    const out: UsagePoint[] = [];
    for (const m of this.metrics) {
      try {
        out.push(...await this.#metricUsage(m, scopeId, begin, end));
      } catch (e) {
        throw e instanceof UsageReadError ? e : new UsageReadError(m.metric, scopeId, e);
      }
    }
    return out;
  }

  async #metricUsage(m: MetricConfig, scopeId: string, begin: bigint, end: bigint): Promise<UsagePoint[]> {
    const ea = m.extra_args;
    const search: ResourceFilter = { and: [{ '=': { type: ea.resource_type } }, { '=': { [this.scopeKey]: scopeId } }] } as ResourceFilter;
    const start = ea.re_aggregation_method.startsWith('rate:') ? begin - BigInt(ea.force_granularity) * NS_PER_S : begin;
    let groups: AggregatesGroup[];
    try {
      groups = await this.client.aggregates.groupBy(
        ['aggregate', ea.re_aggregation_method, ['metric', m.metric, ea.aggregation_method]],
        ea.resource_type, search, m.groupby,
        { start: isoOfNs(start), stop: isoOfNs(end), ...(ea.force_granularity > 0 ? { granularity: ea.force_granularity } : {}) },
      );
    } catch (e) {
      // No resource of the scope has the metric (yet): nothing to rate, as CloudKitty skips it.
      if (e instanceof GnocchiApiError && (e.status === 404 || (e.status === 400 && /not found/i.test(e.message)))) return [];
      throw e;
    }
    if (!ea.use_all_resource_revisions) {
      const last = new Map<string, AggregatesGroup>();
      const sorted = [...groups].sort((a, b) => {
        const ka = `${attr(a.group.id)}\u0000${attr(a.group.revision_start)}`;
        const kb = `${attr(b.group.id)}\u0000${attr(b.group.revision_start)}`;
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
      for (const g of sorted) last.set(attr(g.group.id), g);
      groups = [...last.values()];
    }
    let resources: Map<string, Record<string, JsonValue>> | null = null;
    if (m.metadata.length > 0) resources = await this.#resources(m, scopeId, begin, end);
    const out: UsagePoint[] = [];
    for (const g of groups) {
      const measures = g.measures.measures;
      const aggregated = 'aggregated' in measures ? measures.aggregated : undefined;
      if (!Array.isArray(aggregated) || aggregated.length === 0) continue;
      const groupby: Record<string, string> = {};
      for (const [k, v] of Object.entries(g.group)) groupby[k] = attr(v);
      const metadata: Record<string, string> = {};
      if (resources !== null) {
        const res = resources.get(groupby[ea.resource_key]);
        // A point whose resource is not found is left out, as CloudKitty does.
        if (res === undefined) continue;
        for (const k of m.metadata) metadata[k] = attr(res[k]);
      }
      out.push({ type: m.type, unit: m.unit, qty: convertQty(aggregated[0][2], m), groupby, metadata });
    }
    return out;
  }

  async #resources(m: MetricConfig, scopeId: string, begin: bigint, end: bigint): Promise<Map<string, Record<string, JsonValue>>> {
    const widen = BigInt(this.periodS) * NS_PER_S;
    const filter = { and: [
      { or: [{ '=': { ended_at: null } }, { '>=': { ended_at: isoOfNs(begin - widen) } }] },
      { '<=': { started_at: isoOfNs(end + widen) } },
      { '=': { [this.scopeKey]: scopeId } },
    ] } as ResourceFilter;
    const out = new Map<string, Record<string, JsonValue>>();
    for await (const r of this.client.resource.searchAll(m.extra_args.resource_type, filter, { sort: [`${m.extra_args.resource_key}:asc`] })) {
      const rec = r as unknown as Record<string, JsonValue>;
      out.set(attr(rec[m.extra_args.resource_key]), rec);
    }
    return out;
  }

  async scopes(begin: bigint, end: bigint): Promise<string[]> {
    const filter = { and: [
      { or: [{ '=': { ended_at: null } }, { '>=': { ended_at: isoOfNs(begin) } }] },
      { '<=': { started_at: isoOfNs(end) } },
    ] } as ResourceFilter;
    const found = new Set<string>();
    try {
      for (const type of new Set(this.metrics.map((m) => m.extra_args.resource_type))) {
        for await (const r of this.client.resource.searchAll(type, filter)) {
          const v = (r as unknown as Record<string, JsonValue>)[this.scopeKey];
          if (typeof v === 'string' && v !== '') found.add(v);
        }
      }
    } catch (e) {
      throw new UsageReadError(null, null, e);
    }
    return [...found].sort();
  }

  async backlog(): Promise<number> {
    try {
      return (await this.client.status({ details: false })).storage.summary.measures;
    } catch (e) {
      throw new UsageReadError(null, null, e);
    }
  }
}

/** A client over Tally's metric API in this process (`api` need not listen). */
export function inProcessGnocchiClient(api: FastifyInstance, auth: GnocchiAuth = { type: 'basic', user: 'admin' }): GnocchiClient {
  const transport = new InjectTransport(async (req) => {
    const res = await api.inject({ method: req.method as HTTPMethods, url: req.url, headers: req.headers, payload: req.payload });
    return { statusCode: res.statusCode, headers: res.headers, rawPayload: res.rawPayload };
  }, { auth });
  return new GnocchiClient({ transport });
}

/** A client over any Gnocchi-compatible endpoint. */
export function httpGnocchiClient(url: string, auth?: GnocchiAuth): GnocchiClient {
  return new GnocchiClient({ url, ...(auth === undefined ? {} : { auth }) });
}
