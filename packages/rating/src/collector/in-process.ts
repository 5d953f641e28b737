// Usage read from Tally's own metric store in this process (`tally serve`, `tally rating`
// without --gnocchi-url): the reads the HTTP collector makes, answered by the indexer,
// the aggregate storage and the engine directly, through the very functions the metric API
// evaluates them with, so the answers are the API's without a request, a JSON body or its
// parsing. No deadline and no bound on points apply: the reader is not a client to protect
// the server from.
import {
  MetricsNotFound, indexerResourceSearch, measureResourceGroups, resourceJson,
  type ApiServices, type CommonArgs, type Identity, type ResourceSearch,
} from '@tally/rest';
import type { ResourceFilter } from '@tally/indexer';
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

export class StoreUsageReader implements UsageReader {
  readonly #search: ResourceSearch;
  readonly #ops = new Map<string, OpNode>();

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
    const search = { and: [{ '=': { type: ea.resource_type } }, { '=': { [scopeKey]: scopeId } }] };
    const resources = await this.#search.search(READER, ea.resource_type, search, groupby);
    const args: CommonArgs = {
      start, stop, neededOverlap: 100, fill: 'dropna',
      ...(ea.force_granularity > 0 ? { granularities: [BigInt(ea.force_granularity) * NS_PER_S] } : {}),
    };
    const read = { indexer: this.parts.indexer, storage: this.parts.storage, requestDeadlineMs: 0, maxAnswerPoints: 0 };
    let groups;
    try {
      groups = await measureResourceGroups(read, resources, groupby, this.#operations(m), [[m.metric, ea.aggregation_method]], args);
    } catch (e) {
      if (e instanceof MetricsNotFound) return null;
      throw e;
    }
    return groups.map(({ group, measured }) => {
      // The single aggregated series, coarsest granularity first, as the API lists it.
      const series = measured.result.groups.map((g) => g.series[0]);
      if (series.length === 1) return { group, ts: series[0].ts, values: series[0].values };
      return { group, ts: series.flatMap((s) => [...s.ts]), values: series.flatMap((s) => [...s.values]) };
    });
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
