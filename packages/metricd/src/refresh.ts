// GET ?refresh=true folds a metric's pending measures before reading it. A fold of a large
// backlog is seconds of CPU: on the API's own thread it would hold every other client for
// that long. So the API hands refreshes to worker threads (each runs a Processor over the
// same stores) and awaits their answer; its event loop stays free meanwhile.
import type { Worker, MessagePort } from 'node:worker_threads';
import { StorageUnavailableError } from '@tally/storage';
import { IncomingUnavailableError } from '@tally/incoming';
import { CoordinatorClosedError, LockTimeoutError } from '@tally/coordination';
import type { Logger } from './processor.js';

/** What the API needs of processing: fold everything pending for a metric, now. */
export interface MetricRefresher {
  refreshMetric(metricId: string): Promise<void>;
}

interface RefreshRequest {
  type: 'refresh';
  id: number;
  metricId: string;
}

/** An error as it crosses threads: structured clone keeps neither its class nor its code. */
interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  lockName?: string;
  timeoutMs?: number;
}

interface RefreshAnswer {
  type: 'refreshed';
  id: number;
  error?: WireError;
}

function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; lockName?: unknown; timeoutMs?: unknown };
  return {
    name: e.name, message: e.message, stack: e.stack,
    code: typeof e.code === 'string' ? e.code : undefined,
    lockName: typeof e.lockName === 'string' ? e.lockName : undefined,
    timeoutMs: typeof e.timeoutMs === 'number' ? e.timeoutMs : undefined,
  };
}

/** The error the worker threw, as the same class where the API tells classes apart. */
function fromWire(w: WireError): Error {
  let err: Error;
  const cause = w.code === undefined ? undefined : { code: w.code };
  switch (w.name) {
    case 'StorageUnavailableError': err = new StorageUnavailableError(w.message, { cause }); break;
    case 'IncomingUnavailableError': err = new IncomingUnavailableError(w.message, { cause }); break;
    case 'LockTimeoutError': err = new LockTimeoutError(w.lockName ?? '', w.timeoutMs ?? 0); break;
    case 'CoordinatorClosedError': err = new CoordinatorClosedError(); break;
    default:
      // Database drivers' errors are told apart by their code (busy, unreachable...).
      err = Object.assign(new Error(w.message), w.code === undefined ? {} : { code: w.code });
      err.name = w.name;
  }
  if (w.stack !== undefined) err.stack = w.stack;
  return err;
}

function isRefreshRequest(m: unknown): m is RefreshRequest {
  const r = m as Partial<RefreshRequest> | null;
  return r?.type === 'refresh' && typeof r.id === 'number' && typeof r.metricId === 'string';
}

function isRefreshAnswer(m: unknown): m is RefreshAnswer {
  const r = m as Partial<RefreshAnswer> | null;
  return r?.type === 'refreshed' && typeof r.id === 'number';
}

/**
 * The worker thread's side: answers each refresh request of `port` once `processor` (or,
 * while the thread still opens its services, the promise of it: requests wait) has
 * folded the metric's sack. Requests run concurrently (a sack's lock serialises those of
 * one sack). Returns a function that resolves once every request received has answered.
 */
export function serveRefreshes(port: MessagePort, processor: MetricRefresher | Promise<MetricRefresher>): () => Promise<void> {
  const inFlight = new Set<Promise<void>>();
  port.on('message', (m: unknown) => {
    if (!isRefreshRequest(m)) return;
    const done = Promise.resolve(processor).then((p) => p.refreshMetric(m.metricId)).then(
      () => port.postMessage({ type: 'refreshed', id: m.id } satisfies RefreshAnswer),
      (err: unknown) => port.postMessage({ type: 'refreshed', id: m.id, error: toWire(err) } satisfies RefreshAnswer),
    ).finally(() => inFlight.delete(done));
    inFlight.add(done);
  });
  return async () => {
    while (inFlight.size > 0) await Promise.all(inFlight);
  };
}

export interface ThreadRefresherOptions {
  /** Starts one worker thread that calls serveRefreshes and stops on the message 'stop'. */
  start: (index: number) => Worker;
  /** Threads at most (default 1), each started on first need. */
  threads?: number;
  /** How long close() lets a thread finish its refreshes before terminating it (ms). */
  stopGraceMs?: number;
  log?: Logger;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Waiter>;
}

/** Refreshes run in worker threads, started on the first refresh; the API side of them. */
export class ThreadRefresher implements MetricRefresher {
  readonly #o: ThreadRefresherOptions;
  readonly #threads: Array<Thread | undefined>;
  #next = 0;
  #closed = false;

  constructor(o: ThreadRefresherOptions) {
    this.#o = o;
    this.#threads = new Array<Thread | undefined>(Math.max(1, o.threads ?? 1));
  }

  refreshMetric(metricId: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the refresh threads are stopped'));
    const t = this.#pick();
    const id = ++this.#next;
    return new Promise<void>((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.postMessage({ type: 'refresh', id, metricId } satisfies RefreshRequest);
    });
  }

  /** Stops the threads once their refreshes are answered (terminated past the grace period). */
  async close(): Promise<void> {
    this.#closed = true;
    const grace = this.#o.stopGraceMs ?? 10_000;
    await Promise.all(this.#threads.map((t) => t && new Promise<void>((resolve) => {
      const timer = setTimeout(() => void t.worker.terminate(), grace);
      t.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      t.worker.postMessage('stop');
    })));
  }

  /** An idle started thread, else a new one while under the bound, else the least busy. */
  #pick(): Thread {
    let best: Thread | undefined;
    for (const t of this.#threads) {
      if (t && t.pending.size === 0) return t;
      if (t && (!best || t.pending.size < best.pending.size)) best = t;
    }
    const free = this.#threads.findIndex((t) => t === undefined);
    if (free >= 0) return this.#spawn(free);
    return best as Thread;
  }

  #spawn(index: number): Thread {
    const t: Thread = { worker: this.#o.start(index), pending: new Map() };
    this.#threads[index] = t;
    // A thread that dies fails its refreshes; the next refresh starts another one.
    const lost = (err: Error): void => {
      if (this.#threads[index] === t) this.#threads[index] = undefined;
      for (const w of t.pending.values()) w.reject(err);
      t.pending.clear();
    };
    t.worker.on('message', (m: unknown) => {
      if (!isRefreshAnswer(m)) return;
      const w = t.pending.get(m.id);
      if (!w) return;
      t.pending.delete(m.id);
      if (m.error) w.reject(fromWire(m.error));
      else w.resolve();
    });
    t.worker.on('error', (err) => {
      this.#o.log?.error({ err }, 'refresh thread failed');
      lost(err);
    });
    t.worker.on('exit', (code) => lost(new Error(`the refresh thread stopped (exit code ${code})`)));
    return t;
  }
}
