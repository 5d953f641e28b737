// Public data types of the indexer. Archive policies and their rules are the engine's
// types (@tally/timeseries), so values flow between the two packages without conversion.
import type { ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule } from '@tally/timeseries';
import type { IndexerLimits } from './limits.js';

export type { ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule };

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
  /**
   * Gnocchi's JSON filter language over metric columns (id, archive_policy_name, creator,
   * created_by_user_id, created_by_project_id, resource_id, name, unit, status), ANDed with
   * `filters`; used for policy filters. Unknown attributes: QueryAttributeError('metric', x).
   */
  filter?: ResourceFilter | null;
}

// ---------------------------------------------------------------- resource types

/**
 * One attribute of a resource type, as Gnocchi describes it (GET /v1/resource_type):
 * strings carry min_length/max_length, numbers min/max, the others nothing more.
 */
export type ResourceAttributeSchema =
  | { type: 'string'; required: boolean; minLength: number; maxLength: number }
  | { type: 'number'; required: boolean; min: number | null; max: number | null }
  | { type: 'uuid' | 'bool' | 'datetime'; required: boolean };

export type ResourceTypeState =
  | 'active' | 'creating' | 'creation_error'
  | 'updating' | 'updating_error'
  | 'deleting' | 'deletion_error';

export interface ResourceType {
  name: string;
  /** In definition order (Gnocchi keeps the order of the JSON it was given). */
  attributes: Record<string, ResourceAttributeSchema>;
  state: ResourceTypeState;
}

/**
 * A stored attribute value. Datetimes are bigint ns, uuids canonical lowercase strings,
 * numbers are floats, bools booleans; null when unset.
 */
export type AttributeValue = string | number | boolean | bigint | null;

/** An attribute added by updateResourceType: `fill` (Gnocchi's options.fill) is written
 *  into every existing row and revision; mandatory when the attribute is required. */
export interface ResourceAttributeAddition {
  schema: ResourceAttributeSchema;
  fill?: AttributeValue;
}

export interface ResourceTypeChange {
  /** Attribute name -> definition, added in this order. */
  add?: Record<string, ResourceAttributeAddition>;
  /** Attribute names to drop (data in current rows and history is discarded). */
  remove?: readonly string[];
}

// ---------------------------------------------------------------- resources

/** How a resource names its metrics: an existing metric to attach (same creator, active)
 *  or a new one created in the same transaction (the REST layer resolves archive policy
 *  rules before calling the indexer). */
export type MetricRef =
  | { id: string }
  | { archivePolicyName: string; unit?: string | null };

/**
 * A resource, current or one revision of its history. Field names are Gnocchi's
 * in camelCase; `attributes` holds the type-specific attributes that were loaded (those
 * of the queried type, or of the resource's own type with `details`).
 */
export interface Resource {
  id: string;
  type: string;
  originalResourceId: string;
  creator: string | null;
  createdByUserId: string | null;
  createdByProjectId: string | null;
  userId: string | null;
  projectId: string | null;
  startedAt: bigint;
  endedAt: bigint | null;
  revisionStart: bigint;
  /** null for the current revision. */
  revisionEnd: bigint | null;
  /** -1 for the current revision, else the history row number (markers are "id@revision"). */
  revision: number;
  /** Active metrics by name -> metric id (current attachment, also on history rows, as Gnocchi). */
  metrics: Record<string, string>;
  attributes: Record<string, AttributeValue>;
}

export interface NewResource {
  type: string;
  /** A UUID (any form Python's uuid.UUID accepts); see resourceUuid() for other ids. */
  id: string;
  /** Defaults to the id as given. */
  originalResourceId?: string;
  creator: string | null;
  userId?: string | null;
  projectId?: string | null;
  /** Defaults to now. */
  startedAt?: bigint;
  endedAt?: bigint | null;
  /** Type attributes; datetime values may also be given in any form Gnocchi accepts (string or number). */
  attributes?: Record<string, AttributeValue>;
  metrics?: Record<string, MetricRef>;
}

export interface ResourceUpdate {
  startedAt?: bigint;
  endedAt?: bigint | null;
  userId?: string | null;
  projectId?: string | null;
  attributes?: Record<string, AttributeValue>;
  /** Replaces the named metrics (detaching the others) unless appendMetrics. */
  metrics?: Record<string, MetricRef>;
  appendMetrics?: boolean;
  /** Default true: the previous state goes to history and revision_start moves to now. */
  createRevision?: boolean;
  /**
   * Optimistic check done under the row lock: the update fails with
   * ResourceRevisionMismatch unless the current revision_start is this value (what the
   * caller's ETag was computed from).
   */
  ifRevisionStart?: bigint;
}

