// What the drivers over a coordination server (etcd, PostgreSQL) share: every call to the
// server is retried a few times with bounded, jittered backoff and then surfaces as
// CoordinationUnavailableError; and a held lock carries an AbortSignal its driver aborts
// when the lease or session behind it is gone.
import { retry } from '@tally/retry';
import { CoordinationUnavailableError, LockLostError } from './errors.js';
import type { Lock } from './types.js';

/**
 * Tries per call, and the backoff between them: a server restart or a leader election
 * (about a second) is ridden out, a longer outage fails the call within a few seconds
 * instead of hanging the worker.
 */
export const SERVER_RETRY = { attempts: 6, baseMs: 50, maxMs: 1_000 };

/** Runs `fn` with SERVER_RETRY; a failure that persists (or is not `transient`) becomes CoordinationUnavailableError. */
export async function serverCall<T>(what: string, fn: () => Promise<T>, transient: (err: unknown) => boolean): Promise<T> {
  try {
    return await retry(fn, { ...SERVER_RETRY, retryable: transient });
  } catch (err) {
    if (!transient(err)) throw err;
    throw new CoordinationUnavailableError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A lock held on a server; `lose` aborts its signal, `release` runs the driver's removal
 * once. `onLetGo`, when given, runs at the first release(), lost lock or not: the holder
 * has stopped using it.
 */
export class ServerLock implements Lock {
  readonly #controller = new AbortController();
  readonly #release: () => Promise<void>;
  readonly #onLetGo: (() => void) | undefined;
  #released = false;

  constructor(readonly name: string, release: () => Promise<void>, onLetGo?: () => void) {
    this.#release = release;
    this.#onLetGo = onLetGo;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get released(): boolean {
    return this.#released;
  }

  lose(why: string): void {
    if (!this.#released && !this.#controller.signal.aborted) this.#controller.abort(new LockLostError(this.name, why));
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#onLetGo?.();
    // A lost lock has nothing left to remove on the server: its lease or session is gone.
    if (this.#controller.signal.aborted) return;
    await this.#release();
  }
}
