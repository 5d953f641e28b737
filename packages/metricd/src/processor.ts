// Folds measures from the incoming store into each metric's aggregates.
//
// Exactly-once: a batch file holds measures of many metrics. For each metric we fold only
// the batches whose ids are not yet in the metric's `applied` set, and commit the new state
// together with those ids in one atomic storage commit. Batches are deleted from incoming
// only after every metric in them has committed. A crash anywhere in between leaves either
// the batch (re-read, skipped where already applied) or nothing to redo.
//
// A batch that fails its checks in a sack would fail on every pass and hold back every
// metric of the sack: it is quarantined (moved aside, intact, for an operator) and the
// sack goes on. Other sacks the batch belongs to read their own ranges, still good or not.
//
// A metric whose aggregates fail their checks (CorruptStorageError: a record or pack gone
// or damaged) would likewise fail on every pass and keep every batch it is in, and so the
// whole sack, from being deleted: its measures are parked instead (incoming's `park`, under
// the batch ids they came from, so exactly-once still holds) and the others go on. Parked
// measures are folded again with the metric's new ones, in batch order, at the sack's next
// round after PARKED_RETRY_MS: once the metric reads again (repaired by an operator) they
// are folded and unparked; if the metric is deleted they are dropped as its other measures.
import { CorruptBatchError, type IncomingStore, type Measures, type ParkedEntry } from '@tally/incoming';
import { CorruptStorageError, type AggregateStorage } from '@tally/storage';
import type { Coordinator, Lock } from '@tally/coordination';
import { concat, processMeasures, type ArchivePolicy } from '@tally/timeseries';
import { eachLimited } from '@tally/retry';

/** Returns the archive policy of each id that names an active metric (others are dropped). */
export type PolicyLookup = (metricIds: string[]) => Promise<Map<string, ArchivePolicy>>;

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ProcessorOptions {
  incoming: IncomingStore;
  storage: AggregateStorage;
  coordinator: Coordinator;
  policies: PolicyLookup;
  log?: Logger;
  /** Batches read per round, to bound memory when a sack has a large backlog. */
  maxBatchesPerRound?: number;
  /** Metrics folded concurrently within a sack (I/O overlap). */
  concurrency?: number;
  /** Pause between tries of a sack's parked measures (default PARKED_RETRY_MS). */
  parkedRetryMs?: number;
}

export interface RoundResult {
  /** Batches taken off the sack, quarantined ones included. */
  batches: number;
  metrics: number;
  measures: number;
  /** Batches that failed their checks and were quarantined. */
  quarantined: number;
  /** Metrics whose measures are parked after this round (their aggregates fail their checks). */
  parked: number;
}

interface Pending {
  batchId: string;
  measures: Measures;
  /** Read from the parked entries, not from a batch. */
  parked: boolean;
}

const EMPTY: RoundResult = { batches: 0, metrics: 0, measures: 0, quarantined: 0, parked: 0 };

/**
 * How long parked measures wait before a sack's round tries their metrics again. Each try
 * reads them all back and fails again until the metric is repaired: tried on every round
 * (several a second under load), they would cost the sack's other metrics a read of every
 * parked measure each time.
 */
export const PARKED_RETRY_MS = 60_000;
/** A metric's parking is logged again after this long, not on every round. */
const PARKED_LOG_EVERY_MS = 10 * 60_000;

function parkedKey(e: ParkedEntry): string {
  return `${e.batchId}/${e.metricId}`;
}

export class Processor {
  private readonly maxBatches: number;
  private readonly concurrency: number;
  private readonly parkedRetryMs: number;
  /** By sack: when its parked measures are next read and retried (absent: now). */
  private readonly parkedRetryAt = new Map<number, number>();
  /** By metric: when its parking was last logged. */
  private readonly parkedLogged = new Map<string, number>();

  constructor(private readonly o: ProcessorOptions) {
    this.maxBatches = o.maxBatchesPerRound ?? 256;
    this.concurrency = o.concurrency ?? 8;
    this.parkedRetryMs = o.parkedRetryMs ?? PARKED_RETRY_MS;
  }

  get sacks(): number {
    return this.o.incoming.sacks;
  }

