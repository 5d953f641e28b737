// Waiting, retrying and bounded concurrency, shared by every component that calls
// something that can fail for a while (another server, a lock held by someone else, a
// busy database): bounded exponential backoff with full jitter, so that callers that
// failed together do not retry in lockstep, and work run a few at a time.

export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortError';
  }
}

/** Resolves after `ms`; rejects with AbortedError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface BackoffOptions {
  /** Ceiling of the first delay (ms). */
  baseMs?: number;
  /** Largest ceiling any delay may have (ms). */
  maxMs?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

/**
 * Delays of a bounded exponential backoff with full jitter: the n-th delay is uniform in
 * [0, min(maxMs, baseMs * 2^n)).
 */
export class Backoff {
  readonly #base: number;
  readonly #max: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.#base = opts.baseMs ?? 50;
    this.#max = opts.maxMs ?? 5_000;
    this.#random = opts.random ?? Math.random;
    if (!(this.#base > 0) || !(this.#max >= this.#base)) throw new RangeError('backoff needs 0 < baseMs <= maxMs');
  }

  /** The ceiling the next delay is drawn under. */
  get ceiling(): number {
    return Math.min(this.#max, this.#base * 2 ** Math.min(this.#attempt, 52));
  }

  /** The next delay (ms), and moves on. */
  next(): number {
    const d = this.#random() * this.ceiling;
    this.#attempt++;
    return d;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

export interface RetryOptions extends BackoffOptions {
  /** Tries in all, the first included (>= 1). */
  attempts?: number;
  /** Whether an error is worth another try; by default every error is. */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait, with the error and the delay about to be waited. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

/**
 * Calls `fn` until it resolves, a non-retryable error is thrown, or `attempts` tries have
 * failed; then the last error is thrown as it was.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError('retry needs attempts >= 1');
  const backoff = new Backoff(opts);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || (opts.retryable && !opts.retryable(err)) || opts.signal?.aborted) throw err;
      const delay = backoff.next();
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. After a failure no new item
 * starts, and the first error is thrown only once every started one has settled, so that
 * what the caller does next (release a lock, clean up files) never races work still
 * running.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      try {
        await fn(items[next++]);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== null) throw (failure as { err: unknown }).err;
}
