// The shapes Gnocchi 4.4.2's REST API v1 reads and writes. Timestamps are the ISO 8601
// strings Gnocchi writes ("2024-01-01T00:00:00+00:00"); timespans the strings of Python's
// timedelta ("0:05:00", "1 day, 0:00:00"); values and granularities in series are numbers
// (seconds for granularities).
import type { JsonScalar, JsonValue } from './json.js';

// ------------------------------------------------------------------ archive policies

/** A timespan as Gnocchi reads one: seconds, or text ("5 minutes", "1 day", "0:05:00"). */
export type TimespanInput = string | number;
/** A time as Gnocchi reads one: ISO 8601, Unix seconds, or relative ("-1 hour", "now"). */
export type TimeInput = string | number;

export interface ArchivePolicyItem {
  granularity: string;
  /** Null when the definition gave only a granularity. */
  points: number | null;
  timespan: string | null;
}

export interface ArchivePolicy {
  name: string;
  back_window: number;
  definition: ArchivePolicyItem[];
  aggregation_methods: string[];
}

/** Two of granularity, points, timespan (or granularity alone). */
export interface ArchivePolicyItemInput {
  granularity?: TimespanInput;
  points?: number;
  timespan?: TimespanInput;
}

export interface ArchivePolicyCreate {
  name: string;
  back_window?: number;
  /** Method names; "-name" removes one from the default set, "+name" adds ("*" for all). */
  aggregation_methods?: string[];
  definition: ArchivePolicyItemInput[];
}

export interface ArchivePolicyRule {
  name: string;
  /** fnmatch pattern of metric names. */
  metric_pattern: string;
  archive_policy_name: string;
}

// ------------------------------------------------------------------ metrics

interface MetricCommon {
  id: string;
  creator: string | null;
  name: string | null;
  unit: string | null;
  created_by_user_id: string | null;
  created_by_project_id: string | null;
}

/** POST /v1/metric answers this. */
export interface CreatedMetric extends MetricCommon {
  resource_id: string | null;
  archive_policy_name: string;
}

/** An item of GET /v1/metric. */
export interface Metric extends MetricCommon {
  resource_id: string | null;
  archive_policy: ArchivePolicy;
}

/** GET /v1/metric/ID: the resource and the archive policy in full. */
export interface MetricDetail extends MetricCommon {
  resource: Resource | null;
  archive_policy: ArchivePolicy;
}

export interface MetricCreate {
  /** Required unless a rule matches `name`. */
  archive_policy_name?: string;
  name?: string;
  unit?: string;
  /** Attaches the metric to a resource (then `name` is required). */
  resource_id?: string;
}

export interface MetricListQuery extends PageQuery {
  name?: string;
  unit?: string;
  archive_policy_name?: string;
  creator?: string;
  user_id?: string;
  project_id?: string;
  id?: string;
  status?: 'active' | 'delete';
}

/** A measure sent: timestamp and value. */
export interface MeasureInput {
  timestamp: TimeInput;
  value: number;
}

/** A point read: [timestamp, granularity in seconds (or calendar grouping), value]. */
export type Measure = [timestamp: string, granularity: number | string, value: number];

export interface MeasuresQuery {
  start?: TimeInput;
  stop?: TimeInput;
  /** One of the metric's archive policy methods (default "mean"). */
  aggregation?: string;
  granularity?: TimespanInput;
  /** A timespan, or a calendar grouping (Y, H, Q, M, W); needs `granularity`. */
  resample?: TimespanInput;
  /** Process the metric's pending measures before reading. */
  refresh?: boolean;
}

/** POST /v1/batch/metrics/measures: metric id to measures. */
export type MetricsMeasuresBatch = Record<string, MeasureInput[]>;

/** Measures for one named metric of a resource, with how to create the metric if asked. */
export interface NamedMetricMeasures {
  measures: MeasureInput[];
  archive_policy_name?: string;
  unit?: string;
}

/** POST /v1/batch/resources/metrics/measures: resource id to metric name to measures. */
export type ResourcesMetricsMeasuresBatch = Record<string, Record<string, NamedMetricMeasures | MeasureInput[]>>;

// ------------------------------------------------------------------ resources

/** What every resource has; types add their attributes beside these. */
export interface GenericResource {
  id: string;
  type: string;
  original_resource_id: string;
  creator: string | null;
  created_by_user_id: string | null;
  created_by_project_id: string | null;
  user_id: string | null;
  project_id: string | null;
  started_at: string;
  ended_at: string | null;
  revision_start: string;
  revision_end: string | null;
  /** Metric name to metric id. */
  metrics: Record<string, string>;
}

/** A resource with the attributes of its type (A: their shape when the caller knows it). */
export type Resource<A extends Record<string, JsonValue> = Record<string, JsonValue>> = GenericResource & A;

/** A metric to create with a resource: an archive policy (or a rule), or an existing metric's id. */
export type ResourceMetricInput = string | { archive_policy_name?: string; unit?: string };

