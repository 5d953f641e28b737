// The connection's cache of archive policies and archive policy rules.
//
// Archive policies and rules are read on every metric creation and change rarely. They
// are cached only when `dataVersion` can tell that another connection committed
// (SQLite's PRAGMA data_version): then the cache is dropped before it is used, and this
// connection drops it itself on each of its own policy or rule changes. `gen` counts
// drops so that a load racing with a change is not stored.
import type { ArchivePolicy, ArchivePolicyRule } from './types.js';

export class PolicyCache {
  /** Policy name -> policy, or null when known not to exist. */
  readonly policies = new Map<string, ArchivePolicy | null>();
  /** All rules in matching order, or null when not loaded. */
  rules: ArchivePolicyRule[] | null = null;
  gen = 0;
  private version: number | null = null;
  private closed = false;

  constructor(private readonly dataVersion: (() => number) | undefined) {}

  drop(): void {
    this.policies.clear();
    this.rules = null;
    this.gen++;
  }

  /** True when the caches may be used (they were dropped first if another connection wrote). */
  usable(): boolean {
    if (this.dataVersion === undefined || this.closed) return false;
    const v = this.dataVersion();
    if (v !== this.version) {
      this.drop();
      this.version = v;
    }
    return true;
  }

  /** The connection is closing: its data version may no longer be read. */
  close(): void {
    this.closed = true;
  }
}
