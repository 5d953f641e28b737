// The connection's cache of active metrics by id.
//
// Every request that writes measures names its metrics, and looking each up again cost a
// query built, compiled and run per request (about 70 us of the API thread's CPU each, the
// largest part of a small POST's cost after the HTTP parsing). Metrics are cached only when
// the connection can tell that nothing changed since they were read: `changes` answers a
// stamp that moves whenever any connection commits (SQLite's PRAGMA data_version, for the
// others) or this connection changes a row (SQLite's total_changes(), which counts rows
// inserted, updated or deleted, triggers and foreign key actions included). Any change to
// the database empties the cache: a write that does not touch metrics costs the next lookups
// a query, never a stale answer. Only active metrics are kept; absence is never cached.
import type { Metric } from './types.js';

/** Most metrics kept; beyond, the cache starts over (it refills from the lookups). */
const MAX_METRICS = 100_000;

export class MetricCache {
  private readonly metrics = new Map<string, Metric>();
  private stamp: string | null = null;

  /** `changes`: the stamp, or null when nothing may be cached now (a closing connection). */
  constructor(private readonly changes: (() => string | null) | undefined) {}

  /**
   * The stamp to read and store under, after emptying the cache if the database changed;
   * null when nothing may be cached (no way to tell changes, or the connection is closing).
   */
  begin(): string | null {
    const s = this.changes?.() ?? null;
    if (s === null) return null;
    if (s !== this.stamp) {
      this.metrics.clear();
      this.stamp = s;
    }
    return s;
  }

  /** A copy of the cached metric (callers may change what they get). */
  get(id: string): Metric | undefined {
    const m = this.metrics.get(id);
    return m === undefined ? undefined : { ...m };
  }

  /** Keeps metrics read under `stamp`, if the database has not changed since. */
  store(stamp: string, metrics: readonly Metric[]): void {
    if ((this.changes?.() ?? null) !== stamp) return;
    if (this.metrics.size + metrics.length > MAX_METRICS) this.metrics.clear();
    for (const m of metrics) if (m.status === 'active') this.metrics.set(m.id, { ...m });
  }
}