  /** Processes one sack if its lock is free (or waits for it when `wait`); null when busy. */
  async processSack(sack: number, opts: { wait?: boolean } = {}): Promise<RoundResult | null> {
    // An empty sack is not locked: listing it is a read of the incoming store, a lock is a
    // write to the coordination service (a consensus round on etcd), and idle sacks are most
    // of what every worker of every host visits. Measures added after the look wake the
    // worker or wait for its next scan.
    if (!opts.wait && (await this.o.incoming.listBatches(sack)).length === 0 && !(await this.parkedDue(sack))) return EMPTY;
    const name = `sack-${sack}`;
    const lock: Lock | null = opts.wait
      ? await this.o.coordinator.lock(name, { timeoutMs: 60_000 })
      : await this.o.coordinator.tryLock(name);
    if (!lock) return null;
    try {
      const total = { ...EMPTY };
      // Drain the sack in bounded rounds while holding its lock.
      for (;;) {
        // A lock lost with its lease or session may already be someone else's: stop here
        // rather than fold batches that worker folds too.
        lock.signal.throwIfAborted();
        const r = await this.round(sack, lock.signal);
        total.batches += r.batches;
        total.metrics += r.metrics;
        total.measures += r.measures;
        total.quarantined += r.quarantined;
        total.parked = r.parked;
        if (r.batches < this.maxBatches) return total;
      }
    } finally {
      await lock.release();
    }
  }

  /** Processes everything pending for the sack holding `metricId` (GET ?refresh=true). */
  async refreshMetric(metricId: string): Promise<void> {
    await this.processSack(this.o.incoming.sackOf(metricId), { wait: true });
  }

  /**
   * `signal`: the sack lock's. Each metric's fold looks at it before it starts and hands it
   * to the storage commit, which looks again before its commit point: a round can outlast
   * the lock, and the metrics it has not committed yet may be another worker's by then.
   */
  private retryDue(sack: number): boolean {
    return (this.parkedRetryAt.get(sack) ?? 0) <= Date.now();
  }

  /** True when the sack's parked measures are due for a try and there are some. */
  private async parkedDue(sack: number): Promise<boolean> {
    if (!this.retryDue(sack)) return false;
    if ((await this.o.incoming.listParked(sack)).length > 0) return true;
    this.parkedRetryAt.set(sack, Date.now() + this.parkedRetryMs);
    return false;
  }

  private async round(sack: number, signal: AbortSignal): Promise<RoundResult> {
    const listed = await this.o.incoming.listBatches(sack);
    const parkedList = await this.o.incoming.listParked(sack);
    const retry = parkedList.length > 0 && this.retryDue(sack);
    if (listed.length === 0 && !retry) return { ...EMPTY, parked: new Set(parkedList.map((e) => e.metricId)).size };
    const ids = listed.slice(0, this.maxBatches);
    const { byMetric, quarantined } = await this.readBatches(sack, ids, retry ? parkedList : []);
    // A metric with parked measures is folded only with them (a try): otherwise its new
    // measures would be folded ahead of older ones. Between tries, they are parked too.
    const waiting = retry ? new Set<string>() : new Set(parkedList.map((e) => e.metricId));
    const policies = await this.o.policies([...byMetric.keys()]);
    // Ids a metric's record must keep: a parked batch's id stays applied until it is
    // unparked, or a crash before the unpark would let a later try fold it again.
    const present = new Set([...listed, ...(retry ? parkedList.map((e) => e.batchId) : [])]);
    let measures = 0;
    let metrics = 0;
    const failed = new Map<string, CorruptStorageError | null>([...waiting].map((id) => [id, null]));
    const work = [...byMetric.entries()].filter(([id]) => policies.has(id) && !waiting.has(id));
    await eachLimited(work, this.concurrency, async ([metricId, pending]) => {
      signal.throwIfAborted();
      let n: number;
      try {
        n = await this.foldMetric(metricId, policies.get(metricId) as ArchivePolicy, pending, present, signal);
      } catch (err) {
        if (!(err instanceof CorruptStorageError)) throw err;
        failed.set(metricId, err);
        return;
      }
      if (n > 0) {
        metrics++;
        measures += n;
      }
    });
    // What the failed metrics did not fold is parked before the batches holding it go; a
    // crash in between leaves both, which their batch ids tell apart.
    const parkedNow = new Set<string>();
    const toPark: Array<[ParkedEntry, Measures]> = [];
    for (const metricId of failed.keys()) {
      if (!policies.has(metricId)) continue; // deleted meanwhile: dropped with its batches
      for (const p of byMetric.get(metricId) ?? []) {
        const entry = { batchId: p.batchId, metricId };
        parkedNow.add(parkedKey(entry));
        if (!p.parked) toPark.push([entry, p.measures]);
      }
    }
    await eachLimited(toPark, this.concurrency, ([entry, m]) => this.o.incoming.park(sack, entry, m));
    await this.o.incoming.deleteBatches(sack, ids.filter((id) => !quarantined.has(id)));
    if (retry) {
      await this.o.incoming.unpark(sack, parkedList.filter((e) => !parkedNow.has(parkedKey(e)) && !waiting.has(e.metricId)));
      this.parkedRetryAt.set(sack, Date.now() + this.parkedRetryMs);
    }
    for (const [metricId, err] of failed) {
      if (err === null || (this.parkedLogged.get(metricId) ?? 0) > Date.now() - PARKED_LOG_EVERY_MS) continue;
      this.parkedLogged.set(metricId, Date.now());
      this.o.log?.error({ err, metric: metricId, sack },
        'aggregates of a metric fail their checks: its measures are parked (counted in the backlog) and tried again every minute; the sack\'s other metrics go on');
    }
    // Every metric still parked is in `failed`: those waiting for their try, those it failed.
    return { batches: ids.length, metrics, measures, quarantined: quarantined.size, parked: failed.size };
  }

