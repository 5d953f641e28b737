// One loop per source: discover then poll once per interval, at a phase drawn at random
// within the interval when the source starts (so that sources and agents started together
// do not all poll, and publish, at the same instant, as Ceilometer spreads its polling
// tasks), then on that phase: samples stay evenly spaced, which rates computed by the store
// need.
//
// Each discover or poll call gets its own deadline through the AbortSignal of its context.
// A pollster that ignores the signal is abandoned at the deadline (its promise is left to
// settle on its own and counted) and the cycle is reported as timed out; the other sources
// never wait for it. While a few abandoned calls of a source are still running, its next
// cycles are skipped rather than piling more calls on a stuck pollster.
//
// A failed cycle (a throw or a timeout) is logged with the source and counted, then retried
// within the interval with bounded exponential backoff and jitter; once the next slot is
// due the source simply polls again on its phase.
import { Backoff, sleep } from '@tally/retry';
import type { SourceConfig } from './config.js';
import type { Discovery, Logger, PollContext, Pollster, Sample } from './pollster.js';

/** Abandoned calls of one source still running, past which its cycles are skipped. */
const MAX_ABANDONED = 3;

export class PollTimeoutError extends Error {
  constructor(readonly source: string, readonly call: 'discover' | 'poll', readonly seconds: number) {
    super(`source ${JSON.stringify(source)}: ${call} took longer than ${seconds} s`);
    this.name = 'PollTimeoutError';
  }
}

export interface SourceStats {
  /** Cycles that published their samples. */
  cycles: number;
  /** Failed attempts (throws and timeouts), and timeouts alone. */
  errors: number;
  timeouts: number;
  /** Slots skipped: while calls were stuck, or because a cycle overran its interval. */
  skipped: number;
  /** Abandoned calls still running. */
  abandoned: number;
  lastDurationMs: number;
  lastSamples: number;
  samples: number;
}

export interface SourceRunnerOptions {
  source: SourceConfig;
  pollster: Pollster;
  /** Takes a cycle's samples (the publisher's durable submit). */
  publish: (samples: Sample[]) => Promise<void>;
  log: Logger;
  random?: () => number;
  /** Backoff of retries within an interval (ms); by default from 1 s up to half the interval. */
  retryBaseMs?: number;
  /** Called after each attempt, successful or not (health metrics). */
  onCycle?: (stats: SourceStats) => void;
}

export class SourceRunner {
  readonly source: SourceConfig;
  readonly pollster: Pollster;
  readonly stats: SourceStats = { cycles: 0, errors: 0, timeouts: 0, skipped: 0, abandoned: 0, lastDurationMs: 0, lastSamples: 0, samples: 0 };
  readonly #o: SourceRunnerOptions;
  readonly #stop = new AbortController();
  readonly #backoff: Backoff;
  #loop: Promise<void> | null = null;

  constructor(o: SourceRunnerOptions) {
    this.#o = o;
    this.source = o.source;
    this.pollster = o.pollster;
    const intervalMs = o.source.interval * 1000;
    const base = Math.min(o.retryBaseMs ?? 1_000, intervalMs / 4);
    this.#backoff = new Backoff({ baseMs: base, maxMs: Math.max(base, intervalMs / 2), random: o.random });
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  #log(level: Parameters<Logger>[0], message: string, fields: Record<string, unknown> = {}): void {
    this.#o.log(level, message, { source: this.source.name, pollster: this.pollster.name, ...fields });
  }

