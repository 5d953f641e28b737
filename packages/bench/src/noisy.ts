// The noisy-neighbour scenario: one tenant sends a huge batch to one metric whose archive
// policy keeps every aggregation method; while the server processes it, another tenant
// reads a small metric at a steady pace. What the second tenant gets (read latency while
// the batch is processed) should not depend on what the first one sent. Reported: read
// p50/p99/max during processing and how long the batch took to process.
import { GnocchiApiError, type GnocchiClient, type MeasureInput } from '@tally/client';
import type { FigureDef } from './report.js';
import { percentile } from './stats.js';
import type { Progress } from './progress.js';
import type { Target } from './targets.js';
import { benchClient, type RunResult } from './workload.js';

export interface NoisyConfig {
  /** Measures in the big batch, one per second, all to one metric. */
  points: number;
  /** Aggregation methods of the big metric's policy (`*`: all 216). */
  methods: string[];
  /** Pause between two reads of the small metric, in ms. */
  readIntervalMs: number;
  /** Longest wait for the batch to be processed, in s. */
  drainTimeoutS: number;
  user: string;
  password: string;
  /** The tenant reading while the batch is processed (HTTP basic user name). */
  readerUser: string;
}

export const NOISY_FIGURES: FigureDef[] = [
  { key: 'noisy_post_s', label: 'big batch POST acknowledged', unit: 's', better: 'lower', digits: 2 },
  { key: 'noisy_processing_s', label: 'big batch processed (backlog empty)', unit: 's', better: 'lower', digits: 2 },
  { key: 'noisy_reads', label: "other tenant's reads during processing", unit: 'reads', better: 'higher', digits: 0 },
  { key: 'noisy_read_p50', label: "other tenant's read p50", unit: 'ms', better: 'lower', digits: 2 },
  { key: 'noisy_read_p99', label: "other tenant's read p99", unit: 'ms', better: 'lower', digits: 2 },
  { key: 'noisy_read_max', label: "other tenant's read max", unit: 'ms', better: 'lower', digits: 2 },
];

/** Timestamps start here: a fixed past instant, so runs are reproducible. */
const EPOCH_START = Date.UTC(2026, 0, 1);

async function backlog(client: GnocchiClient): Promise<number> {
  return (await client.status({ details: false })).storage.summary.measures;
}

export async function runNoisyNeighbour(target: Target, cfg: NoisyConfig, progress: Progress): Promise<RunResult> {
  const result: RunResult = { figures: {}, notes: [], details: {}, error: null };
  const f = result.figures;
  const noisy = benchClient(target.url, cfg.user, cfg.password, 2, 600_000);
  const reader = benchClient(target.url, cfg.readerUser, cfg.password, 1);
  const policy = `bench-noisy-${cfg.methods.join('-').replace(/[^A-Za-z0-9-]/g, 'all')}-${cfg.points}`;
  try {
    try {
      await noisy.archivePolicy.create({ name: policy, back_window: 0, definition: [{ granularity: '1 second', points: cfg.points }], aggregation_methods: cfg.methods });
    } catch (e) {
      if (!(e instanceof GnocchiApiError && e.status === 409)) throw e;
    }
    const big = (await noisy.metric.create({ archive_policy_name: policy })).id;
    const small = (await reader.metric.create({ archive_policy_name: policy })).id;
    await reader.metric.addMeasures(small, [{ timestamp: new Date(EPOCH_START).toISOString(), value: 1 }]);
    await reader.metric.measures(small, { refresh: true });
    if ((await backlog(noisy)) !== 0) result.notes.push('the backlog was not empty before the batch: processing time includes other work');

    const batch: MeasureInput[] = [];
    for (let i = 0; i < cfg.points; i++) batch.push({ timestamp: new Date(EPOCH_START + i * 1000).toISOString(), value: Math.sin(i) });
    progress.log(`posting ${cfg.points} measures to one metric (methods ${cfg.methods.join(',')})`);
    let t = performance.now();
    await noisy.metric.addMeasures(big, batch);
    f.noisy_post_s = (performance.now() - t) / 1000;

    progress.log(`reading another tenant's metric every ${cfg.readIntervalMs} ms while it is processed`);
    const latencies: number[] = [];
    const start = performance.now();
    const end = start + cfg.drainTimeoutS * 1000;
    let processed = false;
    while (performance.now() < end) {
      t = performance.now();
      await reader.metric.measures(small);
      latencies.push(performance.now() - t);
      if ((await backlog(noisy)) === 0) {
        processed = true;
        break;
      }
      await new Promise((r) => setTimeout(r, cfg.readIntervalMs));
    }
    if (!processed) throw new Error(`the batch was not processed within ${cfg.drainTimeoutS} s (--drain-timeout)`);
    f.noisy_processing_s = (performance.now() - start) / 1000;
    f.noisy_reads = latencies.length;
    f.noisy_read_p50 = percentile(latencies, 50);
    f.noisy_read_p99 = percentile(latencies, 99);
    f.noisy_read_max = Math.max(...latencies);
    result.details.noisy_read_latencies_ms = latencies.map((x) => Math.round(x * 10) / 10);
    progress.log(`processed in ${f.noisy_processing_s.toFixed(1)} s; reads p50 ${f.noisy_read_p50.toFixed(1)} ms, p99 ${f.noisy_read_p99.toFixed(1)} ms, max ${f.noisy_read_max.toFixed(1)} ms`);
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    noisy.close();
    reader.close();
  }
  return result;
}
