// Usage read from Tally's own metric store in this process (`tally serve`, `tally rating`
// without --gnocchi-url): the reads the HTTP collector makes, answered by the indexer,
// the aggregate storage and the engine directly, through the very functions the metric API
// evaluates them with, so the answers are the API's without a request, a JSON body or its
// parsing. No deadline and no bound on points apply: the reader is not a client to protect
// the server from.
import {
  MetricsNotFound, indexerResourceSearch, measureResourceGroups, resourceJson,
  type AggregateResource, type ApiServices, type CommonArgs, type GroupMeasured, type Identity, type ResourceSearch,
} from '@tally/rest';
import type { ResourceFilter } from '@tally/indexer';
import { eachLimited } from '@tally/retry';
import { parseOperations, type OpNode } from '@tally/timeseries';
import type { MetricConfig } from './metrics-config.js';
import { NS_PER_S, ReaderUsageSource, isoOfNs, type GnocchiUsageOptions, type ReadGroup, type UsageReader } from './gnocchi.js';

/** The parts of Tally's metric store the reader needs. */
export type MetricStoreParts = Pick<ApiServices, 'indexer' | 'storage' | 'incoming'>;

/** The administrator the API's basic mode sees: the reader lists every project's resources. */
const READER: Identity = { userId: 'admin', projectId: null, roles: ['admin'], creator: 'admin' };

/** `(ended_at null or ended_at >= from) and started_at <= to`, and `extra` when given. */
function aliveFilter(from: bigint, to: bigint, extra?: ResourceFilter): ResourceFilter {
  return { and: [
    { or: [{ '=': { ended_at: null } }, { '>=': { ended_at: isoOfNs(from) } }] },
    { '<=': { started_at: isoOfNs(to) } },
    ...(extra === undefined ? [] : [extra]),
  ] } as ResourceFilter;
}

/**
 * Groups of one groupby read evaluated at once. The storage answers a group's reads (the
 * metric's manifest, then its splits) one after the other, each a file operation on the
 * thread pool; a scope's groups (one per resource with the usual groupby) are many, and
 * several in flight keep the pool busy while this thread decodes and aggregates.
 */
const GROUP_READS_AT_ONCE = 8;

/** `resources` (sorted by `groupby`) cut into runs of whole groups, at most `parts` runs. */
function sliceGroups(resources: readonly AggregateResource[], groupby: readonly string[], parts: number): AggregateResource[][] {
  const key = (r: AggregateResource): string => JSON.stringify(groupby.map((a) => r.json[a] ?? null));
  const starts: number[] = [];
  let last: string | null = null;
  for (const [i, r] of resources.entries()) {
    const k = key(r);
    if (k !== last) starts.push(i);
    last = k;
  }
  const per = Math.max(1, Math.ceil(starts.length / parts));
  const out: AggregateResource[][] = [];
  for (let g = 0; g < starts.length; g += per) out.push(resources.slice(starts[g], starts[g + per] ?? resources.length));
  return out;
}

export class StoreUsageReader implements UsageReader {
  readonly #search: ResourceSearch;
  readonly #ops = new Map<string, OpNode>();
  /**
   * Searches in flight by type, scope and groupby: the metrics of one type in a scope are
   * read together and search the same resources, so they share one search.
   */
  readonly #searches = new Map<string, Promise<AggregateResource[]>>();

  constructor(readonly parts: MetricStoreParts) {
    this.#search = indexerResourceSearch(parts, 'basic');
  }

  #operations(m: MetricConfig): OpNode {
    const key = `${m.metric}\u0000${m.extra_args.aggregation_method}\u0000${m.extra_args.re_aggregation_method}`;
    let op = this.#ops.get(key);
    if (op === undefined) {
      op = parseOperations(['aggregate', m.extra_args.re_aggregation_method, ['metric', m.metric, m.extra_args.aggregation_method]]);
      this.#ops.set(key, op);
    }
    return op;
  }

  async groupBy(m: MetricConfig, scopeKey: string, scopeId: string, start: bigint, stop: bigint): Promise<ReadGroup[] | null> {
    const ea = m.extra_args;
    // As the aggregates API: the groupby attributes, each once, sorted, are also the sort.
    const groupby = [...new Set(m.groupby)].sort();
    const resources = await this.#resourcesOf(ea.resource_type, scopeKey, scopeId, groupby);
    const args: CommonArgs = {
      start, stop, neededOverlap: 100, fill: 'dropna',
      ...(ea.force_granularity > 0 ? { granularities: [BigInt(ea.force_granularity) * NS_PER_S] } : {}),
    };
    const read = { indexer: this.parts.indexer, storage: this.parts.storage, requestDeadlineMs: 0, maxAnswerPoints: 0 };
    // Runs of whole groups evaluated side by side give the groups the one call over all of
    // them gives, in the same order; only "no group has the metric" is decided over all.
    const slices = sliceGroups(resources, groupby, GROUP_READS_AT_ONCE);
    const measured: GroupMeasured[][] = slices.map(() => []);
    await eachLimited([...slices.keys()], GROUP_READS_AT_ONCE, async (i) => {
      try {
        measured[i] = await measureResourceGroups(read, slices[i], groupby, this.#operations(m), [[m.metric, ea.aggregation_method]], args);
      } catch (e) {
        if (!(e instanceof MetricsNotFound)) throw e;
      }
    });
    const groups = measured.flat();
    if (groups.length === 0) return null;
    return groups.map(({ group, measured }) => {
      // The single aggregated series, coarsest granularity first, as the API lists it.
      const series = measured.result.groups.map((g) => g.series[0]);
      if (series.length === 1) return { group, ts: series[0].ts, values: series[0].values };
      return { group, ts: series.flatMap((s) => [...s.ts]), values: series.flatMap((s) => [...s.values]) };
    });
  }

  #resourcesOf(type: string, scopeKey: string, scopeId: string, groupby: readonly string[]): Promise<AggregateResource[]> {
    const key = JSON.stringify([type, scopeKey, scopeId, groupby]);
    let found = this.#searches.get(key);
    if (found === undefined) {
      const search = { and: [{ '=': { type } }, { '=': { [scopeKey]: scopeId } }] };
      found = this.#search.search(READER, type, search, [...groupby]);
      this.#searches.set(key, found);
      const forget = (): void => { this.#searches.delete(key); };
      found.then(forget, forget);
    }
    return found;
  }

  async resources(type: string, scopeKey: string, scopeId: string, from: bigint, to: bigint, key: string): Promise<Record<string, unknown>[]> {
    const rs = await this.parts.indexer.listResources({ type, filter: aliveFilter(from, to, { '=': { [scopeKey]: scopeId } } as ResourceFilter), sort: [{ key, dir: 'asc' }] });
    return rs.map((r) => resourceJson(r));
  }

  async scopes(types: readonly string[], scopeKey: string, begin: bigint, end: bigint): Promise<Set<string>> {
    const found = new Set<string>();
    for (const type of types) {
      for (const r of await this.parts.indexer.listResources({ type, filter: aliveFilter(begin, end) })) {
        const v = resourceJson(r, [scopeKey])[scopeKey];
        if (typeof v === 'string' && v !== '') found.add(v);
      }
    }
    return found;
  }

  async backlog(): Promise<number> {
    return (await this.parts.incoming.backlog()).measures;
  }
}

/** Usage of Tally's metric store in this process. */
export class StoreUsageSource extends ReaderUsageSource {
  constructor(parts: MetricStoreParts, metrics: readonly MetricConfig[], opts: GnocchiUsageOptions = {}) {
    super(new StoreUsageReader(parts), metrics, opts);
  }
}
