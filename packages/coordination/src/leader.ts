// Leader election over any coordinator: the leader of `name` is whoever holds the lock
// `leader:<name>`. Every candidate tries for it at intervals; the holder leads until it
// steps down, its coordinator closes, or its lock's signal says the lock may be lost (a
// lease that could not be renewed, a dead session), and then stops leading before anyone
// else can take over. So at no moment do two candidates believe they lead, on every driver
// whose locks keep that promise (all of Tally's).
import { sleep } from '@tally/retry';
import type { Coordinator, Lock } from './types.js';

export interface LeadershipOptions {
  coordinator: Coordinator;
  /** What is led (one leader per name among all the coordinator's users). */
  name: string;
  /** Pause between two tries of a candidate that is not leading (jittered by up to a half; 1 000 ms). */
  retryMs?: number;
  /** Called when this candidate starts (true) or stops (false) leading. */
  onChange?: (leading: boolean) => void;
  /** A try failed (the coordination service unreachable): the candidate tries again later. */
  onError?: (err: unknown) => void;
}

export class Leadership {
  readonly #o: LeadershipOptions;
  readonly #stop = new AbortController();
  #lock: Lock | null = null;
  #loop: Promise<void>;

  private constructor(o: LeadershipOptions) {
    this.#o = o;
    this.#loop = this.#campaign();
  }

  /** Starts campaigning in the background. */
  static start(o: LeadershipOptions): Leadership {
    return new Leadership(o);
  }

  /** Whether this candidate leads now. */
  get leading(): boolean {
    return this.#lock !== null && !this.#lock.signal.aborted;
  }

  async #campaign(): Promise<void> {
    const retryMs = this.#o.retryMs ?? 1000;
    const stopped = this.#stop.signal;
    while (!stopped.aborted) {
      let lock: Lock | null = null;
      try {
        lock = await this.#o.coordinator.tryLock(`leader:${this.#o.name}`);
      } catch (err) {
        if (!stopped.aborted) this.#o.onError?.(err);
      }
      if (lock !== null) {
        if (stopped.aborted) {
          await lock.release().catch(() => undefined);
          return;
        }
        this.#lock = lock;
        this.#o.onChange?.(true);
        // Lead until the lock may be lost or the candidate steps down.
        const held = lock;
        await new Promise<void>((resolve) => {
          if (held.signal.aborted || stopped.aborted) return resolve();
          const done = (): void => {
            held.signal.removeEventListener('abort', done);
            stopped.removeEventListener('abort', done);
            resolve();
          };
          held.signal.addEventListener('abort', done, { once: true });
          stopped.addEventListener('abort', done, { once: true });
        });
        this.#lock = null;
        this.#o.onChange?.(false);
        await lock.release().catch(() => undefined);
      }
      await sleep(retryMs * (1 + Math.random() / 2), stopped).catch(() => undefined);
    }
  }

  /** Stops campaigning; a leader steps down and releases the lock at once. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}
