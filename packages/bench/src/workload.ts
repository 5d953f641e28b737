// The workload, identical on every target: create metrics, ingest datasets in batches,
// wait until the backlog is processed, read series and aggregates, create and search
// resources, and (optionally) repeat ingest and reads with more metrics.
import { randomUUID } from 'node:crypto';
import { GnocchiApiError, GnocchiClient, type RequestSpec } from '@tally/client';
import { batchBody, renderSeries, type Dataset, type SeriesText } from './datasets.js';
import { percentile } from './stats.js';
import { diskUsage, type MemorySampler } from './system.js';
import type { Progress } from './progress.js';
import type { Target } from './targets.js';

export interface WorkloadConfig {
  /** Metrics receiving the walk3 series whose ingest is measured (and read back). */
  metrics: number;
  /** Measures per metric, one per second; the archive policy keeps as many points. */
  points: number;
  batchMetrics: number;
  batchMeasures: number;
  ingestConcurrency: number;
  /**
   * Metrics created in the timed creation step (at least `metrics`: the first of them
   * receive walk3). A few hundred take a fraction of a second on a fast target, too short
   * for a rate; this makes the step last long enough on both.
   */
  createMetrics: number;
  /**
   * Metrics created, untimed, just before the timed creation: the first requests to a
   * server that compiles code as it runs (Tally's JIT) cost more than the next ones, and
   * a rate over a few seconds would measure that start rather than the steady state. The
   * bench client (Node too) warms up as well: against an already warm Tally, a fresh client
   * process created 400-metric chunks at 1 353, 1 705, 1 663, 1 904, 2 487/s, and a fresh
   * pair reached a steady 3 000-4 300/s only after about 4 000 creations.
   */
  createWarmup: number;
  /**
   * Measures per metric sent, untimed, to the first `metrics` of the `createWarmup` metrics
   * before the timed ingest (walk3, then the backlog drained): for the same reason, the
   * timed ingest measures the steady state rather than the JIT compiling the ingest and
   * processing paths (0 skips).
   */
  ingestWarmup: number;
  createConcurrency: number;
  /** Datasets whose bytes per point are measured; walk3 always comes first. */
  datasets: Dataset[];
  /** Metrics per extra dataset (walk3 uses `metrics`). */
  datasetMetrics: number;
  variants: number;
  reads: number;
  warmup: number;
  aggregateReads: number;
  aggregateMetrics: number;
  resources: number;
  searches: number;
  scale: number[];
  scalePoints: number;
  /** Per scale step, the same fixed ingest (metrics spread over the store x points). */
  scaleProbeMetrics: number;
  scaleProbePoints: number;
  drainTimeoutS: number;
  seed: number;
  user: string;
  password: string;
}

/**
 * The bench's client of a target: HTTP basic as `user`, a pooled connection per concurrent
 * loop, and no retries (a failure shows in the run rather than in slower figures) beyond
 * resending on a pooled connection the server had closed, which never reached it.
 */
export function benchClient(url: string, user: string, password: string, connections: number, timeoutMs = 120_000): GnocchiClient {
  return new GnocchiClient({ url, auth: { type: 'basic', user, password }, maxSockets: connections, timeoutMs, retry: { attempts: 1, totalMs: timeoutMs } });
}

/** One figure per key; null is "n/a" (the target refused or the phase was skipped). */
export type Figures = Record<string, number | null>;

export interface RunResult {
  figures: Figures;
  notes: string[];
  details: Record<string, unknown>;
  error: string | null;
}

/** Timestamps start here: a fixed past instant, so runs are reproducible. */
const EPOCH_START = Date.UTC(2024, 0, 1) / 1000;

interface Ctx {
  cfg: WorkloadConfig;
  target: Target;
  client: GnocchiClient;
  progress: Progress;
  memory: MemorySampler | null;
  policy: string;
  result: RunResult;
}

interface MetricRef {
  id: string;
  index: number;
}

async function ensurePolicy(ctx: Ctx): Promise<void> {
  try {
    await ctx.client.archivePolicy.create({
      name: ctx.policy,
      back_window: 0,
      definition: [{ granularity: '1 second', points: ctx.cfg.points }],
      aggregation_methods: ['mean'],
    });
  } catch (e) {
    // 409: left by an earlier run on the same endpoint; its name encodes its definition.
    if (!(e instanceof GnocchiApiError && e.status === 409)) throw e;
  }
}

