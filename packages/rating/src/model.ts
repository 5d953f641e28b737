// The rating service's shared model, the contract between its parts: the hashmap rules as
// CloudKitty 17 keeps them, usage as the collector reads it, rated data points as storage
// keeps them, and the narrow store interface the processor needs. Money and quantities are
// decimal strings at every boundary (exact decimal arithmetic inside, see money.ts);
// timestamps are nanoseconds since the Unix epoch (UTC) as everywhere in Tally.

/** A hashmap mapping's or threshold's cost type, as CloudKitty names them. */
export type MapType = 'flat' | 'rate';

export interface HashmapService { service_id: string; name: string }
export interface HashmapField { field_id: string; service_id: string; name: string }
export interface HashmapGroup { group_id: string; name: string }

/** Either `service_id` (a service mapping, no value) or `field_id` (a field mapping, with a value) is set. */
export interface HashmapMapping {
  mapping_id: string;
  value: string | null;
  /** Decimal string. */
  cost: string;
  map_type: MapType;
  service_id: string | null;
  field_id: string | null;
  group_id: string | null;
  /** A per-project mapping: applies to this project only. */
  tenant_id: string | null;
  /**
   * Tally's addition: the pricing entry (`provider/service/size/region`) whose price in force
   * at the rated instant is the mapping's cost; absent or null, `cost` is used as is.
   * CloudKitty's API shows the resolved `cost` (see pricing/mapping.ts).
   */
  pricing_key?: string | null;
}

export interface HashmapThreshold {
  threshold_id: string;
  /** Decimal string: the quantity (service) or field value from which it applies. */
  level: string;
  cost: string;
  map_type: MapType;
  service_id: string | null;
  field_id: string | null;
  group_id: string | null;
  tenant_id: string | null;
}

/** Everything the hashmap module rates with, read in one transaction. */
export interface HashmapRules {
  services: HashmapService[];
  fields: HashmapField[];
  groups: HashmapGroup[];
  mappings: HashmapMapping[];
  thresholds: HashmapThreshold[];
}

/** A rating module as CloudKitty lists it (`hashmap`, `noop`, ...). */
export interface RatingModuleState {
  module_id: string;
  description: string;
  enabled: boolean;
  /** Higher runs first. */
  priority: number;
  hot_config: boolean;
}

/** One usage entry of one metric type in one period, as CloudKitty's DataPoint. */
export interface UsagePoint {
  /** The metric type of metrics.yml (the service name for the hashmap module). */
  type: string;
  unit: string;
  /** Decimal string, after metrics.yml's factor and offset. */
  qty: string;
  /** Attributes the metric is grouped by (project_id, id, flavor_name, ...). */
  groupby: Record<string, string>;
  /** Attributes kept for rating and display, not grouped by. */
  metadata: Record<string, string>;
}

/** A rated point: the usage point with its price (decimal string, in `currency`). */
export interface RatedPoint extends UsagePoint {
  price: string;
}

/** A scope (project, by default) and one rating period of it. */
export interface ScopePeriod {
  scopeId: string;
  /** Inclusive start and exclusive end, ns. */
  begin: bigint;
  end: bigint;
}

/** A period and its rated points. */
export interface RatedPeriod {
  period: ScopePeriod;
  points: readonly RatedPoint[];
}

/** The processor's progress on one scope, as CloudKitty's `/v2/scope` shows it. */
export interface ScopeState {
  scope_id: string;
  scope_key: string;
  collector: string;
  fetcher: string;
  /** End of the last rated period (ns), null before the first. */
  last_processed: bigint | null;
  active: boolean;
}

/**
 * What the processor needs of the rating store. `writeRated` replaces whatever was stored
 * for that scope and period, and advances the scope's state to `period.end` when it was
 * behind, in one transaction: a period is rated exactly once, and re-rating it replaces it.
 */
export interface RatingStore {
  enabledModules(): Promise<RatingModuleState[]>;
  hashmapRules(): Promise<HashmapRules>;
  scopeState(scopeId: string): Promise<ScopeState | null>;
  /** Scopes known to the store (active or not). */
  scopes(): Promise<ScopeState[]>;
  writeRated(period: ScopePeriod, points: readonly RatedPoint[], currency: string): Promise<void>;
  /**
   * `writeRated` of several periods of one scope in one transaction: all of them are
   * written and the state advanced to the latest end, or none.
   */
  writeRatedPeriods(rated: readonly RatedPeriod[], currency: string): Promise<void>;
  /** Rated points of a scope between two instants (ns), period by period. */
  readRated(scopeId: string, begin: bigint, end: bigint): Promise<{ period: ScopePeriod; points: RatedPoint[] }[]>;
}
