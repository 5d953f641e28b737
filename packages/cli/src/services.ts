// Opens the components one process needs, from the settings, and closes them in order.
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { openIndexer, type Indexer } from '@tally/indexer';
import { openIncoming, type IncomingStore } from '@tally/incoming';
import { openStorage, type AggregateStorage } from '@tally/storage';
import { openCoordinator, type Coordinator } from '@tally/coordination';
import { Processor, ThreadRefresher, type Logger, type MetricRefresher, type PolicyLookup } from '@tally/metricd';
import { defaultArchivePolicies, type ArchivePolicy } from '@tally/timeseries';
import type { Settings } from './config.js';

export interface Services {
  indexer: Indexer;
  incoming: IncomingStore;
  storage: AggregateStorage;
  coordinator: Coordinator;
  processor: Processor;
  /** What GET ?refresh=true calls: the processor itself, or worker threads running one. */
  refresher: MetricRefresher;
  close(): Promise<void>;
}

/** What a processing thread does: the processing loop, or answer the API's refreshes. */
export type MetricdThreadRole = 'loop' | 'refresh';

export interface MetricdThreadData {
  settings: Settings;
  role: MetricdThreadRole;
}

/**
 * A processing thread's young generation: V8 lets it grow to 48 MiB under a fold's
 * allocation rate, and each thread's was most of the process's peak memory (measured with
 * two threads folding 100 000-measure batches: 262 MiB peak, 218 with this bound); the
 * engine was no slower with it (1.40-1.48 million points/s per core of CPU time with the
 * default, 1.60-1.75 with a 4 MiB semi-space, on Gnocchi's six methods at three
 * granularities).
 */
const THREAD_YOUNG_GENERATION_MB = 12;

/** Starts a processing thread (metricd-thread.ts) over the stores `s` names. */
export function startMetricdThread(s: Settings, role: MetricdThreadRole, name: string): Worker {
  const data: MetricdThreadData = { settings: s, role };
  return new Worker(new URL('./metricd-thread.js', import.meta.url), { workerData: data, name, resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB } });
}

/** Active metrics among `ids` with their archive policy: two indexed queries per round. */
export function policyLookup(indexer: Indexer): PolicyLookup {
  return async (ids) => {
    const metrics = await indexer.getMetrics(ids);
    const policies = await indexer.getArchivePolicies(new Set(metrics.map((m) => m.archivePolicyName)));
    const out = new Map<string, ArchivePolicy>();
    for (const m of metrics) {
      const ap = policies.get(m.archivePolicyName);
      if (ap) out.set(m.id, ap);
    }
    return out;
  };
}

/**
 * `refreshInThreads`: refreshes fold in a worker thread (started on the first one), so that
 * the API's event loop never runs a fold; otherwise they run on the calling thread.
 */
/**
 * `dedicatedThread`: the caller is a processing thread, which serves nothing else (the
 * storage and the incoming store may block it on local file operations).
 */
export async function openServices(s: Settings, log?: Logger, opts: { refreshInThreads?: boolean; dedicatedThread?: boolean } = {}): Promise<Services> {
  mkdirSync(s.dataDir, { recursive: true });
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async <T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> => {
    const c = await p;
    opened.push(c);
    return c;
  };
  let indexer: Indexer, incoming: IncomingStore, storage: AggregateStorage, coordinator: Coordinator;
  try {
    indexer = await open(openIndexer(s.indexerUrl, {
      limits: { maxResourceTypeAttributes: s.maxResourceTypeAttributes },
    }));
    incoming = await open(openIncoming(s.incomingUrl, { sacks: s.sacks, dedicatedThread: opts.dedicatedThread === true }));
    storage = await open(openStorage(s.storageUrl, { dedicatedThread: opts.dedicatedThread === true }));
    coordinator = await open(openCoordinator(s.coordinationUrl));
  } catch (err) {
    // A bad URL or an unreachable backend: nothing stays open behind the error.
    for (const c of opened.reverse()) await c.close().catch(() => undefined);
    throw err;
  }
  const processor = new Processor({ incoming, storage, coordinator, policies: policyLookup(indexer), log });
  const threads = opts.refreshInThreads
    ? new ThreadRefresher({ start: (i) => startMetricdThread(s, 'refresh', `refresh-${i}`), log })
    : null;
  return {
    indexer, incoming, storage, coordinator, processor, refresher: threads ?? processor,
    async close() {
      await threads?.close();
      await incoming.close();
      await storage.close();
      await coordinator.close();
      await indexer.close();
    },
  };
}

/** Removes the data of deleted metrics, then their index rows (metricd housekeeping). */
export async function expungeDeletedMetrics(svc: Pick<Services, 'indexer' | 'storage'>): Promise<number> {
  const doomed = await svc.indexer.listMetricsToExpunge();
  for (const m of doomed) {
    await svc.storage.deleteMetric(m.id);
    await svc.indexer.expungeMetric(m.id);
  }
  return doomed.length;
}

/**
 * Creates or migrates the schema and Gnocchi's standard resource types; on a fresh index
 * also Gnocchi's default archive policies and the `default` rule ("*" -> low), exactly when
 * gnocchi-upgrade would.
 */
export async function upgrade(indexer: Indexer, opts: { skipArchivePolicies?: boolean; skipResourceTypes?: boolean } = {}): Promise<{ from: number; to: number; createdPolicies: string[]; createdResourceTypes: string[] }> {
  const r = await indexer.upgrade();
  const created: string[] = [];
  // Gnocchi's standard types (instance, volume, ...) that its collectors expect to find.
  const types = opts.skipResourceTypes ? [] : (await indexer.createStandardResourceTypes()).map((t) => t.name);
  if (!opts.skipArchivePolicies) {
    const empty = (await indexer.listArchivePolicies()).length === 0 && (await indexer.listArchivePolicyRules()).length === 0;
    if (empty) {
      for (const ap of defaultArchivePolicies()) {
        await indexer.createArchivePolicy(ap);
        created.push(ap.name);
      }
      await indexer.createArchivePolicyRule({ name: 'default', metricPattern: '*', archivePolicyName: 'low' });
    }
  }
  return { ...r, createdPolicies: created, createdResourceTypes: types };
}
