// The one Indexer implementation: Kysely over SQLite (better-sqlite3) or PostgreSQL.
//
// Semantics follow Gnocchi 4.4.2's SQLAlchemy indexer: same error classes and messages,
// same orderings, same pagination (oslo.db paginate_query) quirks. Everything here is
// portable SQL; the only dialect switches live in connect.ts and tx.ts.
//
// This class owns the connection and the per-connection state (the policy cache, the
// group commit of metric creations) and delegates each role to its module:
// archive-policies.ts, archive-policy-rules.ts, metrics.ts, metric-list.ts,
// resource-types.ts, resources.ts, resource-list.ts.
import type { Kysely } from 'kysely';
import * as ap from './archive-policies.js';
import * as rules from './archive-policy-rules.js';
import { resolveOptions, type Ctx } from './context.js';
import { listMetrics } from './metric-list.js';
import * as metrics from './metrics.js';
import { schemaVersion, upgrade } from './migrate.js';
import { PolicyCache } from './policy-cache.js';
import { MetricCache } from './metric-cache.js';
import { listResources } from './resource-list.js';
import * as rt from './resource-types.js';
import * as res from './resources.js';
import { importResource } from './resource-import.js';
import type { Database } from './schema.js';
import { inWriteTx } from './tx.js';
import type {
  ArchivePolicy,
  ArchivePolicyItem,
  ArchivePolicyRule,
  DialectName,
  ImportedResource,
  Indexer,
  IndexerOptions,
  ListMetricsOptions,
  ListResourcesOptions,
  Metric,
  NewMetric,
  NewResource,
  Resource,
  ResourceAttributeSchema,
  ResourceFilter,
  ResourceType,
  ResourceTypeChange,
  ResourceUpdate,
  UpgradeResult,
} from './types.js';

/** What openIndexer() learns from the driver (connect.ts); tests may pass nothing. */
export interface SqlIndexerHooks {
  dataVersion?: () => number;
  /** A stamp that moves whenever any connection commits or this one changes a row (metric-cache.ts). */
  changes?: () => string;
}

export class SqlIndexer implements Indexer {
  private closed = false;

  private readonly ctx: Ctx;
  private readonly policyCache: PolicyCache;
  private readonly metricCache: MetricCache;
  private readonly metricCreations: metrics.MetricGroupCommit;

