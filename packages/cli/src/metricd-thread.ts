// Entry point of a processing thread: `tally serve` / `tally metricd` start some to run the
// processing loop, the API one (on the first GET ?refresh=true) to fold refreshed metrics off
// its event loop. Each opens its own connections and runs until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { runWorker, serveRefreshes } from '@tally/metricd';
import { openServices, expungeDeletedMetrics, type MetricdThreadData } from './services.js';

const { settings, role } = workerData as MetricdThreadData;
const log = pino({ level: settings.logLevel, base: { role: role === 'loop' ? 'metricd' : 'refresh', thread: process.pid } });
const abort = new AbortController();
// Messages that arrive while the services open (a PostgreSQL index takes a while) would
// reach only this listener and be lost: they are kept and handed to the refresh server
// once it listens.
const early: unknown[] = [];
let serving = false;
parentPort?.on('message', (msg: unknown) => {
  if (msg === 'stop') abort.abort();
  else if (!serving) early.push(msg);
});

const svc = await openServices(settings, log);
try {
  if (role === 'refresh') await answerRefreshes();
  else await processingLoop();
} finally {
  await svc.close();
  // The message listener would keep this thread alive once the work is over.
  parentPort?.close();
}

async function answerRefreshes(): Promise<void> {
  if (!parentPort) return;
  const drained = serveRefreshes(parentPort, svc.processor);
  serving = true;
  for (const msg of early.splice(0)) parentPort.emit('message', msg);
  await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
  await drained();
}

async function processingLoop(): Promise<void> {
  let processed = 0;
  await runWorker({
    processor: svc.processor,
    intervalMs: settings.processingIntervalMs,
    signal: abort.signal,
    log,
    housekeeping: async () => {
      const n = await expungeDeletedMetrics(svc);
      if (n) log.info({ metrics: n }, 'expunged deleted metrics');
    },
    onScan: (s) => {
      processed += s.measures;
      if (s.measures) parentPort?.postMessage({ type: 'scan', measures: s.measures, total: processed, ms: s.ms });
    },
  });
}
