/** Measures of one metric, any order. Structurally identical to @tally/timeseries' type. */
export interface Measures {
  ts: BigInt64Array;
  values: Float64Array;
}

export interface Backlog {
  metrics: number;
  measures: number;
  /** Measures waiting per metric; null unless asked for (`perMetric: true`). */
  perMetric: Map<string, number> | null;
}

export interface BacklogOptions {
  /** Also count per metric (default false: the totals cost less). */
  perMetric?: boolean;
}

export interface IncomingStore {
  readonly sacks: number;
  sackOf(metricId: string): number;
  /**
   * Resolves only once the measures are durable (fsync). The arrays are written as they
   * are, without a copy: do not modify them before the promise settles.
   */
  add(measures: Map<string, Measures>): Promise<void>;
  /** Batch ids, oldest first. */
  listBatches(sack: number): Promise<string[]>;
  readBatch(sack: number, id: string): Promise<Map<string, Measures>>;
  deleteBatches(sack: number, ids: string[]): Promise<void>;
  backlog(options?: BacklogOptions): Promise<Backlog>;
  close(): Promise<void>;
}