  async #run(): Promise<void> {
    const intervalMs = this.source.interval * 1000;
    const random = this.#o.random ?? Math.random;
    let slot = Date.now() + random() * intervalMs;
    let at = slot;
    for (;;) {
      try {
        await sleep(at - Date.now(), this.#stop.signal);
      } catch {
        return;
      }
      let ok = false;
      if (this.stats.abandoned >= MAX_ABANDONED) {
        this.stats.skipped++;
        this.#log('warn', 'cycle skipped: earlier calls that ignored their timeout are still running', { abandoned: this.stats.abandoned });
      } else {
        ok = await this.#attempt();
        if (this.#stop.signal.aborted) return;
      }
      const now = Date.now();
      const next = slot + intervalMs;
      if (!ok && this.stats.abandoned < MAX_ABANDONED) {
        const retryAt = now + this.#backoff.next();
        if (retryAt < next) {
          at = retryAt;
          continue;
        }
      }
      if (ok) this.#backoff.reset();
      slot = next;
      if (slot <= now) {
        const missed = Math.floor((now - slot) / intervalMs) + 1;
        this.stats.skipped += missed;
        this.#log('warn', 'cycle overran its interval: slots skipped', { missed, intervalSeconds: this.source.interval });
        slot += missed * intervalMs;
      }
      at = slot;
    }
  }

  /** Runs `fn` with a signal aborted at the source's timeout or at stop; abandons it if it ignores the signal. */
  async #call<T>(call: 'discover' | 'poll', fn: (ctx: PollContext) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const onStop = (): void => ac.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener('abort', onStop, { once: true });
    const timeoutMs = this.source.timeout * 1000;
    const ctx: PollContext = {
      signal: ac.signal,
      log: (level, message, fields) => this.#log(level, message, fields),
      wants: this.source.wants,
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const err = new PollTimeoutError(this.source.name, call, this.source.timeout);
        ac.abort(err);
        reject(err);
      }, timeoutMs);
      ac.signal.addEventListener('abort', () => reject(ac.signal.reason instanceof Error ? ac.signal.reason : new Error('stopped')), { once: true });
    });
    const work = Promise.resolve().then(() => fn(ctx));
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    try {
      return await Promise.race([watched, deadline]);
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener('abort', onStop);
      if (!settled) {
        this.stats.abandoned++;
        watched.catch(() => undefined).finally(() => {
          this.stats.abandoned--;
        });
      }
    }
  }

  /** One discover + poll + publish; false when it failed (reported). */
  async #attempt(): Promise<boolean> {
    const t0 = performance.now();
    this.#log('debug', 'cycle started');
    try {
      const discovery: Discovery<unknown> = await this.#call('discover', (ctx) => this.pollster.discover(ctx));
      const polled = await this.#call('poll', (ctx) => this.pollster.poll(ctx, discovery));
      const samples = polled.filter((s) => this.source.wants(s.meter));
      await this.#o.publish(samples);
      this.stats.cycles++;
      this.stats.lastSamples = samples.length;
      this.stats.samples += samples.length;
      this.stats.lastDurationMs = performance.now() - t0;
      this.#log('debug', 'cycle published', { samples: samples.length, ms: Math.round(this.stats.lastDurationMs) });
      return true;
    } catch (e) {
      if (this.#stop.signal.aborted) return false;
      this.stats.errors++;
      this.stats.lastDurationMs = performance.now() - t0;
      if (e instanceof PollTimeoutError) {
        this.stats.timeouts++;
        this.#log('error', 'pollster timed out', { call: e.call, timeoutSeconds: e.seconds, abandoned: this.stats.abandoned });
      } else {
        this.#log('error', 'cycle failed', { error: e instanceof Error ? e.message : String(e) });
      }
      return false;
    } finally {
      this.#o.onCycle?.(this.stats);
    }
  }

  /** Stops the loop (a call in flight is aborted) and closes the pollster, waiting at most `closeMs`. */
  async stop(closeMs = 5_000): Promise<void> {
    this.#stop.abort(new Error('agent stopping'));
    await this.#loop;
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      Promise.resolve().then(() => this.pollster.close()).then(() => true, (e: unknown) => {
        this.#log('warn', 'pollster failed to close', { error: e instanceof Error ? e.message : String(e) });
        return true;
      }),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), closeMs))),
    ]);
    clearTimeout(timer);
    if (!closed) this.#log('warn', 'pollster did not close in time: abandoned', { closeSeconds: closeMs / 1000 });
  }
}