  /**
   * The batches' measures and the parked ones given, by metric, in batch order. A parked
   * entry whose batch is still there (a crash between parking and deleting) is read once.
   */
  private async readBatches(sack: number, ids: string[], parked: ParkedEntry[]): Promise<{ byMetric: Map<string, Pending[]>; quarantined: Set<string> }> {
    // Read concurrently (one after the other, the round waited on each file's open and
    // reads in turn), merged in batch order so each metric's measures stay in arrival order.
    const batches = new Array<Map<string, Measures>>(ids.length);
    const quarantined = new Set<string>();
    await eachLimited(ids.map((_, i) => i), this.concurrency * 2, async (i) => {
      try {
        batches[i] = await this.o.incoming.readBatch(sack, ids[i]);
      } catch (err) {
        if (!(err instanceof CorruptBatchError)) throw err;
        await this.o.incoming.quarantine(sack, ids[i]);
        // Once quarantined the batch is no longer listed: this is logged once.
        this.o.log?.error({ err, sack, batch: ids[i] }, 'corrupt incoming batch quarantined: its measures for this sack are not processed');
        quarantined.add(ids[i]);
        batches[i] = new Map();
      }
    });
    const parkedMeasures = new Array<Measures>(parked.length);
    await eachLimited(parked.map((_, i) => i), this.concurrency * 2, async (i) => {
      parkedMeasures[i] = await this.o.incoming.readParked(sack, parked[i]);
    });
    const all: Array<{ metricId: string; pending: Pending }> = [];
    const seen = new Set<string>();
    for (let i = 0; i < parked.length; i++) {
      seen.add(parkedKey(parked[i]));
      all.push({ metricId: parked[i].metricId, pending: { batchId: parked[i].batchId, measures: parkedMeasures[i], parked: true } });
    }
    for (let i = 0; i < ids.length; i++) {
      for (const [metricId, measures] of batches[i]) {
        if (!seen.has(parkedKey({ batchId: ids[i], metricId }))) all.push({ metricId, pending: { batchId: ids[i], measures, parked: false } });
      }
    }
    // Stable: a metric's entries of one source keep their order; parked ones are older.
    all.sort((a, b) => (a.pending.batchId < b.pending.batchId ? -1 : a.pending.batchId > b.pending.batchId ? 1 : 0));
    const byMetric = new Map<string, Pending[]>();
    for (const { metricId, pending } of all) {
      let list = byMetric.get(metricId);
      if (!list) byMetric.set(metricId, (list = []));
      list.push(pending);
    }
    return { byMetric, quarantined };
  }

  /** Folds the not-yet-applied batches into one metric; returns the measures folded. */
  private async foldMetric(metricId: string, policy: ArchivePolicy, pending: Pending[], present: Set<string>,
                           signal: AbortSignal): Promise<number> {
    // The sack's lock (held by processSack) makes this the only writer of the metric.
    const rec = await this.o.storage.update(metricId, { signal });
    const todo = pending.filter((p) => !rec.applied.has(p.batchId));
    if (todo.length === 0) return 0;
    const measures = concat(todo.map((p) => p.measures));
    const change = await processMeasures(policy, rec.state, measures, (key) => rec.readSplit(key));
    const forget = [...rec.applied].filter((id) => !present.has(id));
    await rec.commit({ ...change, applied: [...new Set(todo.map((p) => p.batchId))], forget });
    return measures.ts.length;
  }
}

