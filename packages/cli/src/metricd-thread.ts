// Entry point of a processing thread: `tally serve` / `tally metricd` start some to run the
// processing loop, the API one (on the first GET ?refresh=true) to fold refreshed metrics off
// its event loop. Each opens its own connections and runs until told to stop.
import { hostname, setPriority } from 'node:os';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { Leadership, openMembership, RingPartition } from '@tally/coordination';
import { runWorker, serveRefreshes } from '@tally/metricd';
import { openServices, expungeDeletedMetrics, type MetricdThreadData } from './services.js';
import { warmUpProcessing } from './warm-up.js';

const { settings, role } = workerData as MetricdThreadData;

/**
 * Nice value of processing-loop threads. On a busy machine the API's thread (acknowledging
 * writes, answering reads) goes first and processing takes what is left, as background
 * work should: a write is acknowledged once durable in incoming whatever the backlog, and
 * the backlog drains at full speed as soon as requests leave the CPU free. Linux keeps a
 * nice value per thread (setpriority of the calling thread); refresh threads, which API
 * requests wait on, keep the process's.
 */
const PROCESSING_NICE = 10;
if (role === 'loop') {
  try {
    setPriority(0, PROCESSING_NICE);
  } catch {
    // Not permitted or not supported here: processing runs at the process's priority.
  }
}
const log = pino({ level: settings.logLevel, base: { role: role === 'loop' ? 'metricd' : 'refresh', thread: process.pid } });
const abort = new AbortController();
parentPort?.on('message', (msg: unknown) => {
  if (msg === 'stop') abort.abort();
});

const opening = openServices(settings, log, { dedicatedThread: true });
// Refreshes are listened for before the services are open (a PostgreSQL index takes a
// while): requests sent meanwhile wait for them instead of being lost.
const drained = role === 'refresh' && parentPort ? serveRefreshes(parentPort, opening.then((s) => s.processor)) : null;
const svc = await opening;
try {
  if (drained) await answerRefreshes(drained);
  else {
    await warmUp();
    await processingLoop();
  }
} finally {
  await svc.close();
  // The message listener would keep this thread alive once the work is over.
  parentPort?.close();
}

/** Tells the parent once done: `serve` opens its port when every thread has warmed up. */
async function warmUp(): Promise<void> {
  if (settings.warmUpMs > 0) {
    try {
      const r = await warmUpProcessing({ budgetMs: settings.warmUpMs });
      log.info(r, 'processing thread warmed up');
    } catch (err) {
      // Scratch data only: a failure costs speed at start, never correctness.
      log.warn({ err }, 'warm-up failed; processing starts without it');
    }
  }
  parentPort?.postMessage({ type: 'warm' });
}

async function answerRefreshes(drained: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
  await drained();
}

/**
 * With --sack-replicas, the processing loop owns the sacks the hash ring of the live
 * processing threads of every host gives it (`metricd` group of the coordination URL).
 */
async function sackPartition(): Promise<{ owned: () => ReadonlySet<number>; leave: () => Promise<void> } | null> {
  if (settings.sackReplicas === 0) return null;
  const membership = await openMembership(settings.coordinationUrl);
  const timeoutMs = settings.membershipTimeout * 1000;
  const keys = Array.from({ length: svc.incoming.sacks }, (_v, i) => String(i));
  let owned: ReadonlySet<number> = new Set();
  const partition = await RingPartition.join({
    membership, group: 'metricd', memberId: `${hostname()}.${process.pid}.${threadId}`, keys, replicas: settings.sackReplicas,
    heartbeatMs: Math.max(50, Math.floor(timeoutMs / 5)), timeoutMs,
    onChange: (mine, members) => {
      owned = new Set([...mine].map(Number));
      log.info({ members: members.length, sacks: [...owned].sort((a, b) => a - b) }, 'sacks shared between processing workers');
    },
    onError: (err) => log.warn({ err }, 'processing membership unreadable: sacks kept as they were'),
  });
  return {
    owned: () => owned,
    leave: async () => {
      await partition.leave().catch((err: unknown) => log.warn({ err }, 'could not leave the processing group: the others take its sacks after the membership timeout'));
      await membership.close().catch(() => undefined);
    },
  };
}

async function processingLoop(): Promise<void> {
  let processed = 0;
  const partition = await sackPartition();
  // One processing thread of the deployment expunges deleted metrics: every one of them
  // listing and deleting the same metrics would multiply that work by the hosts.
  const housekeeper = Leadership.start({
    coordinator: svc.coordinator, name: 'metricd-housekeeping', retryMs: 5_000,
    onChange: (leading) => log.info({ leading }, leading ? 'this worker now expunges deleted metrics' : 'this worker no longer expunges deleted metrics'),
    onError: (err) => log.warn({ err }, 'housekeeping leadership: coordination unreachable'),
  });
  try {
    await runWorker({
      processor: svc.processor,
      ...(partition ? { owned: partition.owned } : {}),
      intervalMs: settings.processingIntervalMs,
      settleMs: settings.processingSettleMs,
      signal: abort.signal,
      log,
      watch: svc.incoming.watch?.bind(svc.incoming),
      housekeeping: async () => {
        if (!housekeeper.leading) return;
        const n = await expungeDeletedMetrics(svc);
        if (n) log.info({ metrics: n }, 'expunged deleted metrics');
      },
      onScan: (s) => {
        processed += s.measures;
        if (s.measures) parentPort?.postMessage({ type: 'scan', measures: s.measures, total: processed, ms: s.ms });
      },
    });
  } finally {
    await housekeeper.stop();
    await partition?.leave();
  }
}
