// The processing loop: visits every sack, processing those whose lock it gets, so that any
// number of workers (threads or processes sharing the data folder) split the sacks between
// them without configuration. Idle workers back off up to `intervalMs`.
//
// Given the sacks it owns on a hash ring of the live workers (`owned`), a worker visits
// only those, and every sack once every `sweepEvery` scans: with many hosts, a lock request
// per sack per worker per scan would be most of the coordination service's load, and the
// sweep still processes a sack whose owners have all died before membership notices.
import { sleep } from '@tally/retry';
import type { Processor, Logger } from './processor.js';

export interface WorkerOptions {
  processor: Processor;
  /** Longest pause between scans when there is nothing to do. */
  intervalMs?: number;
  /** Periodic housekeeping (expunging deleted metrics); errors are logged, not fatal. */
  housekeeping?: () => Promise<void>;
  housekeepingEveryMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  /** Called after each scan with what it processed (metrics for /v1/status). */
  onScan?: (stats: { measures: number; metrics: number; ms: number }) => void;
  /**
   * Tells when new measures may be waiting (the incoming store's `watch`): an idle worker
   * then scans at once instead of at the end of its pause. Returns the unsubscriber.
   */
  watch?: (onNew: () => void) => () => void;
  /** The sacks this worker owns now; absent or null: every sack. */
  owned?: () => ReadonlySet<number> | null;
  /** With `owned`: every this many scans, visit every sack (default 8). */
  sweepEvery?: number;
  /**
   * With `watch`: a woken idle worker waits until no new measures have come for this long
   * (default 30 ms) before it scans, and no longer than `settleMaxMs` (default 200 ms) in
   * all. A burst of requests is then acknowledged without processing taking the cores and
   * the disk's commits from it half way, and is folded in fewer, larger passes. A busy
   * worker does not wait.
   */
  settleMs?: number;
  settleMaxMs?: number;
}

export async function runWorker(o: WorkerOptions): Promise<void> {
  const interval = o.intervalMs ?? 500;
  const hkEvery = o.housekeepingEveryMs ?? 5_000;
  let lastHk = 0;
  let idle = 10;
  let lastMeasures = 0;
  // Start at a random sack so that several workers do not contend on the same locks.
  const sacks = o.processor.sacks;
  let start = Math.floor(Math.random() * sacks);
  const sweepEvery = o.sweepEvery ?? 8;
  let scans = 0;
  // Measures acknowledged while the worker idles wait for its next scan: woken, the scan
  // starts as soon as their burst pauses (an idle worker otherwise sleeps up to `interval`,
  // which was most of the time from acknowledgement to processing after a quiet spell).
  let woken = false;
  let lastWake = 0;
  let endPause: (() => void) | null = null;
  const unwatch = o.watch?.(() => {
    woken = true;
    lastWake = performance.now();
    endPause?.();
  });
  const settleMs = o.settleMs ?? 30;
  const settleMaxMs = o.settleMaxMs ?? 200;
  try {
    while (!o.signal?.aborted) {
      await scan();
      // Busy: scan again at once. Idle: back off exponentially up to the interval.
      if (lastMeasures > 0) {
        idle = 10;
        continue;
      }
      idle = Math.min(interval, idle * 2);
      if (!woken) {
        await new Promise<void>((resolve) => {
          endPause = resolve;
          sleep(idle, o.signal).then(resolve, resolve);
        });
        endPause = null;
      }
      if (woken) await settle();
      woken = false;
    }
  } finally {
    unwatch?.();
  }

  /** Waits for the burst that woke the worker to pause (see settleMs). */
  async function settle(): Promise<void> {
    const since = performance.now();
    for (;;) {
      const now = performance.now();
      const quiet = now - lastWake;
      if (quiet >= settleMs || now - since >= settleMaxMs || o.signal?.aborted) return;
      await sleep(Math.min(settleMs - quiet, settleMaxMs - (now - since)), o.signal).catch(() => undefined);
    }
  }

  async function scan(): Promise<void> {
    const t0 = Date.now();
    let measures = 0;
    let metrics = 0;
    const owned = scans++ % sweepEvery === sweepEvery - 1 ? null : o.owned?.() ?? null;
    for (let i = 0; i < sacks && !o.signal?.aborted; i++) {
      const sack = (start + i) % sacks;
      if (owned !== null && !owned.has(sack)) continue;
      try {
        const r = await o.processor.processSack(sack);
        if (r) {
          measures += r.measures;
          metrics += r.metrics;
        }
      } catch (err) {
        o.log?.error({ err, sack }, 'processing a sack failed; it will be retried');
      }
    }
    start = (start + 1) % sacks;
    lastMeasures = measures;
    o.onScan?.({ measures, metrics, ms: Date.now() - t0 });
    if (o.housekeeping && Date.now() - lastHk > hkEvery) {
      lastHk = Date.now();
      await o.housekeeping().catch((err: unknown) => o.log?.error({ err }, 'housekeeping failed'));
    }
  }
}
