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
  /** Batches set aside by `quarantine` (each counted once, whatever the sacks it was in). */
  quarantined: number;
  /** Of `measures`, those parked (see `park`), and the metrics they belong to. */
  parkedMeasures: number;
  parkedMetrics: number;
}

/** One metric's measures of one batch, parked (see `park`). */
export interface ParkedEntry {
  batchId: string;
  metricId: string;
}

export interface BacklogOptions {
  /** Also count per metric (default false: the totals cost less). */
  perMetric?: boolean;
}

/**
 * Durable store of measures not yet processed, sharded in `sacks`. Every process using one
 * store sees the same sack count and maps metrics to sacks alike (`sackOf`). A batch is
 * what one `add` (or one group commit of several) wrote; in a sack it holds only that
 * sack's metrics. Reading a sack, folding its batches and deleting them is done by one
 * processing worker at a time, under the sack's lock (coordination).
 */
export interface IncomingStore {
  readonly sacks: number;
  /** Gnocchi's placement (`sackFor`); every driver must use it so that stores agree. */
  sackOf(metricId: string): number;
  /**
   * Resolves only once the measures are durable (fsync). The arrays are written as they
   * are, without a copy: do not modify them before the promise settles.
   * Rejects with IncomingUnavailableError when the store cannot take writes, TypeError on
   * malformed input, IncomingClosedError after close().
   */
  add(measures: Map<string, Measures>): Promise<void>;
  /** Batch ids, oldest first. */
  listBatches(sack: number): Promise<string[]>;
  /**
   * The batch's measures of metrics in `sack`. Rejects with CorruptBatchError when what is
   * stored for this sack fails its checks (torn write, bit rot): the caller sets it aside
   * with `quarantine`, since reading it again will fail again.
   */
  readBatch(sack: number, id: string): Promise<Map<string, Measures>>;
  /** Durable once resolved: a deleted batch never reappears after a crash. Unknown ids are ignored. */
  deleteBatches(sack: number, ids: string[]): Promise<void>;
  /**
   * Moves the batch out of `sack`, intact, to a place an operator can inspect; it is no
   * longer listed there but stays listed in other sacks it belongs to.
   */
  quarantine(sack: number, id: string): Promise<void>;
  /**
   * Sets aside a metric's measures of a batch under that batch's id, when the metric cannot
   * be processed for good (its aggregates fail their checks): the batch itself can then be
   * deleted and the sack's other metrics go on, while these stay acknowledged and counted
   * in the backlog until `unpark`. Replaces what was parked under the same batch and
   * metric. Durable once resolved.
   */
  park(sack: number, entry: ParkedEntry, measures: Measures): Promise<void>;
  /** What is parked in `sack`, oldest batch first; a metric's entries in batch order. */
  listParked(sack: number): Promise<ParkedEntry[]>;
  /** CorruptBatchError when what was parked fails its checks. */
  readParked(sack: number, entry: ParkedEntry): Promise<Measures>;
  /** Durable once resolved; unknown entries are ignored. */
  unpark(sack: number, entries: ParkedEntry[]): Promise<void>;
  backlog(options?: BacklogOptions): Promise<Backlog>;
  /**
   * Calls `onNew` soon after batches are added, by this process or another (best effort:
   * a driver that cannot tell calls nothing, and processing then finds batches at its next
   * scan). Returns the function that stops watching.
   */
  watch?(onNew: () => void): () => void;
  close(): Promise<void>;
}