export interface ResourceCreate {
  id: string;
  user_id?: string | null;
  project_id?: string | null;
  started_at?: TimeInput;
  ended_at?: TimeInput | null;
  metrics?: Record<string, ResourceMetricInput>;
  [attribute: string]: JsonValue | Record<string, ResourceMetricInput> | undefined;
}

export interface ResourcePatch {
  user_id?: string | null;
  project_id?: string | null;
  started_at?: TimeInput;
  ended_at?: TimeInput | null;
  metrics?: Record<string, ResourceMetricInput>;
  [attribute: string]: JsonValue | Record<string, ResourceMetricInput> | undefined;
}

export interface PageQuery {
  limit?: number;
  marker?: string;
  /** "attribute:asc" or "attribute:desc", several allowed. */
  sort?: string | string[];
}

export interface ResourceListQuery extends PageQuery {
  details?: boolean;
  history?: boolean;
  /** Only these attributes in each item. */
  attrs?: string[];
}

type ComparisonOperator = '=' | '==' | 'eq' | '<' | 'lt' | '>' | 'gt' | '<=' | '≤' | 'le' | '>=' | '≥' | 'ge' | '!=' | '≠' | 'ne' | 'like';
type LogicalOperator = 'and' | 'or' | '∧' | '∨';
type OneOf<K extends string, V> = { [P in K]: { [Q in P]: V } }[K];

/** Gnocchi's resource search filter, e.g. {"and": [{"=": {"project_id": P}}, {">=": {"started_at": T}}]}. */
export type ResourceFilter =
  | OneOf<ComparisonOperator, Record<string, JsonScalar>>
  | { in: Record<string, JsonScalar[]> }
  | OneOf<LogicalOperator, ResourceFilter[]>
  | { not: ResourceFilter };

// ------------------------------------------------------------------ resource types

export type ResourceTypeAttribute =
  | { type: 'string'; required: boolean; min_length: number; max_length: number }
  | { type: 'number'; required: boolean; min: number | null; max: number | null }
  | { type: 'uuid' | 'bool' | 'datetime'; required: boolean };

export interface ResourceType {
  name: string;
  /** "active", or a transient state while its tables change ("creating", "updating"...). */
  state: string;
  attributes: Record<string, ResourceTypeAttribute>;
}

export type ResourceTypeAttributeInput =
  | { type: 'string'; required?: boolean; min_length?: number; max_length?: number }
  | { type: 'number'; required?: boolean; min?: number | null; max?: number | null }
  | { type: 'uuid' | 'bool' | 'datetime'; required?: boolean };

export interface ResourceTypeCreate {
  name: string;
  attributes?: Record<string, ResourceTypeAttributeInput>;
}

/** RFC 6902 operations as Gnocchi accepts them on a resource type. */
export type ResourceTypePatchOp =
  | { op: 'add'; path: `/attributes/${string}`; value: ResourceTypeAttributeInput & { options?: { fill?: JsonScalar } } }
  | { op: 'remove'; path: `/attributes/${string}` };

// ------------------------------------------------------------------ aggregates

/** Operations: text ("(aggregate mean (metric ID mean))") or the same as nested lists. */
export type Operations = string | OperationsList;
export type OperationsList = (string | number | OperationsList)[];

export interface AggregatesQuery {
  start?: TimeInput;
  stop?: TimeInput;
  granularity?: TimespanInput;
  /** Percentage of timestamps the series must share (default 100). */
  needed_overlap?: number;
  /** Missing points: a number, "null" (NaN), "ffill" or "dropna". */
  fill?: number | 'null' | 'ffill' | 'dropna';
  /** Also return the metrics or resources referenced. */
  details?: boolean;
}

/** Series of the `aggregate` operation, or per metric then aggregation method. */
export type MetricsAggregatesMeasures = { aggregated: Measure[] } | Record<string, Record<string, Measure[]>>;
/** Series of the `aggregate` operation, or per resource, metric name and method. */
export type ResourcesAggregatesMeasures = { aggregated: Measure[] } | Record<string, Record<string, Record<string, Measure[]>>>;

export interface MetricsAggregates {
  measures: MetricsAggregatesMeasures;
  /** With `details`. */
  references?: Metric[];
}

export interface ResourcesAggregates {
  measures: ResourcesAggregatesMeasures;
  references?: Resource[];
}

export interface AggregatesGroup {
  group: Record<string, JsonValue>;
  measures: ResourcesAggregates;
}

// ------------------------------------------------------------------ status and roots

export interface Status {
  storage: {
    summary: { metrics: number; measures: number };
    /** Per metric id, with details (the default). */
    measures_to_process?: Record<string, number>;
  };
  metricd: {
    processors: string[] | null;
    statistics: Record<string, Record<string, JsonValue>>;
  };
}

export interface Capabilities {
  aggregation_methods: string[];
}

export interface Link {
  rel: string;
  href: string;
}

/** GET /. */
export interface Versions {
  build: string;
  versions: Array<{ id: string; status: string; updated: string; links: Link[] }>;
}

/** GET /v1. */
export interface V1Index {
  version: string;
  links: Link[];
}

/** One page of a list, and the query of the next one when the server said there is more. */
export interface Page<T, Q> {
  items: T[];
  next: Q | null;
}
