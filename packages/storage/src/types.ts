export interface MetricRecord {
  /** Opaque engine state; null when the metric has no data yet. */
  state: Uint8Array | null;
  /** Incoming batch ids already folded into the state. */
  applied: Set<string>;
}

export interface CommitChange {
  state: Uint8Array;
  /** Splits written (key -> bytes). A key both here and in `del` ends up written. */
  put: Map<string, Uint8Array>;
  del: string[];
  applied: string[];
  forget: string[];
}

export interface AggregateStorage {
  read(metricId: string): Promise<MetricRecord>;
  readSplit(metricId: string, key: string): Promise<Uint8Array | null>;
  /** Atomic: after a crash either all of it is visible or none of it. */
  commit(metricId: string, change: CommitChange): Promise<void>;
  deleteMetric(metricId: string): Promise<void>;
  close(): Promise<void>;
}
