/**
 * What a metric's latest commit left. Shared with the storage's cache (reads are hot and
 * copying the state and ids cost a tenth of a small read): callers must not modify it.
 */
export interface MetricRecord {
  /** Opaque engine state; null when the metric has no data yet. */
  readonly state: Uint8Array | null;
  /** Incoming batch ids already folded into the state. */
  readonly applied: ReadonlySet<string>;
}

/**
 * A metric's record with the splits of the same commit: a reader asking for a state and
 * its splits looks the metric up once instead of once per split. Splits a later commit
 * replaced and freed are read from that later commit.
 */
export interface MetricSnapshot extends MetricRecord {
  /** As AggregateStorage.readSplit (shared bytes: do not modify them). */
  readSplit(key: string): Promise<Uint8Array | null>;
}

/** The storage keeps `state` and the split buffers as given, without a copy: do not modify them afterwards. */
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
export interface MetricUpdate extends MetricSnapshot {
  /**
   * Atomic: after a crash either all of it is visible or none of it. `applied` gains
   * `change.applied` and loses `change.forget`.
   */
  commit(change: CommitChange): Promise<void>;
}

export interface UpdateOptions {
  /**
   * The processing lock's signal. Once it has aborted the commit writes nothing more and
   * fails with its reason: it looks before each write and just before its commit point, so
   * that a holder which lost its lock (and whose metric may already be another's) does not
   * publish over the new holder's commits.
   */
  signal?: AbortSignal;
}

/**
 * Aggregates of every metric: an opaque engine state, the ids of the incoming batches
 * folded into it, and splits by key. Readers may run anywhere at any time and never see a
 * half-made commit; writes to one metric come from the holder of its processing lock.
 */
export interface AggregateStorage {
  /** An unknown metric reads as empty (state null, nothing applied, no splits). */
  read(metricId: string): Promise<MetricSnapshot>;
  /** Starts a read-modify-write; the caller must hold the metric's processing lock. */
  update(metricId: string, options?: UpdateOptions): Promise<MetricUpdate>;
  /**
   * The split as the latest commit left it; null when it has none under `key`. The bytes
   * may be shared with a cache: callers must not modify them.
   */
  readSplit(metricId: string, key: string): Promise<Uint8Array | null>;
  /** Removes everything of the metric, atomically; deleting an unknown metric is harmless. */
  deleteMetric(metricId: string): Promise<void>;
  close(): Promise<void>;
}
