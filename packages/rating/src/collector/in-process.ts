// Usage read from Tally's own metric store in this process (`tally serve`, `tally rating`
// without --gnocchi-url): the reads the HTTP collector makes, answered by the indexer,
// the aggregate storage and the engine directly, through the very functions the metric API
// evaluates them with, so the answers are the API's without a request, a JSON body or its
// parsing. No deadline and no bound on points apply: the reader is not a client to protect
// the server from.
import {
  MetricsNotFound, indexerResourceSearch, measureResourceGroupsOfQueries, resourceJson,
  type AggregateResource, type ApiServices, type GroupMeasured, type GroupQuery, type GroupQueryAnswer, type Identity, type ResourceSearch,
} from '@tally/rest';
import type { ResourceFilter } from '@tally/indexer';
import { parseOperations, type OpNode } from '@tally/timeseries';
import type { MetricConfig } from './metrics-config.js';
import { NS_PER_S, ReaderUsageSource, UsageReadError, isoOfNs, type GnocchiUsageOptions, type ReadGroup, type UsageReader } from './gnocchi.js';

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
 * Groups evaluated at once. The storage answers a group's reads (the metric's manifest, then
 * its splits) one after the other, each a file operation on the thread pool; a scope's
 * groups (one per resource with the usual groupby) are many, and several in flight keep the
 * pool busy while this thread decodes and aggregates.
 */
const GROUP_READS_AT_ONCE = 8;

/** A group's single aggregated series, coarsest granularity first, as the API lists it. */
function readGroup({ group, measured }: GroupMeasured): ReadGroup {
  const series = measured.result.groups.map((g) => g.series[0]);
  if (series.length === 1) return { group, ts: series[0].ts, values: series[0].values };
  return { group, ts: series.flatMap((x) => [...x.ts]), values: series.flatMap((x) => [...x.values]) };
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
    return (await this.groupByEach([m], scopeKey, scopeId, start, stop))[0];
  }

  /**
   * The metrics of one resource type and groupby are evaluated over one search's resources
   * in one call, which looks each archive policy and each metric up once for all of them.
   */
  async groupByEach(metrics: readonly MetricConfig[], scopeKey: string, scopeId: string, start: bigint, stop: bigint): Promise<(ReadGroup[] | null)[]> {
    const out: (ReadGroup[] | null)[] = metrics.map(() => null);
    const errors: unknown[] = metrics.map(() => undefined);
    // As the aggregates API: the groupby attributes, each once, sorted, are also the sort.
    const groupbyOf = (m: MetricConfig): string[] => [...new Set(m.groupby)].sort();
    const parts = new Map<string, number[]>();
    for (const [i, m] of metrics.entries()) {
      const key = JSON.stringify([m.extra_args.resource_type, groupbyOf(m)]);
      const part = parts.get(key);
      if (part === undefined) parts.set(key, [i]);
      else part.push(i);
    }
    const read = { indexer: this.parts.indexer, storage: this.parts.storage, requestDeadlineMs: 0, maxAnswerPoints: 0 };
    await Promise.all([...parts.values()].map(async (idx) => {
      const first = metrics[idx[0]];
      const groupby = groupbyOf(first);
      let answers: GroupQueryAnswer[];
      try {
        const resources = await this.#resourcesOf(first.extra_args.resource_type, scopeKey, scopeId, groupby);
        answers = await measureResourceGroupsOfQueries(read, resources, groupby, idx.map((i) => this.#query(metrics[i], start, stop)), { concurrency: GROUP_READS_AT_ONCE });
      } catch (e) {
        for (const i of idx) errors[i] = e;
        return;
      }
      for (const [k, answer] of answers.entries()) {
        // No resource of the scope has the metric: null, as the API's 400 says.
        if ('error' in answer) errors[idx[k]] = answer.error instanceof MetricsNotFound ? undefined : answer.error;
        else out[idx[k]] = answer.groups.map(readGroup);
      }
    }));
    for (const [i, e] of errors.entries()) if (e !== undefined) throw new UsageReadError(metrics[i].metric, scopeId, e);
    return out;
  }

  #query(m: MetricConfig, start: bigint, stop: bigint): GroupQuery {
    const ea = m.extra_args;
    return {
      op: this.#operations(m),
      keys: [[m.metric, ea.aggregation_method]],
      args: {
        start, stop, neededOverlap: 100, fill: 'dropna',
        ...(ea.force_granularity > 0 ? { granularities: [BigInt(ea.force_granularity) * NS_PER_S] } : {}),
      },
    };
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
