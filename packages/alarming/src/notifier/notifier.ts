// The delivery worker. It claims due outbox rows (outbox.ts), delivers each action
// (deliver.ts) and records the outcome:
//   2xx, or a log line                      -> delivered
//   timeout, no connection, 408, 429, 5xx   -> retried after a backoff of the receiver
//   other answers, unusable actions         -> failed (recorded, with the answer)
//   still retrying at `maxAgeMs`            -> failed (recorded)
// Backoff is per receiver (scheme://host:port): bounded exponential with full jitter, reset
// by a success; a Retry-After longer than the drawn delay is waited instead. So one
// receiver down never holds deliveries to others back, and the other notifications queued
// for it wait with it instead of each timing out in turn. At most `perReceiverConcurrency`
// deliveries run per receiver, so a hanging one cannot take every slot. Notifications matching an active silence are held; a silence that ended has its
// summaries queued by whichever notifier sees it first.
import http from 'node:http';
import https from 'node:https';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Backoff, sleep } from '@tally/retry';
import type { AlarmDatabase } from '../db.js';
import { deliver, type DeliveryContext, type NotifierLogger, type NotifierTlsOptions } from './deliver.js';
import { NotifierConfigError } from './errors.js';
import { claimDue, complete, deferReceiver, entryBody, summarizeEndedSilences, type ClaimedEntry, type Completion } from './outbox.js';
import { activeSilences } from './silences.js';

export interface NotifierOptions {
  database: Pick<AlarmDatabase, 'db' | 'dialect'>;
  /** Names this process in claims and attempts (default host:pid:random). */
  id?: string;
  logger?: NotifierLogger;
  /** Limit on one delivery, connection to end of the answer (default 10 s). */
  timeoutMs?: number;
  /** How long a claim holds a row before another notifier may take it over; above timeoutMs (default 60 s). */
  leaseMs?: number;
  /** How often the outbox is polled when nothing wakes the notifier (default 1 s). */
  pollIntervalMs?: number;
  /** Deliveries in flight at most (default 16). */
  concurrency?: number;
  /** Deliveries in flight at most to one receiver (default 4). */
  perReceiverConcurrency?: number;
  /** Per-receiver retry backoff (default 1 s doubling up to 5 min, full jitter). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Age after which a notification still failing is given up and recorded failed (default 24 h). */
  maxAgeMs?: number;
  /** Secrets by name, for actions that ask for a signature (sign.ts). */
  hmacSecrets?: Record<string, string>;
  tls?: NotifierTlsOptions;
  /** Held changes listed per alarm in a silence's summary (the count covers all; default 100). */
  summaryMaxChanges?: number;
  now?: () => number;
  random?: () => number;
}

const SILENT: NotifierLogger = { info() {}, warn() {}, error() {} };

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new NotifierConfigError(`${name} must be a positive number, got ${v}`);
  return v;
}

interface ReceiverState {
  backoff: Backoff;
  retryAt: number;
}

export class Notifier {
  readonly id: string;
  readonly #o: Required<Omit<NotifierOptions, 'id' | 'hmacSecrets' | 'tls' | 'backoff'>> & { backoff: { baseMs: number; maxMs: number } };
  readonly #ctx: DeliveryContext;
  readonly #receivers = new Map<string, ReceiverState>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #perReceiver = new Map<string, number>();
  #round = 0;
  #summarizedAt = -Infinity;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: AbortController = new AbortController();

