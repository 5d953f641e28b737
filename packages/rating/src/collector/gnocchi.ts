// Usage of a scope, read as CloudKitty's gnocchi collector reads it: per metric of the
// configuration (in name order), a `POST /v1/aggregates` with `groupby` and a `search` on the
// resource type and the scope, each group's first aggregated value of a period converted
// with factor, offset and mutate; metadata attributes from a resource search over the period
// widened by one period each side (so resources deleted during it are still found). The
// logic is written once over a narrow reader: Gnocchi's REST API here (any Gnocchi, or Tally
// through inject), Tally's own components in process in in-process.ts.
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { GnocchiApiError, GnocchiClient, InjectTransport, type AggregatesGroup, type GnocchiAuth, type JsonValue, type ResourceFilter } from '@tally/client';
import { eachLimited } from '@tally/retry';
import { parseTimestamp } from '@tally/timeseries';
import type { UsagePoint } from '../model.js';
import { Dec, decimalString, doubleTimesFactor, exactDecimalOfDouble } from '../money.js';
import type { MetricConfig } from './metrics-config.js';

export const NS_PER_S = 1_000_000_000n;

export function isoOfNs(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

/** Where usage comes from: the processor only needs these reads. */
export interface UsageSource {
  /** Usage of `scopeId` in [begin, end). */
  usage(scopeId: string, begin: bigint, end: bigint): Promise<UsagePoint[]>;
  /**
   * Usage of `scopeId` in each period of [begin, end) (`periodNs` long, `end - begin` a
   * multiple of it), in order: what `usage` gives for each period, read at once.
   */
  usageOfPeriods(scopeId: string, begin: bigint, end: bigint, periodNs: bigint): Promise<UsagePoint[][]>;
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
  return qtyConverter(m)(value);
}

type Conversion = Pick<MetricConfig, 'factor' | 'offset' | 'mutate' | 'mutate_map'>;

/** The conversion in decimals, every step rounded as Python's decimal context rounds it. */
function decimalConverter(m: Conversion): (value: number) => string {
  const factor = exactDecimalOfDouble(m.factor);
  const offset = exactDecimalOfDouble(m.offset);
  const map = m.mutate === 'MAP' ? [...m.mutate_map ?? []].map(([k, v]) => [exactDecimalOfDouble(k), decimalString(new Dec(String(v)))] as const) : [];
  return (value) => {
    const q = exactDecimalOfDouble(value).times(factor).plus(offset);
    switch (m.mutate) {
      case 'NUMBOOL': return q.isZero() ? '0' : '1';
      case 'NOTNUMBOOL': return q.isZero() ? '1' : '0';
      case 'FLOOR': return decimalString(q.floor());
      case 'CEIL': return decimalString(q.ceil());
      case 'MAP': {
        for (const [k, v] of map) if (k.eq(q)) return v;
        return '0';
      }
      default: return decimalString(q);
    }
  };
}

/**
 * `convertQty` for one metric, with its factor and offset read once. Two cases skip the
 * decimals, with the same result: without an offset, the quantity is zero exactly when the
 * value or the factor is (a non-zero product rounded to 28 digits is not zero), which is
 * all NUMBOOL and NOTNUMBOOL ask; and a factor of 1 without an offset leaves an integer
 * value of 15 digits or fewer as it is (rounding to 28 digits keeps it). Otherwise, without
 * an offset or a mutation, the product is made in integers (doubleTimesFactor).
 */
export function qtyConverter(m: Conversion): (value: number) => string {
  const exact = decimalConverter(m);
  if (m.offset === 0 && (m.mutate === 'NUMBOOL' || m.mutate === 'NOTNUMBOOL')) {
    const zero = m.mutate === 'NUMBOOL' ? '0' : '1';
    const nonZero = m.mutate === 'NUMBOOL' ? '1' : '0';
    return (value) => (!Number.isFinite(value) ? exact(value) : value === 0 || m.factor === 0 ? zero : nonZero);
  }
  // Without an offset or a mutation, the quantity is one rounded product.
  const product = m.offset === 0 && m.mutate === 'NONE' ? doubleTimesFactor(m.factor) : exact;
  if (m.offset === 0 && m.factor === 1 && (m.mutate === 'NONE' || m.mutate === 'FLOOR' || m.mutate === 'CEIL')) {
    return (value) => (Number.isInteger(value) && Math.abs(value) < 1e15 ? String(value === 0 ? 0 : value) : product(value));
  }
  return product;
}

export function attr(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** One group of a groupby aggregates read: its attributes, and its points in the answer's order. */
export interface ReadGroup {
  group: Record<string, unknown>;
  ts: ArrayLike<bigint>;
  values: ArrayLike<number>;
}

/**
 * What the collector needs of a metric store. Reading usage is the same logic whatever the
 * store; only these reads differ (HTTP and JSON for any Gnocchi, direct calls in process).
 */
export interface UsageReader {
  /**
   * `POST /v1/aggregates?groupby=...` of `['aggregate', re_aggregation_method, ['metric',
   * metric, aggregation_method]]` over the resources of the metric's type in the scope,
   * from `start` to `stop`; null when no resource of the scope has the metric.
   */
  groupBy(m: MetricConfig, scopeKey: string, scopeId: string, start: bigint, stop: bigint): Promise<ReadGroup[] | null>;
  /**
   * Optional: `groupBy` of each of `metrics` over the same range in one call, answers in
   * order; a failing metric's read throws UsageReadError naming it. Readers for which one
   * call costs less than a call per metric implement it.
   */
  groupByEach?(metrics: readonly MetricConfig[], scopeKey: string, scopeId: string, start: bigint, stop: bigint): Promise<(ReadGroup[] | null)[]>;
  /**
   * Resources of `type` in the scope alive at some time in [from, to] (ended_at null or >=
   * from, started_at <= to), sorted by `key` ascending, as the resource search answers them.
   */
  resources(type: string, scopeKey: string, scopeId: string, from: bigint, to: bigint, key: string): Promise<Record<string, unknown>[]>;
  /** Values of `scopeKey` of resources of `types` alive at some time in [begin, end]. */
  scopes(types: readonly string[], scopeKey: string, begin: bigint, end: bigint): Promise<Set<string>>;
  backlog(): Promise<number>;
}

export interface GnocchiUsageOptions {
  /** The attribute scopes are (CloudKitty's collect.scope_key). */
  scopeKey?: string;
  /** The rating period, s (widens the metadata search as CloudKitty's does). */
  periodS?: number;
  /** Metrics read at once for one scope (their reads are independent). */
  concurrency?: number;
}

const DEFAULT_CONCURRENCY = 4;

/** A resource of a metadata search, with the periods (indices) whose search finds it. */
interface AliveResource { lo: number; hi: number; rec: Record<string, unknown> }
/** Resources of one metadata search by key. */
type Alive = Map<string, AliveResource[]>;

function nsOf(v: unknown): bigint | null {
  return typeof v === 'string' && v !== '' ? parseTimestamp(v) : null;
}

/** One period's points: each group's first point in it, by group index. */
interface PeriodFirsts {
  groups: number[];
  values: number[];
}

/** Where a metric's read of [begin, ...) starts: a rate needs the point before. */
function readStart(m: MetricConfig, begin: bigint): bigint {
  const ea = m.extra_args;
  return ea.re_aggregation_method.startsWith('rate:') ? begin - BigInt(ea.force_granularity) * NS_PER_S : begin;
}

/** Without use_all_resource_revisions, each resource's latest revision only. */
function latestRevisions(m: MetricConfig, groups: ReadGroup[]): ReadGroup[] {
  if (m.extra_args.use_all_resource_revisions) return groups;
  const last = new Map<string, ReadGroup>();
  const sorted = [...groups].sort((a, b) => {
    const ka = `${attr(a.group.id)}\u0000${attr(a.group.revision_start)}`;
    const kb = `${attr(b.group.id)}\u0000${attr(b.group.revision_start)}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  for (const g of sorted) last.set(attr(g.group.id), g);
  return [...last.values()];
}

/** Per period of [begin, end), each group's first point in it; a single period takes the answer's first point, as CloudKitty does. */
function firstPoints(groups: readonly ReadGroup[], begin: bigint, end: bigint, n: number, periodNs: bigint): PeriodFirsts[] {
  const firsts: PeriodFirsts[] = Array.from({ length: n }, () => ({ groups: [], values: [] }));
  const seen = new Uint8Array(n);
  for (const [gi, g] of groups.entries()) {
    seen.fill(0);
    for (let k = 0; k < g.ts.length; k++) {
      const t = g.ts[k];
      const p = n === 1 ? 0 : t >= begin && t < end ? Number((t - begin) / periodNs) : -1;
      if (p < 0 || seen[p] === 1) continue;
      seen[p] = 1;
      firsts[p].groups.push(gi);
      firsts[p].values.push(g.values[k]);
    }
  }
  return firsts;
}

/**
 * The usage points of each period. A group's attributes, and a resource's metadata, are the
 * same objects in every period (frozen: consumers share them), so a batch does not copy them
 * per point and the writer serialises each once.
 */
function usagePoints(m: MetricConfig, convert: (value: number) => string, groups: readonly ReadGroup[], firsts: readonly PeriodFirsts[], alive: Alive | null): UsagePoint[][] {
  const key = m.extra_args.resource_key;
  const groupbys = groups.map((g) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(g.group)) out[k] = attr(v);
    return Object.freeze(out);
  });
  const noMetadata: Readonly<Record<string, string>> = Object.freeze({});
  const metadataOf = new Map<Record<string, unknown>, Readonly<Record<string, string>>>();
  return firsts.map((f, p) => {
    const out: UsagePoint[] = [];
    for (let i = 0; i < f.groups.length; i++) {
      const groupby = groupbys[f.groups[i]];
      let metadata = noMetadata;
      if (alive !== null) {
        const res = aliveIn(alive.get(groupby[key]), p);
        // A point whose resource is not found is left out, as CloudKitty does.
        if (res === undefined) continue;
        let md = metadataOf.get(res);
        if (md === undefined) {
          const fresh: Record<string, string> = {};
          for (const k of m.metadata) fresh[k] = attr(res[k]);
          metadataOf.set(res, (md = Object.freeze(fresh)));
        }
        metadata = md;
      }
      out.push({ type: m.type, unit: m.unit, qty: convert(f.values[i]), groupby, metadata });
    }
    return out;
  });
}

/** The last in the search's order among the resources period `p`'s search finds. */
function aliveIn(found: readonly AliveResource[] | undefined, p: number): Record<string, unknown> | undefined {
  if (found === undefined) return undefined;
  for (let j = found.length - 1; j >= 0; j--) if (found[j].lo <= p && p <= found[j].hi) return found[j].rec;
  return undefined;
}

/**
 * Usage read as CloudKitty's gnocchi collector reads it, over any `UsageReader`. A range of
 * periods is read with one groupby read per metric and one resource search per metric with
 * metadata, split into periods in memory: the answer is the one per-period reads give,
 * because each period takes the first point whose timestamp falls in it, and the store
 * answers points by their timestamps alone. That holds when the granularity read divides
 * the period (a read's start is rounded down to the granularity) and the re-aggregation is
 * not a rate (a rate's first point depends on the point before the read's start); other
 * metrics are read period by period.
 */
export class ReaderUsageSource implements UsageSource {
  readonly scopeKey: string;
  readonly periodS: number;
  readonly concurrency: number;
  readonly #convert: Map<MetricConfig, (value: number) => string>;

  constructor(readonly reader: UsageReader, readonly metrics: readonly MetricConfig[], opts: GnocchiUsageOptions = {}) {
    this.#convert = new Map(metrics.map((m) => [m, qtyConverter(m)]));
    this.scopeKey = opts.scopeKey ?? 'project_id';
    this.periodS = opts.periodS ?? 3600;
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  }

  async usage(scopeId: string, begin: bigint, end: bigint): Promise<UsagePoint[]> {
    return (await this.usageOfPeriods(scopeId, begin, end, end - begin))[0];
  }

  async usageOfPeriods(scopeId: string, begin: bigint, end: bigint, periodNs: bigint): Promise<UsagePoint[][]> {
    const n = Number((end - begin) / periodNs);
    const perMetric: UsagePoint[][][] = new Array<UsagePoint[][]>(this.metrics.length);
    const shared = this.#sharedReads(scopeId, begin, end, n, periodNs);
    await eachLimited(this.metrics.map((m, i) => ({ m, i })), this.concurrency, async ({ m, i }) => {
      try {
        perMetric[i] = await this.#metricUsage(m, scopeId, begin, n, periodNs, shared.get(m));
      } catch (e) {
        throw e instanceof UsageReadError ? e : new UsageReadError(m.metric, scopeId, e);
      }
    });
    // Metrics in configuration order within each period, as one period's read gives them.
    return Array.from({ length: n }, (_, p) => perMetric.flatMap((byPeriod) => byPeriod[p]));
  }

  /**
   * With a reader that reads several metrics in one call, the metrics read over the whole
   * range, by the instant their read starts (a rate's starts a granularity earlier): one
   * call for each such instant, started now.
   */
  #sharedReads(scopeId: string, begin: bigint, end: bigint, n: number, periodNs: bigint): Map<MetricConfig, Promise<ReadGroup[] | null>> {
    const out = new Map<MetricConfig, Promise<ReadGroup[] | null>>();
    if (this.reader.groupByEach === undefined) return out;
    const byStart = new Map<bigint, MetricConfig[]>();
    for (const m of this.metrics) {
      if (n !== 1 && !ReaderUsageSource.splittable(m, periodNs)) continue;
      const start = readStart(m, begin);
      const list = byStart.get(start);
      if (list === undefined) byStart.set(start, [m]);
      else list.push(m);
    }
    for (const [start, ms] of byStart) {
      const all = this.reader.groupByEach(ms, this.scopeKey, scopeId, start, end);
      for (const [k, m] of ms.entries()) {
        const one = all.then((groups) => groups[k]);
        // Awaited by the metric's own read, unless an earlier metric's failure ends the batch first.
        one.catch(() => undefined);
        out.set(m, one);
      }
    }
    return out;
  }

  /** Whether one read over many periods answers what per-period reads answer (see the class). */
  static splittable(m: MetricConfig, periodNs: bigint): boolean {
    const g = BigInt(m.extra_args.force_granularity) * NS_PER_S;
    return !m.extra_args.re_aggregation_method.startsWith('rate:') && g > 0n && periodNs % g === 0n;
  }

  async #metricUsage(m: MetricConfig, scopeId: string, begin: bigint, n: number, periodNs: bigint, shared?: Promise<ReadGroup[] | null>): Promise<UsagePoint[][]> {
    const end = begin + BigInt(n) * periodNs;
    let groups: ReadGroup[];
    let firsts: PeriodFirsts[];
    if (shared !== undefined || n === 1 || ReaderUsageSource.splittable(m, periodNs)) {
      // No resource of the scope has the metric (yet): nothing to rate, as CloudKitty skips it.
      groups = latestRevisions(m, await (shared ?? this.reader.groupBy(m, this.scopeKey, scopeId, readStart(m, begin), end)) ?? []);
      firsts = firstPoints(groups, begin, end, n, periodNs);
    } else {
      groups = [];
      firsts = Array.from({ length: n }, () => ({ groups: [], values: [] }));
      for (let p = 0; p < n; p++) {
        const pb = begin + BigInt(p) * periodNs;
        for (const g of latestRevisions(m, await this.reader.groupBy(m, this.scopeKey, scopeId, readStart(m, pb), pb + periodNs) ?? [])) {
          if (g.ts.length > 0) {
            firsts[p].groups.push(groups.length);
            firsts[p].values.push(g.values[0]);
          }
          groups.push(g);
        }
      }
    }
    const alive = m.metadata.length > 0 ? await this.#resources(m, scopeId, begin, n, periodNs) : null;
    return usagePoints(m, this.#convert.get(m) ?? qtyConverter(m), groups, firsts, alive);
  }

  /**
   * The metadata search of each period (its resources alive in the period widened by one
   * period each side, as CloudKitty's search), made once over the whole range: each
   * resource is kept with the periods whose search would find it.
   */
  async #resources(m: MetricConfig, scopeId: string, begin: bigint, n: number, periodNs: bigint): Promise<Alive> {
    const widen = BigInt(this.periodS) * NS_PER_S;
    const end = begin + BigInt(n) * periodNs;
    const key = m.extra_args.resource_key;
    const out: Alive = new Map();
    for (const rec of await this.reader.resources(m.extra_args.resource_type, this.scopeKey, scopeId, begin - widen, end + widen, key)) {
      const started = nsOf(rec.started_at);
      const ended = nsOf(rec.ended_at);
      // Period p's search: (ended_at null or ended_at >= b_p - widen) and started_at <= e_p + widen.
      let lo = 0;
      if (started !== null && started > begin + periodNs + widen) lo = Number((started - widen - periodNs - begin + periodNs - 1n) / periodNs);
      let hi = n - 1;
      if (ended !== null) {
        const d = ended + widen - begin;
        hi = Math.min(hi, d < 0n ? -1 : Number(d / periodNs));
      }
      if (lo > hi) continue;
      const k = attr(rec[key]);
      const list = out.get(k);
      if (list === undefined) out.set(k, [{ lo, hi, rec }]);
      else list.push({ lo, hi, rec });
    }
    return out;
  }

  async scopes(begin: bigint, end: bigint): Promise<string[]> {
    try {
      return [...await this.reader.scopes([...new Set(this.metrics.map((m) => m.extra_args.resource_type))], this.scopeKey, begin, end)].sort();
    } catch (e) {
      throw new UsageReadError(null, null, e);
    }
  }

  async backlog(): Promise<number> {
    try {
      return await this.reader.backlog();
    } catch (e) {
      throw new UsageReadError(null, null, e);
    }
  }
}

/** The reads over Gnocchi's REST API (any Gnocchi, or Tally over HTTP). */
export class GnocchiApiReader implements UsageReader {
  constructor(readonly client: GnocchiClient) {}

  async groupBy(m: MetricConfig, scopeKey: string, scopeId: string, start: bigint, stop: bigint): Promise<ReadGroup[] | null> {
    const ea = m.extra_args;
    const search = { and: [{ '=': { type: ea.resource_type } }, { '=': { [scopeKey]: scopeId } }] } as ResourceFilter;
    let groups: AggregatesGroup[];
    try {
      groups = await this.client.aggregates.groupBy(
        ['aggregate', ea.re_aggregation_method, ['metric', m.metric, ea.aggregation_method]],
        ea.resource_type, search, m.groupby,
        { start: isoOfNs(start), stop: isoOfNs(stop), ...(ea.force_granularity > 0 ? { granularity: ea.force_granularity } : {}) },
      );
    } catch (e) {
      if (e instanceof GnocchiApiError && (e.status === 404 || (e.status === 400 && /not found/i.test(e.message)))) return null;
      throw e;
    }
    return groups.map((g) => {
      const measures = g.measures.measures;
      const aggregated = 'aggregated' in measures && Array.isArray(measures.aggregated) ? measures.aggregated : [];
      return { group: g.group, ts: aggregated.map((x) => parseTimestamp(x[0])), values: aggregated.map((x) => x[2]) };
    });
  }

  async resources(type: string, scopeKey: string, scopeId: string, from: bigint, to: bigint, key: string): Promise<Record<string, unknown>[]> {
    const filter = { and: [
      { or: [{ '=': { ended_at: null } }, { '>=': { ended_at: isoOfNs(from) } }] },
      { '<=': { started_at: isoOfNs(to) } },
      { '=': { [scopeKey]: scopeId } },
    ] } as ResourceFilter;
    const out: Record<string, unknown>[] = [];
    for await (const r of this.client.resource.searchAll(type, filter, { sort: [`${key}:asc`] })) out.push(r as unknown as Record<string, unknown>);
    return out;
  }

  async scopes(types: readonly string[], scopeKey: string, begin: bigint, end: bigint): Promise<Set<string>> {
    const filter = { and: [
      { or: [{ '=': { ended_at: null } }, { '>=': { ended_at: isoOfNs(begin) } }] },
      { '<=': { started_at: isoOfNs(end) } },
    ] } as ResourceFilter;
    const found = new Set<string>();
    for (const type of types) {
      for await (const r of this.client.resource.searchAll(type, filter)) {
        const v = (r as unknown as Record<string, JsonValue>)[scopeKey];
        if (typeof v === 'string' && v !== '') found.add(v);
      }
    }
    return found;
  }

  async backlog(): Promise<number> {
    return (await this.client.status({ details: false })).storage.summary.measures;
  }
}

/** Usage read through Gnocchi's REST API: Tally in process (an InjectTransport over its API) or any Gnocchi over HTTP. */
export class GnocchiUsageSource extends ReaderUsageSource {
  constructor(readonly client: GnocchiClient, metrics: readonly MetricConfig[], opts: GnocchiUsageOptions = {}) {
    super(new GnocchiApiReader(client), metrics, opts);
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
