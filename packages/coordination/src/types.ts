/** A held lock; `release` is idempotent. */
export interface Lock {
  release(): Promise<void>;
  /**
   * Aborts (with a LockLostError as reason) when the lock is lost while held: the lease or
   * session behind it expired or died, so another process may take it. Work done under the
   * lock checks it before each step it must not do unprotected. Never aborts because of
   * `release()` or `close()`.
   */
  readonly signal: AbortSignal;
}

export interface LockOptions {
  /** Give up after this many milliseconds (LockTimeoutError); wait forever when absent. */
  timeoutMs?: number;
}

/**
 * Named exclusive locks shared by every process of a deployment. A lock is held until
 * released, until the coordinator is closed, or until its holder dies: a driver must free
 * the locks of a crashed process by itself (kernel locks, sessions, leases), since metricd
 * holds a sack's lock for as long as it processes the sack.
 */
export interface Coordinator {
  /** The lock if it is free now; null when someone else (even this coordinator) holds it. */
  tryLock(name: string): Promise<Lock | null>;
  /** Waits for the lock, polling with backoff; LockTimeoutError past `timeoutMs`. */
  lock(name: string, opts?: LockOptions): Promise<Lock>;
  /** Releases every lock held through this coordinator; CoordinatorClosedError afterwards. */
  close(): Promise<void>;
}