/** Runs `count` jobs on `concurrency` loops; job i runs once. */
async function pool(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loops = Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, async () => {
    while (next < count) {
      const i = next++;
      await job(i);
    }
  });
  await Promise.all(loops);
}

/**
 * Creates `n` metrics of `policy` from `concurrency` clients at once, under a progress bar
 * labelled `label`: their ids in the order they were asked for, and the creations per
 * second from the first request to the last answer.
 */
export async function createMetrics(client: GnocchiClient, policy: string, n: number, concurrency: number, progress: Progress, label: string): Promise<{ ids: string[]; rate: number }> {
  const ids = new Array<string>(n);
  progress.start(label, n, 'metrics');
  const t0 = performance.now();
  await pool(n, concurrency, async (i) => {
    ids[i] = (await client.metric.create({ archive_policy_name: policy })).id;
    progress.tick();
  });
  const rate = n / ((performance.now() - t0) / 1000);
  progress.end(`${rate.toFixed(1)} metrics/s`);
  return { ids, rate };
}

async function createRefs(ctx: Ctx, n: number, label: string): Promise<{ refs: MetricRef[]; rate: number }> {
  const { ids, rate } = await createMetrics(ctx.client, ctx.policy, n, ctx.cfg.createConcurrency, ctx.progress, label);
  return { refs: ids.map((id, index) => ({ id, index })), rate };
}

async function backlog(client: GnocchiClient): Promise<number> {
  return (await client.status({ details: false })).storage.summary.measures;
}

/** Polls the backlog until it is empty; returns when it is (bounded by --drain-timeout). */
async function drain(ctx: Ctx, label: string): Promise<void> {
  const first = await backlog(ctx.client);
  if (first === 0) return;
  ctx.progress.start(label, first, 'measures');
  let seen = first;
  const deadline = performance.now() + ctx.cfg.drainTimeoutS * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const left = await backlog(ctx.client);
    if (left < seen) ctx.progress.tick(seen - left);
    seen = Math.min(seen, left);
    if (left === 0) break;
    if (performance.now() > deadline) {
      ctx.progress.end('timed out');
      throw new Error(`backlog still ${left} measures after ${ctx.cfg.drainTimeoutS} s (--drain-timeout)`);
    }
  }
  ctx.progress.end();
}

interface IngestResult {
  measures: number;
  ackSeconds: number;
  e2eSeconds: number;
}

/**
 * Sends the series to the metrics in batches of batchMetrics metrics x perRequest measures.
 * Each loop owns whole groups of metrics and sends their windows in time order, so no
 * metric ever has two requests in flight: measures of a metric arrive in order, as from
 * a real collector, and no target drops them as older than its back window.
 */
async function ingest(ctx: Ctx, refs: MetricRef[], series: SeriesText, label: string, noteConcurrency = true): Promise<IngestResult> {
  const groups: MetricRef[][] = [];
  for (let i = 0; i < refs.length; i += ctx.cfg.batchMetrics) groups.push(refs.slice(i, i + ctx.cfg.batchMetrics));
  const loops = Math.max(1, Math.min(ctx.cfg.ingestConcurrency, groups.length));
  if (noteConcurrency && loops < ctx.cfg.ingestConcurrency) {
    ctx.result.notes.push(`${label}: ${groups.length} group(s) of metrics, so only ${loops} concurrent client(s)`);
  }
  const total = refs.length * series.points;
  ctx.progress.start(label, total, 'measures');
  const t0 = performance.now();
  await Promise.all(Array.from({ length: loops }, async (_, k) => {
    for (let w = 0; w < series.windows; w++) {
      const inWindow = Math.min(series.perRequest, series.points - w * series.perRequest);
      for (let g = k; g < groups.length; g += loops) {
        // The body is the pre-rendered text of the dataset (client.batch.metricsMeasures
        // would serialise objects, client CPU that the cores shared with the target cannot
        // spare), sent through the client's own transport.
        await ctx.client.transport.request({ method: 'POST', path: '/v1/batch/metrics/measures', body: batchBody(series, w, groups[g]) });
        ctx.progress.tick(groups[g].length * inWindow);
      }
    }
  }));
  const ackSeconds = (performance.now() - t0) / 1000;
  ctx.progress.end(`${Math.round(total / ackSeconds)} measures/s acknowledged`);
  await drain(ctx, `${label}: processing backlog`);
  const e2eSeconds = (performance.now() - t0) / 1000;
  ctx.progress.log(`${label}: ${Math.round(total / e2eSeconds)} measures/s end to end`);
  return { measures: total, ackSeconds, e2eSeconds };
}