  /** Takes ownership of `db` (close() destroys it). Use openIndexer() to build one from a URL. */
  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: DialectName,
    options: IndexerOptions = {},
    hooks: SqlIndexerHooks = {},
  ) {
    this.ctx = { db, dialect, ...resolveOptions(options), write: (fn) => this.write(fn) };
    this.policyCache = new PolicyCache(hooks.dataVersion);
    const changes = hooks.changes;
    this.metricCache = new MetricCache(changes === undefined ? undefined : () => (this.closed ? null : changes()));
    this.metricCreations = new metrics.MetricGroupCommit(this.ctx);
  }

  async upgrade(): Promise<UpgradeResult> {
    this.policyCache.drop();
    try {
      return await upgrade(this.db, this.dialect);
    } finally {
      this.policyCache.drop();
    }
  }

  schemaVersion(): Promise<number> {
    return schemaVersion(this.db);
  }

  private write<T>(fn: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    return inWriteTx(this.db, this.dialect, fn);
  }

  // ---------------------------------------------------------------- archive policies

  createArchivePolicy(policy: ArchivePolicy): Promise<ArchivePolicy> {
    return ap.createArchivePolicy(this.ctx, this.policyCache, policy);
  }

  getArchivePolicy(name: string): Promise<ArchivePolicy | null> {
    return ap.getArchivePolicy(this.ctx, this.policyCache, name);
  }

  getArchivePolicies(names: Iterable<string>): Promise<Map<string, ArchivePolicy>> {
    return ap.getArchivePolicies(this.ctx, this.policyCache, names);
  }

  listArchivePolicies(): Promise<ArchivePolicy[]> {
    return ap.listArchivePolicies(this.ctx);
  }

  updateArchivePolicy(name: string, definition: readonly ArchivePolicyItem[]): Promise<ArchivePolicy> {
    return ap.updateArchivePolicy(this.ctx, this.policyCache, name, definition);
  }

  deleteArchivePolicy(name: string): Promise<void> {
    return ap.deleteArchivePolicy(this.ctx, this.policyCache, name);
  }

  // ---------------------------------------------------------------- archive policy rules

  createArchivePolicyRule(rule: ArchivePolicyRule): Promise<ArchivePolicyRule> {
    return rules.createArchivePolicyRule(this.ctx, this.policyCache, rule);
  }

  getArchivePolicyRule(name: string): Promise<ArchivePolicyRule | null> {
    return rules.getArchivePolicyRule(this.ctx, name);
  }

  listArchivePolicyRules(): Promise<ArchivePolicyRule[]> {
    return rules.listArchivePolicyRules(this.ctx, this.policyCache);
  }

  renameArchivePolicyRule(name: string, newName: string): Promise<ArchivePolicyRule> {
    return rules.renameArchivePolicyRule(this.ctx, this.policyCache, name, newName);
  }

  deleteArchivePolicyRule(name: string): Promise<void> {
    return rules.deleteArchivePolicyRule(this.ctx, this.policyCache, name);
  }

  getArchivePolicyForMetric(metricName: string | null): Promise<ArchivePolicy> {
    return rules.getArchivePolicyForMetric(this.ctx, this.policyCache, metricName);
  }

  // ---------------------------------------------------------------- metrics

  createMetric(m: NewMetric): Promise<Metric> {
    return this.metricCreations.createMetric(m);
  }

  getMetrics(ids: readonly string[]): Promise<Metric[]> {
    return metrics.getMetrics(this.ctx, ids, this.metricCache);
  }

  listMetrics(options?: ListMetricsOptions): Promise<Metric[]> {
    return listMetrics(this.ctx, options);
  }

  deleteMetric(id: string): Promise<boolean> {
    return metrics.deleteMetric(this.ctx, id);
  }

  listMetricsToExpunge(): Promise<Metric[]> {
    return metrics.listMetricsToExpunge(this.ctx);
  }

  expungeMetric(id: string): Promise<boolean> {
    return metrics.expungeMetric(this.ctx, id);
  }

  // ---------------------------------------------------------------- resource types

  createResourceType(name: string, attributes: Record<string, ResourceAttributeSchema>): Promise<ResourceType> {
    return rt.createResourceType(this.ctx, name, attributes);
  }

  getResourceType(name: string): Promise<ResourceType | null> {
    return rt.getResourceType(this.ctx, name);
  }

  listResourceTypes(): Promise<ResourceType[]> {
    return rt.listResourceTypes(this.ctx);
  }

  updateResourceType(name: string, change: ResourceTypeChange): Promise<ResourceType> {
    return rt.updateResourceType(this.ctx, name, change);
  }

  deleteResourceType(name: string): Promise<void> {
    return rt.deleteResourceType(this.ctx, name);
  }

  createStandardResourceTypes(): Promise<ResourceType[]> {
    return rt.createStandardResourceTypes(this.ctx);
  }

  // ---------------------------------------------------------------- resources

  createResource(resource: NewResource): Promise<Resource> {
    return res.createResource(this.ctx, resource);
  }

  getResource(type: string, id: string): Promise<Resource | null> {
    return res.getResource(this.ctx, type, id);
  }

  updateResource(type: string, id: string, update: ResourceUpdate): Promise<Resource> {
    return res.updateResource(this.ctx, type, id, update);
  }

  importResource(resource: ImportedResource): Promise<Resource> {
    return importResource(this.ctx, resource);
  }

  deleteResource(id: string): Promise<void> {
    return res.deleteResource(this.ctx, id);
  }

  deleteResources(type: string, filter: ResourceFilter): Promise<number> {
    return res.deleteResources(this.ctx, type, filter);
  }

  listResources(options?: ListResourcesOptions): Promise<Resource[]> {
    return listResources(this.ctx, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.policyCache.close();
    // Creations already queued are committed (and answered) before the database closes.
    await this.metricCreations.close();
    await this.db.destroy();
  }
}
