// Public data types of the indexer.
//
// ArchivePolicyItem / ArchivePolicy are declared here rather than imported from
// @tally/timeseries so the indexer builds independently of the engine; they are kept
// structurally identical to the engine's declarations, so values flow between the two
// packages without conversion.

/** Durations are nanoseconds (bigint) so that nothing is lost to float rounding. */
export interface ArchivePolicyItem {
  granularity: bigint;
  points: number | null;
  timespan: bigint | null;
}

export interface ArchivePolicy {
  name: string;
  backWindow: number;
  aggregationMethods: string[];
  definition: ArchivePolicyItem[];
}

export interface ArchivePolicyRule {
  name: string;
  metricPattern: string;
  archivePolicyName: string;
}

export type MetricStatus = 'active' | 'delete';

/** A metric as Gnocchi describes it (created_by_* are derived from creator "user:project"). */
export interface Metric {
  id: string;
  archivePolicyName: string;
  creator: string | null;
  createdByUserId: string | null;
  createdByProjectId: string | null;
  name: string | null;
  unit: string | null;
  resourceId: string | null;
  status: MetricStatus;
}

export interface NewMetric {
  /** Generated (random UUID v4) when omitted. */
  id?: string;
  creator: string | null;
  archivePolicyName: string;
  name?: string | null;
  unit?: string | null;
  resourceId?: string | null;
}

/**
 * Equality filters on metrics, ANDed together. A null value means IS NULL; an array means
 * IN (an empty array matches nothing).
 */
export type FilterValue = string | null | readonly string[];
export interface MetricFilter {
  id?: FilterValue;
  name?: FilterValue;
  unit?: FilterValue;
  archivePolicyName?: FilterValue;
  creator?: FilterValue;
  createdByUserId?: FilterValue;
  createdByProjectId?: FilterValue;
  resourceId?: FilterValue;
  status?: FilterValue;
}

/**
 * Sort keys are Gnocchi's metric column names (id, archive_policy_name, creator,
 * resource_id, name, unit, status); anything else is an InvalidPagination. Directions are
 * asc, desc, asc-nullsfirst, asc-nullslast, desc-nullsfirst, desc-nullslast.
 */
export interface SortSpec {
  key: string;
  dir?: string;
}

export interface ListMetricsOptions {
  /** Row status to list, like Gnocchi's `status` argument (default 'active'). */
  status?: MetricStatus;
  filters?: MetricFilter;
  /** `id asc` is always appended as tie-breaker unless id is already a key. */
  sort?: readonly SortSpec[];
  limit?: number;
  /** Id of the last metric of the previous page; must be an active metric. */
  marker?: string;
}

export type DialectName = 'sqlite' | 'postgres';

export interface UpgradeResult {
  from: number;
  to: number;
}

export interface Indexer {
  readonly dialect: DialectName;

  /** Applies pending migrations; safe to call repeatedly and from several processes. */
  upgrade(): Promise<UpgradeResult>;
  /** 0 on an empty database. */
  schemaVersion(): Promise<number>;

  createArchivePolicy(policy: ArchivePolicy): Promise<ArchivePolicy>;
  getArchivePolicy(name: string): Promise<ArchivePolicy | null>;
  /** Policies by name (missing names are absent from the map); one query for a page of metrics. */
  getArchivePolicies(names: Iterable<string>): Promise<Map<string, ArchivePolicy>>;
  /** Ordered by name. */
  listArchivePolicies(): Promise<ArchivePolicy[]>;
  /**
   * Replaces the definition. Like Gnocchi, refuses adding/dropping items or changing
   * granularities (UnsupportedArchivePolicyChange); other validation is the caller's.
   */
  updateArchivePolicy(name: string, definition: readonly ArchivePolicyItem[]): Promise<ArchivePolicy>;
  /** Throws NoSuchArchivePolicy, or ArchivePolicyInUse if any metric row (even soft-deleted) or rule references it. */
  deleteArchivePolicy(name: string): Promise<void>;

  createArchivePolicyRule(rule: ArchivePolicyRule): Promise<ArchivePolicyRule>;
  getArchivePolicyRule(name: string): Promise<ArchivePolicyRule | null>;
  /** Ordered like Gnocchi: metric_pattern descending, then name ascending. */
  listArchivePolicyRules(): Promise<ArchivePolicyRule[]>;
  renameArchivePolicyRule(name: string, newName: string): Promise<ArchivePolicyRule>;
  deleteArchivePolicyRule(name: string): Promise<void>;
  /** First rule (in list order) whose fnmatch pattern matches the name; NoArchivePolicyRuleMatch otherwise. */
  getArchivePolicyForMetric(metricName: string | null): Promise<ArchivePolicy>;

  createMetric(metric: NewMetric): Promise<Metric>;
  /** Active metrics among `ids`, ordered by id; unknown ids are simply absent. */
  getMetrics(ids: readonly string[]): Promise<Metric[]>;
  listMetrics(options?: ListMetricsOptions): Promise<Metric[]>;
  /** Soft delete (status 'delete', detached from its resource). False if no such active metric. */
  deleteMetric(id: string): Promise<boolean>;
  /** Soft-deleted metrics whose data must be removed before expungeMetric. */
  listMetricsToExpunge(): Promise<Metric[]>;
  /** Removes the row for good (any status). False if absent. */
  expungeMetric(id: string): Promise<boolean>;

  close(): Promise<void>;
}