/**
 * Latencies (ms) of `count` sequential requests after `warmup` untimed ones. Requests go
 * through the client's transport and their answers are not decoded: a timed read measures
 * the server and the wire, not the bench parsing thousands of points.
 */
async function latencies(ctx: Ctx, label: string, count: number, make: (i: number) => RequestSpec): Promise<number[]> {
  const samples: number[] = [];
  ctx.progress.start(label, count, 'requests');
  for (let i = 0; i < ctx.cfg.warmup + count; i++) {
    const q = make(i);
    const t0 = performance.now();
    try {
      await ctx.client.transport.request(q);
    } catch (e) {
      ctx.progress.end('failed');
      throw e;
    }
    const ms = performance.now() - t0;
    if (i >= ctx.cfg.warmup) {
      samples.push(ms);
      ctx.progress.tick();
    }
  }
  ctx.progress.end(`p50 ${percentile(samples, 50).toFixed(1)} ms, p99 ${percentile(samples, 99).toFixed(1)} ms`);
  return samples;
}

function recordLatency(ctx: Ctx, key: string, samples: number[]): void {
  ctx.result.figures[`${key}_p50`] = percentile(samples, 50);
  ctx.result.figures[`${key}_p99`] = percentile(samples, 99);
}

/** Runs an optional phase: a refusal or failure of the target makes its figures n/a. */
async function optional(ctx: Ctx, what: string, keys: string[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    for (const k of keys) ctx.result.figures[k] = null;
    const why = e instanceof GnocchiApiError ? `${e.status} from ${e.method} ${new URL(e.url).pathname}` : (e as Error).message;
    ctx.result.notes.push(`${what}: n/a (${why})`);
    ctx.progress.log(`${what}: n/a (${why})`);
  }
}

async function dataSize(ctx: Ctx): Promise<{ apparent: number; allocated: number } | null> {
  if (ctx.target.dataDir === null) return null;
  return diskUsage(ctx.target.dataDir, ctx.target.excludeFromSize);
}

/** Ingests one dataset into fresh metrics and records bytes per aggregate point. */
async function datasetPhase(ctx: Ctx, ds: Dataset, refs: MetricRef[], seedOffset: number): Promise<IngestResult> {
  const series = renderSeries(ds, { points: ctx.cfg.points, startSec: EPOCH_START, perRequest: ctx.cfg.batchMeasures, variants: ctx.cfg.variants, seed: ctx.cfg.seed + seedOffset });
  const before = await dataSize(ctx);
  // Only the main dataset's rates are reported, so fewer clients elsewhere is no matter.
  const res = await ingest(ctx, refs, series, `ingest ${ds} (${refs.length} metrics x ${ctx.cfg.points})`, ds === 'walk3');
  const after = await dataSize(ctx);
  // The policy keeps `points` points at 1 s with one aggregation method: one aggregate
  // point per measure sent.
  const aggregatePoints = refs.length * ctx.cfg.points;
  if (before && after) {
    ctx.result.figures[`bytes_${ds}`] = (after.apparent - before.apparent) / aggregatePoints;
    ctx.result.figures[`bytes_alloc_${ds}`] = (after.allocated - before.allocated) / aggregatePoints;
  } else {
    ctx.result.figures[`bytes_${ds}`] = null;
    ctx.result.figures[`bytes_alloc_${ds}`] = null;
  }
  // Sanity: a metric of the dataset holds every point (otherwise the size is per fewer points).
  const probe = await ctx.client.metric.measures(refs[0].id, { aggregation: 'mean' });
  if (probe.length !== ctx.cfg.points) ctx.result.notes.push(`${ds}: a metric holds ${probe.length} points, expected ${ctx.cfg.points}`);
  ctx.result.details[`points_read_${ds}`] = probe.length;
  return res;
}

