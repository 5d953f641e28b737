// A client of Gnocchi's REST API v1 (4.4.2), for any compatible endpoint: Tally, Gnocchi.
// Calls are grouped as the API is (client.metric.create, client.resource.search...); each
// resolves with the decoded answer or throws GnocchiApiError / GnocchiTransportError.
import { HttpTransport, type Query, type RequestSpec, type Transport, type TransportOptions } from './transport.js';
import type { JsonValue } from './json.js';
import type {
  AggregatesGroup, AggregatesQuery, ArchivePolicy, ArchivePolicyCreate, ArchivePolicyItemInput, ArchivePolicyRule,
  Capabilities, CreatedMetric, Measure, MeasureInput, MeasuresQuery, Metric, MetricCreate, MetricDetail, MetricListQuery,
  MetricsAggregates, MetricsMeasuresBatch, Operations, Page, PageQuery, Resource, ResourceCreate, ResourceFilter,
  ResourceListQuery, ResourcePatch, ResourcesAggregates, ResourcesMetricsMeasuresBatch, ResourceType, ResourceTypeCreate,
  ResourceTypePatchOp, Status, V1Index, Versions,
} from './types.js';

/** Where the client sends its requests: an HTTP endpoint, or a transport of the caller's (InjectTransport). */
export type GnocchiClientOptions = TransportOptions | { transport: Transport };

type Attrs = Record<string, JsonValue>;

const seg = (s: string): string => encodeURIComponent(s);

/** The query of the next page, from a Link header's rel="next" URL; null when there is none. */
export function nextPageQuery(link: string | string[] | undefined): Record<string, string | string[]> | null {
  const text = Array.isArray(link) ? link.join(', ') : link;
  if (!text) return null;
  for (const part of text.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m || !/\brel\s*=\s*"?next"?/i.test(m[2])) continue;
    const q: Record<string, string | string[]> = {};
    for (const [k, v] of new URL(m[1], 'http://x/').searchParams) {
      const prev = q[k];
      q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return q;
  }
  return null;
}

/** Typed query objects (numbers, booleans, lists) as sent. */
function asQuery<Q extends object>(q: Q | undefined): Query {
  return { ...(q ?? {}) } as Query;
}

export class GnocchiClient {
  readonly transport: Transport;

  constructor(opts: GnocchiClientOptions) {
    this.transport = 'transport' in opts ? opts.transport : new HttpTransport(opts);
  }

  /** Closes pooled connections; calls made afterwards open new ones. */
  close(): void {
    this.transport.close();
  }

