import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Backoff, sleep } from '@tally/retry';
import { CoordinatorClosedError, LockTimeoutError } from './errors.js';
import { coordinationFolder, isBusy } from './file-driver.js';
import type { Coordinator, Lock, LockOptions } from './types.js';
import type { CoordinatorDriver } from './drivers.js';
import { LOCK_POLL } from './lock-wait.js';

export interface LocalCoordinatorOptions {
  /** Folder holding one small lock file per lock name; shared by every process. */
  dir: string;
}

type Db = Database.Database;

/** Lock polling: the first wait is under 2 ms (a sack round is often that short), at most 250 ms. */
/**
 * Connections kept open between uses of a lock name. Opening the lock database was most of
 * a lock cycle (measured: 265 us for open, BEGIN EXCLUSIVE, ROLLBACK and close), and a
 * processing thread cycles through every sack lock many times a second.
 */
const MAX_IDLE_CONNECTIONS = 128;

/**
 * Lock file name for a lock name: readable prefix plus a hash, so that names differing
 * only in characters we replace ("a/b" vs "a_b") never share a file.
 */
export function lockFileName(name: string): string {
  const readable = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${readable}-${digest}.lock`;
}

/**
 * Locks backed by SQLite exclusive transactions, one database file per lock name.
 *
 * Why SQLite: Node exposes no flock/fcntl. SQLite takes POSIX fcntl locks on the
 * database file, so the kernel drops them when the holder dies (even by SIGKILL) and no
 * stale lock file can block anyone; and SQLite tracks locks per inode inside a process,
 * so two connections of the same process exclude each other too (plain fcntl would not).
 */
export class LocalCoordinator implements Coordinator {
  readonly dir: string;
  readonly #held = new Set<HeldLock>();
  /** Open connections holding no lock, by lock name; Map order is least recently used first. */
  readonly #idle = new Map<string, Db>();
  #closed = false;

  constructor(options: LocalCoordinatorOptions) {
    this.dir = options.dir;
    mkdirSync(this.dir, { recursive: true });
  }

  async tryLock(name: string): Promise<Lock | null> {
    this.#checkOpen();
    const db = this.#open(name);
    try {
      if (this.#attempt(db)) return this.#hold(name, db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#park(name, db);
    return null;
  }

  async lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    this.#checkOpen();
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    // One connection is reused across attempts so polling does not churn file descriptors.
    const db = this.#open(name);
    const backoff = new Backoff(LOCK_POLL);
    try {
      for (;;) {
        if (this.#attempt(db)) return this.#hold(name, db);
        const left = deadline - Date.now();
        if (left <= 0) throw new LockTimeoutError(name, opts.timeoutMs ?? 0);
        await sleep(Math.min(left, backoff.next()));
        this.#checkOpen();
      }
    } catch (err) {
      if (err instanceof LockTimeoutError && !this.#closed) this.#park(name, db);
      else db.close();
      throw err;
    }
  }

  /** Releases every lock still held through this coordinator and closes its connections. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const held of [...this.#held]) await held.release();
    for (const db of this.#idle.values()) db.close();
    this.#idle.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new CoordinatorClosedError();
  }

  #open(name: string): Db {
    const idle = this.#idle.get(name);
    if (idle !== undefined) {
      this.#idle.delete(name);
      return idle;
    }
    // timeout 0: never let SQLite block the event loop waiting for a busy lock.
    return new Database(join(this.dir, lockFileName(name)), { timeout: 0 });
  }

  /** Keeps a connection that holds no lock for the next use of its name (bounded). */
  #park(name: string, db: Db): void {
    const previous = this.#idle.get(name);
    if (this.#closed || (previous !== undefined && previous !== db)) {
      db.close();
      return;
    }
    this.#idle.delete(name);
    this.#idle.set(name, db);
    if (this.#idle.size > MAX_IDLE_CONNECTIONS) {
      const [oldest, oldDb] = this.#idle.entries().next().value as [string, Db];
      this.#idle.delete(oldest);
      oldDb.close();
    }
  }

  /** True when this connection now holds the exclusive lock; false when someone else does. */
  #attempt(db: Db): boolean {
    try {
      db.exec('BEGIN EXCLUSIVE');
      return true;
    } catch (err) {
      if (isBusy(err)) return false;
      throw err;
    }
  }

  #hold(name: string, db: Db): Lock {
    const held = new HeldLock(name, db, (reusable) => {
      this.#held.delete(held);
      if (reusable) this.#park(name, db);
    });
    this.#held.add(held);
    return held;
  }
}

class HeldLock implements Lock {
  #db: Db | null;
  /** A kernel file lock is held until released or until this process dies: it is never lost. */
  readonly signal = new AbortController().signal;

  /** `onReleased(true)` gives the connection back once it holds no lock; false: it was closed. */
  constructor(readonly name: string, db: Db, private readonly onReleased: (reusable: boolean) => void) {
    this.#db = db;
  }

  /** Idempotent: releasing twice is harmless. */
  async release(): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    try {
      db.exec('ROLLBACK');
    } catch (err) {
      // Whatever state the connection is in, closing it drops its locks.
      db.close();
      this.onReleased(false);
      throw err;
    }
    this.onReleased(true);
  }
}

/** `file:///path`: LocalCoordinator with its lock files in that folder. */
export const fileCoordinatorDriver: CoordinatorDriver = {
  open: async (url) => new LocalCoordinator({ dir: coordinationFolder(url) }),
};
