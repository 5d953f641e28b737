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

/**
 * One read-modify-write of a metric by the holder of its processing lock: the record is
 * read once and split reads and the commit build on it without checking again that no
 * other process changed the metric (the lock is what guarantees it).
 */
export interface MetricUpdate extends MetricRecord {
  readSplit(key: string): Promise<Uint8Array | null>;
  /** As AggregateStorage.commit, on top of what this update read. */
  commit(change: CommitChange): Promise<void>;
}

export interface AggregateStorage {
  read(metricId: string): Promise<MetricRecord>;
  /** Starts a read-modify-write; the caller must hold the metric's processing lock. */
  update(metricId: string): Promise<MetricUpdate>;
  readSplit(metricId: string, key: string): Promise<Uint8Array | null>;
  /** Atomic: after a crash either all of it is visible or none of it. */
  commit(metricId: string, change: CommitChange): Promise<void>;
  deleteMetric(metricId: string): Promise<void>;
  close(): Promise<void>;
}
