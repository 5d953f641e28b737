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
import { CorruptBatchError, type IncomingStore, type Measures } from '@tally/incoming';
import type { AggregateStorage } from '@tally/storage';
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
}

export interface RoundResult {
  /** Batches taken off the sack, quarantined ones included. */
  batches: number;
  metrics: number;
  measures: number;
  /** Batches that failed their checks and were quarantined. */
  quarantined: number;
}

interface Pending {
  batchId: string;
  measures: Measures;
}

const EMPTY: RoundResult = { batches: 0, metrics: 0, measures: 0, quarantined: 0 };

export class Processor {
  private readonly maxBatches: number;
  private readonly concurrency: number;

  constructor(private readonly o: ProcessorOptions) {
    this.maxBatches = o.maxBatchesPerRound ?? 256;
    this.concurrency = o.concurrency ?? 8;
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
    if (!opts.wait && (await this.o.incoming.listBatches(sack)).length === 0) return EMPTY;
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
  private async round(sack: number, signal: AbortSignal): Promise<RoundResult> {
    const listed = await this.o.incoming.listBatches(sack);
    if (listed.length === 0) return EMPTY;
    const ids = listed.slice(0, this.maxBatches);
    const { byMetric, quarantined } = await this.readBatches(sack, ids);
    const policies = await this.o.policies([...byMetric.keys()]);
    const present = new Set(listed);
    let measures = 0;
    let metrics = 0;
    const work = [...byMetric.entries()].filter(([id]) => policies.has(id));
    await eachLimited(work, this.concurrency, async ([metricId, pending]) => {
      signal.throwIfAborted();
      const n = await this.foldMetric(metricId, policies.get(metricId) as ArchivePolicy, pending, present, signal);
      if (n > 0) {
        metrics++;
        measures += n;
      }
    });
    await this.o.incoming.deleteBatches(sack, ids.filter((id) => !quarantined.has(id)));
    return { batches: ids.length, metrics, measures, quarantined: quarantined.size };
  }

  private async readBatches(sack: number, ids: string[]): Promise<{ byMetric: Map<string, Pending[]>; quarantined: Set<string> }> {
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
    const byMetric = new Map<string, Pending[]>();
    for (let i = 0; i < ids.length; i++) {
      const batchId = ids[i];
      for (const [metricId, measures] of batches[i]) {
        let list = byMetric.get(metricId);
        if (!list) byMetric.set(metricId, (list = []));
        list.push({ batchId, measures });
      }
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

