// Entry point of a processing worker thread started by `tally serve` / `tally metricd`:
// it opens its own connections and runs the processing loop until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { runWorker } from '@tally/metricd';
import { openServices, expungeDeletedMetrics } from './services.js';
import type { Settings } from './config.js';

const settings = workerData as Settings;
const log = pino({ level: settings.logLevel, base: { role: 'metricd', thread: process.pid } });
const abort = new AbortController();
parentPort?.on('message', (msg: unknown) => {
  if (msg === 'stop') abort.abort();
});

const svc = await openServices(settings, log);
let processed = 0;
try {
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
} finally {
  await svc.close();
  // The message listener would keep this thread alive once the loop is over.
  parentPort?.close();
}