  async #json<T>(spec: RequestSpec): Promise<T> {
    return (await this.transport.json<T>(spec)).value;
  }

  async #page<T, Q extends PageQuery>(spec: RequestSpec): Promise<Page<T, Q>> {
    const { value, res } = await this.transport.json<T[]>(spec);
    const next = nextPageQuery(res.headers.link);
    return { items: value, next: next as Q | null };
  }

  /** Every item of a paged list, following the server's next links. */
  async *#all<T, Q extends PageQuery>(first: Q | undefined, list: (q: Q | undefined) => Promise<Page<T, Q>>): AsyncGenerator<T> {
    let q: Q | undefined = first;
    for (;;) {
      const page = await list(q);
      yield* page.items;
      if (page.next === null || page.items.length === 0) return;
      q = page.next;
    }
  }

  // ---------------------------------------------------------------- roots

  /** GET /: versions of the API. */
  versions(): Promise<Versions> {
    return this.#json({ method: 'GET', path: '/' });
  }

  /** GET /v1/: links to the collections. */
  v1(): Promise<V1Index> {
    return this.#json({ method: 'GET', path: '/v1/' });
  }

  capabilities(): Promise<Capabilities> {
    return this.#json({ method: 'GET', path: '/v1/capabilities' });
  }

  /** Backlog of measures not yet processed (per metric with details, the default) and metricd's processors. */
  status(opts: { details?: boolean } = {}): Promise<Status> {
    return this.#json({ method: 'GET', path: '/v1/status', query: { details: opts.details } });
  }

  // ---------------------------------------------------------------- archive policies

  readonly archivePolicy = {
    create: (ap: ArchivePolicyCreate): Promise<ArchivePolicy> =>
      this.#json({ method: 'POST', path: '/v1/archive_policy', body: ap }),
    get: (name: string): Promise<ArchivePolicy> =>
      this.#json({ method: 'GET', path: `/v1/archive_policy/${seg(name)}` }),
    list: (): Promise<ArchivePolicy[]> =>
      this.#json({ method: 'GET', path: '/v1/archive_policy' }),
    /** Changes the points or timespan of existing granularities (the granularities stay). */
    update: (name: string, definition: ArchivePolicyItemInput[]): Promise<ArchivePolicy> =>
      this.#json({ method: 'PATCH', path: `/v1/archive_policy/${seg(name)}`, body: { definition } }),
    delete: async (name: string): Promise<void> => {
      await this.transport.request({ method: 'DELETE', path: `/v1/archive_policy/${seg(name)}` });
    },
  };

  readonly archivePolicyRule = {
    create: (rule: ArchivePolicyRule): Promise<ArchivePolicyRule> =>
      this.#json({ method: 'POST', path: '/v1/archive_policy_rule', body: rule }),
    get: (name: string): Promise<ArchivePolicyRule> =>
      this.#json({ method: 'GET', path: `/v1/archive_policy_rule/${seg(name)}` }),
    list: (): Promise<ArchivePolicyRule[]> =>
      this.#json({ method: 'GET', path: '/v1/archive_policy_rule' }),
    rename: (name: string, newName: string): Promise<ArchivePolicyRule> =>
      this.#json({ method: 'PATCH', path: `/v1/archive_policy_rule/${seg(name)}`, body: { name: newName } }),
    delete: async (name: string): Promise<void> => {
      await this.transport.request({ method: 'DELETE', path: `/v1/archive_policy_rule/${seg(name)}` });
    },
  };

  // ---------------------------------------------------------------- metrics

  readonly metric = {
    create: (m: MetricCreate): Promise<CreatedMetric> =>
      this.#json({ method: 'POST', path: '/v1/metric', body: m }),
    get: (id: string): Promise<MetricDetail> =>
      this.#json({ method: 'GET', path: `/v1/metric/${seg(id)}` }),
    /** One page (the server's max_limit at most); `next` is the query of the following one. */
    list: (q?: MetricListQuery): Promise<Page<Metric, MetricListQuery>> =>
      this.#page({ method: 'GET', path: '/v1/metric', query: asQuery(q) }),
    /** Every metric matching `q`, page after page. */
    listAll: (q?: MetricListQuery): AsyncGenerator<Metric> => this.#all(q, (p) => this.metric.list(p)),
    delete: async (id: string): Promise<void> => {
      await this.transport.request({ method: 'DELETE', path: `/v1/metric/${seg(id)}` });
    },
    /**
     * Not retried once it may have reached the server: resent measures of a timestamp
     * already processed would count twice in aggregates such as count and sum.
     */
    addMeasures: async (id: string, measures: MeasureInput[]): Promise<void> => {
      await this.transport.request({ method: 'POST', path: `/v1/metric/${seg(id)}/measures`, body: measures });
    },
    measures: (id: string, q?: MeasuresQuery): Promise<Measure[]> =>
      this.#json({ method: 'GET', path: `/v1/metric/${seg(id)}/measures`, query: asQuery(q) }),
  };

  // ---------------------------------------------------------------- batch

  readonly batch = {
    /** Measures of several metrics by id, in one request (not retried once sent, as addMeasures). */
    metricsMeasures: async (batch: MetricsMeasuresBatch): Promise<void> => {
      await this.transport.request({ method: 'POST', path: '/v1/batch/metrics/measures', body: batch });
    },
    /**
     * Measures of named metrics of resources; with `createMetrics`, metrics missing from a
     * resource are created (with the archive policy and unit given beside their measures).
     */
    resourcesMetricsMeasures: async (batch: ResourcesMetricsMeasuresBatch, opts: { createMetrics?: boolean } = {}): Promise<void> => {
      await this.transport.request({
        method: 'POST', path: '/v1/batch/resources/metrics/measures', body: batch,
        query: { create_metrics: opts.createMetrics },
      });
    },
  };

  // ---------------------------------------------------------------- resources

  readonly resource = {
    create: <A extends Attrs = Attrs>(type: string, r: ResourceCreate): Promise<Resource<A>> =>
      this.#json({ method: 'POST', path: `/v1/resource/${seg(type)}`, body: r }),
    get: <A extends Attrs = Attrs>(type: string, id: string): Promise<Resource<A>> =>
      this.#json({ method: 'GET', path: `/v1/resource/${seg(type)}/${seg(id)}` }),
    /** Changes attributes (a new revision in the history); metrics given are added. */
    update: <A extends Attrs = Attrs>(type: string, id: string, patch: ResourcePatch): Promise<Resource<A>> =>
      this.#json({ method: 'PATCH', path: `/v1/resource/${seg(type)}/${seg(id)}`, body: patch }),
    delete: async (type: string, id: string): Promise<void> => {
      await this.transport.request({ method: 'DELETE', path: `/v1/resource/${seg(type)}/${seg(id)}` });
    },
    list: <A extends Attrs = Attrs>(type: string, q?: ResourceListQuery): Promise<Page<Resource<A>, ResourceListQuery>> =>
      this.#page({ method: 'GET', path: `/v1/resource/${seg(type)}`, query: asQuery(q) }),
    listAll: <A extends Attrs = Attrs>(type: string, q?: ResourceListQuery): AsyncGenerator<Resource<A>> =>
      this.#all(q, (p) => this.resource.list<A>(type, p)),
    /** Resources of `type` (and its subtypes for generic) matching a filter body or a query-string filter. */
    search: <A extends Attrs = Attrs>(type: string, filter?: ResourceFilter | string, q?: ResourceListQuery): Promise<Page<Resource<A>, ResourceListQuery>> =>
      this.#page({
        method: 'POST', path: `/v1/search/resource/${seg(type)}`, idempotent: true,
        query: { ...asQuery(q), filter: typeof filter === 'string' ? filter : undefined },
        body: filter === undefined || typeof filter === 'string' ? undefined : filter,
      }),
    searchAll: <A extends Attrs = Attrs>(type: string, filter?: ResourceFilter | string, q?: ResourceListQuery): AsyncGenerator<Resource<A>> =>
      this.#all(q, (p) => this.resource.search<A>(type, filter, p)),
    /** Revisions of one resource, oldest first. */
    history: <A extends Attrs = Attrs>(type: string, id: string, q?: PageQuery & { details?: boolean }): Promise<Page<Resource<A>, PageQuery>> =>
      this.#page({ method: 'GET', path: `/v1/resource/${seg(type)}/${seg(id)}/history`, query: asQuery(q) }),
    /** Deletes the resources of `type` matching the filter; resolves with how many. */
    deleteMatching: async (type: string, filter: ResourceFilter): Promise<number> =>
      (await this.#json<{ deleted: number }>({ method: 'DELETE', path: `/v1/resource/${seg(type)}`, body: filter })).deleted,
    /** Measures of a resource's metric by name. */
    measures: (type: string, id: string, metricName: string, q?: MeasuresQuery): Promise<Measure[]> =>
      this.#json({ method: 'GET', path: `/v1/resource/${seg(type)}/${seg(id)}/metric/${seg(metricName)}/measures`, query: asQuery(q) }),
    addMeasures: async (type: string, id: string, metricName: string, measures: MeasureInput[]): Promise<void> => {
      await this.transport.request({ method: 'POST', path: `/v1/resource/${seg(type)}/${seg(id)}/metric/${seg(metricName)}/measures`, body: measures });
    },
  };

  readonly resourceType = {
    create: (rt: ResourceTypeCreate): Promise<ResourceType> =>
      this.#json({ method: 'POST', path: '/v1/resource_type', body: rt }),
    get: (name: string): Promise<ResourceType> =>
      this.#json({ method: 'GET', path: `/v1/resource_type/${seg(name)}` }),
    list: (): Promise<ResourceType[]> =>
      this.#json({ method: 'GET', path: '/v1/resource_type' }),
    /** Adds or removes attributes (JSON Patch). */
    update: (name: string, ops: ResourceTypePatchOp[]): Promise<ResourceType> =>
      this.#json({ method: 'PATCH', path: `/v1/resource_type/${seg(name)}`, body: ops, contentType: 'application/json-patch+json' }),
    delete: async (name: string): Promise<void> => {
      await this.transport.request({ method: 'DELETE', path: `/v1/resource_type/${seg(name)}` });
    },
  };

  // ---------------------------------------------------------------- aggregates

  readonly aggregates = {
    /** Operations over metrics named by id: `(metric ID METHOD)`. */
    metrics: (operations: Operations, q?: AggregatesQuery): Promise<MetricsAggregates> =>
      this.#json({ method: 'POST', path: '/v1/aggregates', idempotent: true, query: asQuery(q), body: { operations } }),
    /** Operations over metrics named by name (fnmatch) on the resources a search finds. */
    resources: (operations: Operations, resourceType: string, search: ResourceFilter | string | null, q?: AggregatesQuery): Promise<ResourcesAggregates> =>
      this.#json({ method: 'POST', path: '/v1/aggregates', idempotent: true, query: asQuery(q), body: { operations, resource_type: resourceType, search } }),
    /** As `resources`, once per group of resources sharing the values of `groupby`. */
    groupBy: (operations: Operations, resourceType: string, search: ResourceFilter | string | null, groupby: string[], q?: AggregatesQuery): Promise<AggregatesGroup[]> =>
      this.#json({ method: 'POST', path: '/v1/aggregates', idempotent: true, query: { ...asQuery(q), groupby }, body: { operations, resource_type: resourceType, search } }),
  };
}