/** One revision of an imported resource: what changes from one revision to the next. */
export interface ImportedRevision {
  userId: string | null;
  projectId: string | null;
  startedAt: bigint;
  endedAt: bigint | null;
  revisionStart: bigint;
  /** null for the current (last) revision only. */
  revisionEnd: bigint | null;
  /** Type attributes as createResource takes them. */
  attributes: Record<string, AttributeValue>;
}

/**
 * A resource with its whole history, as another store (Gnocchi) recorded it: revisions are
 * written with their own revision_start/revision_end instead of the clock's.
 */
export interface ImportedResource {
  type: string;
  /** A UUID (any form Python's uuid.UUID accepts). */
  id: string;
  originalResourceId: string;
  creator: string | null;
  /** Oldest first; the last one is the current revision. */
  revisions: readonly ImportedRevision[];
}

/**
 * Gnocchi's JSON search tree, as received from clients, e.g.
 * {"and": [{"=": {"user_id": "u"}}, {">": {"lifespan": "1 hour"}}]}.
 * Validated by the indexer (QueryError and subclasses).
 */
export type ResourceFilter = Readonly<Record<string, unknown>>;

export interface ListResourcesOptions {
  /** Resource type to list or search (default 'generic': every resource, generic columns). */
  type?: string;
  filter?: ResourceFilter | null;
  /** Load each resource's own type attributes (Gnocchi's `details=true`). */
  details?: boolean;
  /** Every revision, current ones with revision -1 (Gnocchi's `history=true`). */
  history?: boolean;
  /**
   * Any column of the searched type (revision/revision_end only with history); id (and
   * revision with history) ascending are appended as tie-breakers. Directions as for metrics.
   */
  sort?: readonly SortSpec[];
  limit?: number;
  /** Resource id, or "id@revision" with history. */
  marker?: string;
}

export interface IndexerOptions {
  /** Clock for revision timestamps (ns); tests inject one. */
  now?: () => bigint;
  /** Bounds an operator may change; defaults in limits.ts. */
  limits?: Partial<IndexerLimits>;
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

  // ------------------------------------------------------------ resource types

  /** Validated definition (see validateResourceTypeDefinition); ResourceTypeAlreadyExists. */
  createResourceType(name: string, attributes: Record<string, ResourceAttributeSchema>): Promise<ResourceType>;
  getResourceType(name: string): Promise<ResourceType | null>;
  /** Ordered by name. */
  listResourceTypes(): Promise<ResourceType[]>;
  /** NoSuchResourceType, UnexpectedResourceTypeState (must be active), ResourceAttributeError
   *  for removing an unknown attribute, InvalidResourceAttribute* for bad additions. */
  updateResourceType(name: string, change: ResourceTypeChange): Promise<ResourceType>;
  /** NoSuchResourceType, ResourceTypeInUse (generic, or resources of it exist, even in history). */
  deleteResourceType(name: string): Promise<void>;
  /**
   * Creates the resource types Gnocchi's legacy Ceilometer migration creates (instance,
   * volume, ...), skipping existing ones. `upgrade()` itself creates only `generic`,
   * like a fresh gnocchi-upgrade.
   */
  createStandardResourceTypes(): Promise<ResourceType[]>;

  // ------------------------------------------------------------ resources

  /** NoSuchResourceType, UnexpectedResourceTypeState, ResourceAlreadyExists, ResourceAttributeError,
   *  ResourceValueError, StartAfterEnd, NoSuchMetric, NoSuchArchivePolicy, NamedMetricAlreadyExists. */
  createResource(resource: NewResource): Promise<Resource>;
  /** Current revision with its type's attributes and metrics; null if absent or not of that type
   *  ('generic' finds every resource). */
  getResource(type: string, id: string): Promise<Resource | null>;
  /** Row-locked read-modify-write; NoSuchResource, ResourceRevisionMismatch, plus createResource's errors. */
  updateResource(type: string, id: string, update: ResourceUpdate): Promise<Resource>;
  /**
   * Writes a resource and its history in one transaction, revisions with the timestamps
   * given (moving data from another store). Metrics are not attached here: metrics name
   * their resource. InvalidResourceHistory, plus createResource's errors.
   */
  importResource(resource: ImportedResource): Promise<Resource>;
  /** Deletes the resource and its history; its metrics are marked for deletion. NoSuchResource. */
  deleteResource(id: string): Promise<void>;
  /** Deletes every resource of `type` matching the filter (required); returns the count. */
  deleteResources(type: string, filter: ResourceFilter): Promise<number>;
  /** List / search (see ListResourcesOptions). */
  listResources(options?: ListResourcesOptions): Promise<Resource[]>;

  close(): Promise<void>;
}
