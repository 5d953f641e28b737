/** A held lock; `release` is idempotent. */
export interface Lock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** Give up after this many milliseconds (LockTimeoutError); wait forever when absent. */
  timeoutMs?: number;
}

export interface Coordinator {
  tryLock(name: string): Promise<Lock | null>;
  lock(name: string, opts?: LockOptions): Promise<Lock>;
  close(): Promise<void>;
}