/** The untimed ingest before the timed one; its rates are kept in details, not figures. */
async function ingestWarmup(ctx: Ctx, refs: MetricRef[]): Promise<void> {
  const points = Math.min(ctx.cfg.ingestWarmup, ctx.cfg.points);
  const series = renderSeries('walk3', { points, startSec: EPOCH_START, perRequest: ctx.cfg.batchMeasures, variants: ctx.cfg.variants, seed: ctx.cfg.seed + 7 });
  const res = await ingest(ctx, refs, series, `warm-up: ingest walk3 (${refs.length} metrics x ${points}, untimed)`, false);
  ctx.result.details.warmup_ingest_ack_rate = res.measures / res.ackSeconds;
  ctx.result.details.warmup_e2e_rate = res.measures / res.e2eSeconds;
}

async function seriesReads(ctx: Ctx, refs: MetricRef[], label: string): Promise<number[]> {
  return latencies(ctx, label, ctx.cfg.reads, (i) => ({ method: 'GET', path: `/v1/metric/${refs[i % refs.length].id}/measures`, query: { aggregation: 'mean' } }));
}

export async function runWorkload(target: Target, cfg: WorkloadConfig, progress: Progress, memory: MemorySampler | null): Promise<RunResult> {
  const result: RunResult = { figures: {}, notes: [], details: {}, error: null };
  const client = benchClient(target.url, cfg.user, cfg.password, Math.max(cfg.ingestConcurrency, cfg.createConcurrency) + 2);
  const ctx: Ctx = { cfg, target, client, progress, memory, policy: `bench-1s-${cfg.points}`, result };
  const f = result.figures;
  try {
    await ensurePolicy(ctx);

    // Metric creation; the first `metrics` of them receive the main dataset, the others
    // stay empty.
    const toCreate = Math.max(cfg.metrics, cfg.createMetrics);
    const warm = cfg.createWarmup > 0 ? await createRefs(ctx, cfg.createWarmup, `warm-up: create ${cfg.createWarmup} metrics (untimed)`) : null;
    const created = await createRefs(ctx, toCreate, `create ${toCreate} metrics (${cfg.createConcurrency} clients)`);
    f.create_rate = created.rate;
    const main = { refs: created.refs.slice(0, cfg.metrics) };
    const extra = new Map<Dataset, MetricRef[]>();
    for (const ds of cfg.datasets.filter((d) => d !== 'walk3')) {
      extra.set(ds, (await createRefs(ctx, cfg.datasetMetrics, `create ${cfg.datasetMetrics} ${ds} metrics`)).refs);
    }

    if (warm && cfg.ingestWarmup > 0) await ingestWarmup(ctx, warm.refs.slice(0, cfg.metrics));

    // Ingest of the main dataset: acknowledged and end-to-end rates, memory under ingest.
    memory?.resetWindow();
    const ing = await datasetPhase(ctx, 'walk3', main.refs, 0);
    f.ingest_ack_rate = ing.measures / ing.ackSeconds;
    f.e2e_rate = ing.measures / ing.e2eSeconds;
    if (memory) {
      memory.sample();
      f.rss_peak_ingest = memory.windowPeakBytes / 2 ** 20;
    }
    let seed = 1;
    for (const [ds, refs] of extra) await datasetPhase(ctx, ds, refs, seed++ * 1000);

    // Reads.
    recordLatency(ctx, 'read', await seriesReads(ctx, main.refs, `read full series (${cfg.points} points)`));
    await optional(ctx, 'aggregates', ['aggregates_p50', 'aggregates_p99'], async () => {
      const ids = main.refs.slice(0, cfg.aggregateMetrics);
      const ops = (shift: number) => `(aggregate mean (metric ${ids.map((_, j) => `(${ids[(j + shift) % ids.length].id} mean)`).join(' ')}))`;
      recordLatency(ctx, 'aggregates', await latencies(ctx, `POST /v1/aggregates over ${ids.length} metrics`, cfg.aggregateReads,
        (i) => ({ method: 'POST', path: '/v1/aggregates', body: { operations: ops(i) }, idempotent: true })));
    });

    // Resources: creation rate, then search by attribute among them.
    await optional(ctx, 'resources', ['resource_create_rate', 'search_p50', 'search_p99'], async () => {
      if (cfg.resources <= 0) throw new Error('skipped (--resources 0)');
      const projects = Array.from({ length: Math.max(1, Math.ceil(cfg.resources / 10)) }, () => randomUUID());
      ctx.progress.start(`create ${cfg.resources} resources`, cfg.resources, 'resources');
      const t0 = performance.now();
      await pool(cfg.resources, cfg.createConcurrency, async (i) => {
        await ctx.client.resource.create('generic', { id: randomUUID(), user_id: randomUUID(), project_id: projects[i % projects.length] });
        ctx.progress.tick();
      });
      const seconds = (performance.now() - t0) / 1000;
      ctx.progress.end(`${(cfg.resources / seconds).toFixed(1)} resources/s`);
      f.resource_create_rate = cfg.resources / seconds;
      const found = await ctx.client.resource.search('generic', { '=': { project_id: projects[0] } });
      result.details.search_results = found.items.length;
      recordLatency(ctx, 'search', await latencies(ctx, `search among ${cfg.resources} resources`, cfg.searches,
        (i) => ({ method: 'POST', path: '/v1/search/resource/generic', body: { '=': { project_id: projects[(i * 7919) % projects.length] } }, idempotent: true })));
    });

    // Scale: the store grows to S metrics; ingest into all of them, then read again.
    let scaleRefs: MetricRef[] = [];
    const steps = [...cfg.scale].sort((a, b) => a - b);
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k];
      const key = `scale_${s}`;
      await optional(ctx, `scale ${s}`, [`${key}_create_rate`, `${key}_ingest_ack_rate`, `${key}_e2e_rate`, `${key}_probe_ack_rate`, `${key}_probe_e2e_rate`, `${key}_read_p50`, `${key}_read_p99`], async () => {
        const missing = s - scaleRefs.length;
        if (missing > 0) {
          const made = await createRefs(ctx, missing, `scale ${s}: create ${missing} metrics`);
          f[`${key}_create_rate`] = made.rate;
          scaleRefs = scaleRefs.concat(made.refs.map((r) => ({ id: r.id, index: r.index + scaleRefs.length })));
        }
        // Each step sends the next scalePoints seconds to every metric, in time order, then
        // the probe: the same ingest at every step (probe metrics spread evenly over the
        // store, probe points each), so that its rate shows the effect of the store's size
        // alone, where the first ingest also grows with it.
        const stepStart = EPOCH_START + cfg.points + k * (cfg.scalePoints + cfg.scaleProbePoints);
        const series = renderSeries('walk3', { points: cfg.scalePoints, startSec: stepStart,
          perRequest: Math.min(cfg.batchMeasures, cfg.scalePoints), variants: cfg.variants, seed: cfg.seed + 7 + k });
        const r = await ingest(ctx, scaleRefs.slice(0, s), series, `scale ${s}: ingest ${s} metrics x ${cfg.scalePoints}`);
        f[`${key}_ingest_ack_rate`] = r.measures / r.ackSeconds;
        f[`${key}_e2e_rate`] = r.measures / r.e2eSeconds;
        if (cfg.scaleProbeMetrics > 0) {
          const n = Math.min(cfg.scaleProbeMetrics, s);
          const probeRefs = Array.from({ length: n }, (_, i) => scaleRefs[Math.floor((i * s) / n)]);
          const probe = renderSeries('walk3', { points: cfg.scaleProbePoints, startSec: stepStart + cfg.scalePoints,
            perRequest: Math.min(cfg.batchMeasures, cfg.scaleProbePoints), variants: cfg.variants, seed: cfg.seed + 11 + k });
          const pr = await ingest(ctx, probeRefs, probe, `scale ${s}: probe ingest ${n} metrics x ${cfg.scaleProbePoints}`, false);
          f[`${key}_probe_ack_rate`] = pr.measures / pr.ackSeconds;
          f[`${key}_probe_e2e_rate`] = pr.measures / pr.e2eSeconds;
        }
        recordLatency(ctx, `${key}_read`, await seriesReads(ctx, main.refs, `scale ${s}: read full series`));
      });
    }

    const total = await dataSize(ctx);
    if (total) result.details.data_dir_bytes = total;
  } catch (e) {
    result.error = (e as Error).message;
    progress.log(`run failed: ${result.error}`);
  } finally {
    client.close();
  }
  if (memory) {
    memory.stop();
    f.rss_peak = memory.peakBytes / 2 ** 20;
    f.pss_peak = memory.peakPssBytes / 2 ** 20;
    f.rss_hwm_sum = memory.hwmSumBytes / 2 ** 20;
  }
  return result;
}
