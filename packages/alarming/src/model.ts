// The alarm document as Aodh 15's v2 API reads and writes it. Every role of the alarming
// service (API, store, evaluator, notifier) speaks these types; field names are Aodh's so
// that a document goes from the database to the wire without renaming.

export type AlarmState = 'ok' | 'alarm' | 'insufficient data';
export const ALARM_STATES: readonly AlarmState[] = ['ok', 'alarm', 'insufficient data'];

export type Severity = 'low' | 'moderate' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'moderate', 'critical'];

export type ComparisonOperator = 'lt' | 'le' | 'eq' | 'ne' | 'ge' | 'gt';
export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = ['lt', 'le', 'eq', 'ne', 'ge', 'gt'];

/** Fields every threshold rule over Gnocchi's aggregates carries. */
export interface ThresholdRuleBase {
  comparison_operator: ComparisonOperator;
  threshold: number;
  aggregation_method: string;
  /** Seconds. */
  granularity: number;
  evaluation_periods: number;
  /**
   * Tally's opt-in "M of N": the alarm fires when at least this many of the last
   * `evaluation_periods` points breach (Aodh: all of them). Absent means all.
   */
  breaching_points?: number;
  /**
   * Tally's opt-in policy for periods with no point: Aodh's behaviour (absent) leaves the
   * alarm in insufficient data; 'ok' and 'breaching' count a missing point as such.
   */
  missing_data?: 'insufficient' | 'ok' | 'breaching';
}

export interface ResourcesThresholdRule extends ThresholdRuleBase {
  metric: string;
  resource_id: string;
  resource_type: string;
}

export interface AggregationByMetricsThresholdRule extends ThresholdRuleBase {
  metrics: string[];
}

export interface AggregationByResourcesThresholdRule extends ThresholdRuleBase {
  metric: string;
  resource_type: string;
  /** A Gnocchi search filter as a JSON string, as Aodh stores it. */
  query: string;
}

/** A node of a composite rule: a leaf threshold rule (with its `type`) or a nested and/or. */
export type CompositeRule =
  | { and: CompositeRule[] }
  | { or: CompositeRule[] }
  | ({ type: 'gnocchi_resources_threshold' } & ResourcesThresholdRule)
  | ({ type: 'gnocchi_aggregation_by_metrics_threshold' } & AggregationByMetricsThresholdRule)
  | ({ type: 'gnocchi_aggregation_by_resources_threshold' } & AggregationByResourcesThresholdRule);

export interface EventRule {
  event_type: string;
  query: { field: string; op: string; value: string | number | boolean; type?: string }[];
}

export type AlarmType =
  | 'gnocchi_resources_threshold'
  | 'gnocchi_aggregation_by_metrics_threshold'
  | 'gnocchi_aggregation_by_resources_threshold'
  | 'composite'
  | 'event';

export const ALARM_TYPES: readonly AlarmType[] = [
  'gnocchi_resources_threshold',
  'gnocchi_aggregation_by_metrics_threshold',
  'gnocchi_aggregation_by_resources_threshold',
  'composite',
  'event',
];

export interface TimeConstraint {
  name: string;
  description: string;
  /** A cron expression (five fields) for the start of each window. */
  start: string;
  /** Seconds. */
  duration: number;
  /** An IANA zone name; '' means UTC. */
  timezone: string;
}

export interface Alarm {
  alarm_id: string;
  name: string;
  description: string;
  type: AlarmType;
  enabled: boolean;
  state: AlarmState;
  state_reason: string;
  severity: Severity;
  ok_actions: string[];
  alarm_actions: string[];
  insufficient_data_actions: string[];
  repeat_actions: boolean;
  user_id: string | null;
  project_id: string | null;
  time_constraints: TimeConstraint[];
  /** ISO 8601 (Aodh writes naive UTC with microseconds). */
  timestamp: string;
  state_timestamp: string;
  /** The rule under the key `${type}_rule` on the wire. */
  rule:
    | ResourcesThresholdRule
    | AggregationByMetricsThresholdRule
    | AggregationByResourcesThresholdRule
    | CompositeRule
    | EventRule;
}

/** A state change to announce to an alarm's actions, as Aodh's notifier posts it. */
export interface AlarmNotification {
  alarm_id: string;
  alarm_name: string;
  severity: Severity;
  previous: AlarmState;
  current: AlarmState;
  reason: string;
  reason_data: Record<string, unknown>;
  /** The actions for `current` (ok_actions, alarm_actions or insufficient_data_actions). */
  actions: string[];
  /** `req-<uuid>`, sent as `x-openstack-request-id` and kept across retries. */
  request_id: string;
  /** Who owns the alarm: silences match on it. */
  project_id: string | null;
}
