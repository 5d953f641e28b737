// Waiting for a lock held by someone else, as every driver does it: try, then back off
// (jittered, growing to a quarter second) until the lock is free or the caller's timeout.
import { Backoff, sleep } from '@tally/retry';
import { LockTimeoutError } from './errors.js';
import type { Lock, LockOptions } from './types.js';

/** Backoff between two tries of a lock held by someone else. */
export const LOCK_POLL = { baseMs: 2, maxMs: 250 };

/** `tryLock(name)` until it gives the lock; LockTimeoutError past `opts.timeoutMs`. */
export async function waitForLock(tryLock: (name: string) => Promise<Lock | null>, name: string, opts: LockOptions = {}): Promise<Lock> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const backoff = new Backoff(LOCK_POLL);
  for (;;) {
    const held = await tryLock(name);
    if (held !== null) return held;
    const left = deadline - Date.now();
    if (left <= 0) throw new LockTimeoutError(name, opts.timeoutMs ?? 0);
    await sleep(Math.min(left, backoff.next()));
  }
}