  constructor(options: NotifierOptions) {
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000);
    const leaseMs = positive('leaseMs', options.leaseMs ?? 60_000);
    if (leaseMs <= timeoutMs) throw new NotifierConfigError('leaseMs must exceed timeoutMs, or deliveries still running would be taken over');
    const backoff = { baseMs: positive('backoff.baseMs', options.backoff?.baseMs ?? 1_000), maxMs: positive('backoff.maxMs', options.backoff?.maxMs ?? 300_000) };
    if (backoff.maxMs < backoff.baseMs) throw new NotifierConfigError('backoff.maxMs must be at least backoff.baseMs');
    this.#o = {
      database: options.database,
      logger: options.logger ?? SILENT,
      timeoutMs,
      leaseMs,
      pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs ?? 1_000),
      concurrency: Math.floor(positive('concurrency', options.concurrency ?? 16)),
      perReceiverConcurrency: Math.floor(positive('perReceiverConcurrency', options.perReceiverConcurrency ?? 4)),
      backoff,
      maxAgeMs: positive('maxAgeMs', options.maxAgeMs ?? 86_400_000),
      summaryMaxChanges: Math.floor(positive('summaryMaxChanges', options.summaryMaxChanges ?? 100)),
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    };
    this.#ctx = {
      timeoutMs,
      tls: options.tls ?? {},
      hmacSecrets: new Map(Object.entries(options.hmacSecrets ?? {})),
      logger: this.#o.logger,
      agents: {
        http: new http.Agent({ keepAlive: true, maxSockets: this.#o.perReceiverConcurrency }),
        https: new https.Agent({ keepAlive: true, maxSockets: this.#o.perReceiverConcurrency }),
      },
      now: this.#o.now,
    };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Finishes the deliveries in flight (each bounded by timeoutMs) and stops. */
  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#loop = null;
    await Promise.all([...this.#inFlight]);
    this.#ctx.agents.http.destroy();
    this.#ctx.agents.https.destroy();
  }

  /** Looks at the outbox now (call after committing a state change, to skip the poll wait). */
  wake(): void {
    this.#wake.abort();
  }

  async #run(): Promise<void> {
    const errors = new Backoff({ baseMs: this.#o.pollIntervalMs, maxMs: Math.max(this.#o.pollIntervalMs, 30_000), random: this.#o.random });
    while (this.#running) {
      const wake = this.#wake;
      let wait = this.#o.pollIntervalMs;
      try {
        await this.#tick();
        errors.reset();
      } catch (err) {
        wait = errors.next();
        this.#o.logger.error({ err, notifier: this.id }, 'alarm notifier round failed; retrying');
      }
      if (!this.#running) break;
      if (wake.signal.aborted) {
        this.#wake = new AbortController();
        continue;
      }
      await sleep(wait, wake.signal).catch(() => {});
      if (wake.signal.aborted) this.#wake = new AbortController();
    }
  }

  async #tick(): Promise<void> {
    const { db, dialect } = this.#o.database;
    const now = this.#o.now();
    // Silences end on the clock, not on a wake-up: looking once per poll interval is enough,
    // and keeps rounds woken by each commit to the claim alone.
    if (now - this.#summarizedAt >= this.#o.pollIntervalMs) {
      await summarizeEndedSilences(db, dialect, now, this.#o.summaryMaxChanges);
      this.#summarizedAt = now;
    }
    const free = this.#o.concurrency - this.#inFlight.size;
    if (free <= 0) return;
    const claimed = await claimDue(db, {
      claim: `${this.id}:${this.#round++}`,
      now,
      leaseMs: this.#o.leaseMs,
      limit: free,
      perReceiver: this.#o.perReceiverConcurrency,
      inFlight: this.#perReceiver,
    });
    if (claimed.length === 0) return;
    const silences = await activeSilences(db, now);
    for (const entry of claimed) {
      const silence = entry.kind === 'notification' ? silences.find((s) => s.matches(entry)) : undefined;
      this.#perReceiver.set(entry.receiver, (this.#perReceiver.get(entry.receiver) ?? 0) + 1);
      const job = this.#process(entry, silence?.silence.id ?? null)
        .catch((err: unknown) => {
          // The row stays claimed until its lease runs out, then it is delivered again.
          this.#o.logger.error({ err, notifier: this.id, outbox_id: entry.id }, 'recording a delivery failed');
        })
        .finally(() => {
          this.#inFlight.delete(job);
          const n = (this.#perReceiver.get(entry.receiver) ?? 1) - 1;
          if (n === 0) this.#perReceiver.delete(entry.receiver);
          else this.#perReceiver.set(entry.receiver, n);
          // The next notification of the same alarm and action may now go.
          this.wake();
        });
      this.#inFlight.add(job);
    }
  }

  async #process(entry: ClaimedEntry, silenceId: string | null): Promise<void> {
    const { db, dialect } = this.#o.database;
    if (silenceId !== null) {
      await complete(db, dialect, entry, { status: 'held', silenceId }, null, this.#o.now());
      return;
    }
    const state = this.#receivers.get(entry.receiver);
    if (state !== undefined && state.retryAt > this.#o.now()) {
      await complete(db, dialect, entry, { status: 'retry', nextAttemptAt: state.retryAt }, null, this.#o.now());
      return;
    }
    const startedAt = this.#o.now();
    const t0 = performance.now();
    const result = await deliver({
      action: entry.rawAction,
      requestId: entry.request_id,
      body: entryBody(entry),
      describe: entry.kind === 'summary'
        ? { summary: entry.reason_data }
        : { alarm_id: entry.alarm_id, alarm_name: entry.alarm_name, severity: entry.severity, previous: entry.previous, current: entry.current, reason: entry.reason },
    }, this.#ctx);
    const latencyMs = performance.now() - t0;
    const now = this.#o.now();
    const attempt = { startedAt, latencyMs, status: result.status, error: result.outcome === 'delivered' ? null : result.error, notifier: this.id };
    let done: Completion;
    if (result.outcome === 'delivered') {
      this.#receivers.delete(entry.receiver);
      done = { status: 'delivered' };
    } else if (result.outcome === 'failed') {
      done = { status: 'failed' };
      this.#o.logger.warn({ notifier: this.id, request_id: entry.request_id, alarm_id: entry.alarm_id, action: entry.action, error: result.error }, 'alarm notification refused; not retried');
    } else {
      const deadline = entry.created_at + this.#o.maxAgeMs;
      if (now >= deadline) {
        done = { status: 'failed' };
        attempt.error = `gave up after ${entry.attempts + 1} attempts: ${result.error}`;
        this.#o.logger.warn({ notifier: this.id, request_id: entry.request_id, alarm_id: entry.alarm_id, action: entry.action, error: result.error }, 'alarm notification given up');
      } else {
        const receiver = this.#receivers.get(entry.receiver)
          ?? { backoff: new Backoff({ ...this.#o.backoff, random: this.#o.random }), retryAt: 0 };
        let delay = receiver.backoff.next();
        // A receiver that says when to come back is believed, within the notification's age limit.
        if (result.retryAfterMs !== null) delay = Math.max(delay, result.retryAfterMs);
        const next = Math.min(now + delay, deadline);
        receiver.retryAt = Math.max(receiver.retryAt, next);
        this.#receivers.set(entry.receiver, receiver);
        done = { status: 'retry', nextAttemptAt: next };
        this.#o.logger.info({ notifier: this.id, request_id: entry.request_id, action: entry.action, error: result.error, retry_in_ms: Math.round(next - now) }, 'alarm notification will be retried');
      }
    }
    await complete(db, dialect, entry, done, attempt, now);
    if (done.status === 'retry') await deferReceiver(db, entry.receiver, this.#receivers.get(entry.receiver)?.retryAt ?? done.nextAttemptAt);
  }
}
