// How long one request may compute, and its share of the event loop. The API serves every
// client from one thread: a read or an aggregation that ran to its end in one go would
// make every other request wait for it. Long loops call pause() as they go: it gives the
// loop back to other requests every SLICE_MS and stops the request once it is past its
// deadline.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DeadlineExceeded } from './errors.js';

/** Longest stretch a request computes before letting other requests in. */
export const SLICE_MS = 10;
/** Default of `--request-deadline-ms` (docs/LIMITS.md). */
export const DEFAULT_REQUEST_DEADLINE_MS = 10_000;
/** The setting's name, for the answer that says which limit applied. */
export const REQUEST_DEADLINE_SETTING = 'request-deadline-ms';

export class Deadline {
  readonly #end: number;
  #slice: number;

  /** `limitMs` 0: no deadline (the loop is still shared). */
  constructor(readonly limitMs: number) {
    const now = performance.now();
    this.#end = limitMs > 0 ? now + limitMs : Infinity;
    this.#slice = now;
  }

  /** Throws DeadlineExceeded once the deadline has passed. */
  check(): void {
    if (performance.now() > this.#end) throw new DeadlineExceeded(this.limitMs, REQUEST_DEADLINE_SETTING);
  }

  /** Yields to other requests when this one has computed for SLICE_MS, then check(). */
  async pause(): Promise<void> {
    if (performance.now() - this.#slice >= SLICE_MS) {
      await nextTurn();
      this.#slice = performance.now();
    }
    this.check();
  }
}

/** A request's deadline from the services' setting (undefined: the default). */
export function requestDeadline(s: { requestDeadlineMs?: number }): Deadline {
  return new Deadline(s.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS);
}
