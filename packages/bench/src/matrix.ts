// The matrix: ingest measured for every archive policy x request shape x server state
// (cells.ts), on each started target, one fresh server per policy and shape; per policy,
// reads, aggregates, bytes per point and the processing limit (policy-figures.ts).
import { GnocchiApiError, type GnocchiClient, type RequestSpec } from '@tally/client';
import { snappyCompress, writeRequest } from '@tally/rest/encoders';
import { parseTimespan } from '@tally/timeseries';
import { generate, isoSeconds, Rng } from './datasets.js';
import { startHttpFloor } from './http-floor.js';
import { groupCells, renderMatrix, type Cell, type CellResult, type MatrixPolicy, type MatrixShape, type MatrixState } from './cells.js';
import type { PolicyResult } from './policy-figures.js';
import { processingLimit, storedPoints, type MetricPoints, type ProcessingLimit } from './processing.js';
import { percentile } from './stats.js';
import { collectBenchGarbage, cpuSeconds, diskUsage, MemorySampler, processTree } from './system.js';
import { benchClient, createMetrics, type Figures } from './workload.js';
import type { Progress } from './progress.js';
import type { Target } from './targets.js';

export interface MatrixConfig {
  /** Measures per cell for the batched shapes (batch10k, batch100k, promwrite, influx). */
  points: number;
  /** Measures per cell for the single-POST shape (its requests carry 1-10 measures). */
  singlePoints: number;
  /** Metrics (or series) receiving them. */
  metrics: number;
  /** Timed reads of one series per cell (after 2 untimed). */
  reads: number;
  /** Metrics whose creation is timed per server, cold and again warm (0 skips). */
  createMetrics: number;
  /** Points of each long series whose every method and granularity is read, per policy. */
  seriesPoints: number[];
  /** Timed reads of each (series, method, granularity), interleaved with the others' (see interleavedP50). */
  seriesReads: number;
  /** Metrics across which POST /v1/aggregates is timed, per policy (e.g. 10 and 100). */
  aggregateMetrics: number[];
  /** Points of each of those metrics. */
  aggregatePoints: number;
  /** Timed POST /v1/aggregates of each size, interleaved with the other sizes'. */
  aggregateReads: number;
  /** Timings of each side of the processing limit, the best kept (0 skips it). */
  processingReps: number;
  drainTimeoutS: number;
  /** Seconds an unchanged, non-empty backlog is waited for before the group fails. */
  stallS: number;
  seed: number;
  user: string;
  password: string;
}

const DEFAULT_METHODS = ['mean', 'min', 'max', 'sum', 'std', 'count'];

interface PolicyBody {
  aggregation_methods: string[];
  definition: { granularity: string; points: number }[];
}

const DAY_S = 86_400;
/**
 * medium and high are the definitions `tally upgrade` (and gnocchi-upgrade) create; the
 * reference starts without any, so both targets get them under bench-owned names.
 */
export const MATRIX_POLICY_BODIES: Record<MatrixPolicy, PolicyBody> = {
  mean: { aggregation_methods: ['mean'], definition: [{ granularity: '1 second', points: DAY_S }] },
  medium: { aggregation_methods: DEFAULT_METHODS, definition: [{ granularity: '1 minute', points: 7 * 1440 }, { granularity: '1 hour', points: 365 * 24 }] },
  high: {
    aggregation_methods: DEFAULT_METHODS,
    definition: [{ granularity: '1 second', points: 3600 }, { granularity: '1 minute', points: 7 * 1440 }, { granularity: '1 hour', points: 365 * 24 }],
  },
  custom6x3: {
    aggregation_methods: DEFAULT_METHODS,
    definition: [{ granularity: '1 second', points: DAY_S }, { granularity: '1 minute', points: 7 * 1440 }, { granularity: '1 hour', points: 365 * 24 }],
  },
  rate95: { aggregation_methods: ['rate:mean', '95pct'], definition: [{ granularity: '1 second', points: DAY_S }, { granularity: '1 minute', points: 7 * 1440 }] },
};

/**
 * One request of a phase, built before the timing starts. Bodies are bytes already: encoded
 * in the timed window, a batched phase's text took 8 of the 48 samples of the bench's
 * profile over Tally's 62 ms cold window (the rest idle).
 */
interface Req {
  spec: RequestSpec & { body: Buffer };
  measures: number;
  /** The JSON text, for the parse baseline (null for the binary and line protocol bodies). */
  json: string | null;
}

/** Requests per client loop, in the order that loop sends them. */
type Plan = Req[][];

const EPOCH_START = Date.UTC(2024, 0, 1) / 1000;
const VARIANTS = 16;
const PHASES = 3; // cold, warm-up, warm: consecutive time ranges of every metric

interface Shape {
  loops: number;
  group: number;
  window: number;
}

const SHAPES: Record<Exclude<MatrixShape, 'single'>, Shape> = {
  batch10k: { loops: 4, group: 25, window: 400 },
  batch100k: { loops: 1, group: 100, window: 1000 },
  promwrite: { loops: 4, group: 25, window: 400 },
  influx: { loops: 4, group: 25, window: 400 },
};
const SINGLE_LOOPS = 32;

/** The walk3 values of every metric over all phases: variant i % VARIANTS. */
function valuesFor(perMetric: number, seed: number): Float64Array[] {
  return Array.from({ length: VARIANTS }, (_, v) => generate('walk3', perMetric * PHASES, new Rng(seed * 7919 + v + 1)));
}

/** A JSON request of a phase: the bytes it sends and the same text for the parse baseline. */
function jsonReq(path: string, text: string, measures: number): Req {
  return { spec: { method: 'POST', path, body: Buffer.from(text), contentType: 'application/json' }, measures, json: text };
}

function measureJson(sec: number, v: number): string {
  return `{"timestamp":"${isoSeconds(sec)}","value":${v}}`;
}

/** Builds the requests of one phase for the shape (ids: the metrics, for JSON shapes). */
export function planPhase(shape: MatrixShape, phase: number, ids: readonly string[], perMetric: number, values: Float64Array[], seed: number): Plan {
  const n = ids.length;
  const sec = (i: number) => EPOCH_START + phase * perMetric + i;
  const val = (m: number, i: number) => values[m % VARIANTS][phase * perMetric + i];
  if (shape === 'single') {
    // Each metric's measures in chunks of 1-10, its chunks in order on the one loop that owns it.
    const rng = new Rng(seed + phase);
    const loops: Plan = Array.from({ length: Math.min(SINGLE_LOOPS, n) }, () => []);
    const queues: Req[][] = ids.map((id, m) => {
      const q: Req[] = [];
      for (let i = 0; i < perMetric;) {
        const k = Math.min(perMetric - i, 1 + (rng.u32() % 10));
        const parts: string[] = [];
        for (let j = i; j < i + k; j++) parts.push(measureJson(sec(j), val(m, j)));
        const body = `[${parts.join(',')}]`;
        q.push(jsonReq(`/v1/metric/${id}/measures`, body, k));
        i += k;
      }
      return q;
    });
    // Round-robin over a loop's metrics, as a collector cycling through its sources.
    loops.forEach((loop, k) => {
      const mine = queues.filter((_, m) => m % loops.length === k);
      for (let r = 0; mine.some((q) => r < q.length); r++) for (const q of mine) if (r < q.length) loop.push(q[r]);
    });
    return loops;
  }
  const { loops: wanted, group, window } = SHAPES[shape];
  const groups: number[][] = [];
  for (let m = 0; m < n; m += group) groups.push(Array.from({ length: Math.min(group, n - m) }, (_, j) => m + j));
  const plan: Plan = Array.from({ length: Math.max(1, Math.min(wanted, groups.length)) }, () => []);
  for (let w = 0; w * window < perMetric; w++) {
    const from = w * window;
    const to = Math.min(perMetric, from + window);
    groups.forEach((g, gi) => {
      const loop = plan[gi % plan.length];
      const measures = g.length * (to - from);
      if (shape === 'batch10k' || shape === 'batch100k') {
        const body = `{${g.map((m) => {
          const parts: string[] = [];
          for (let i = from; i < to; i++) parts.push(measureJson(sec(i), val(m, i)));
          return `"${ids[m]}":[${parts.join(',')}]`;
        }).join(',')}}`;
        loop.push(jsonReq('/v1/batch/metrics/measures', body, measures));
      } else if (shape === 'promwrite') {
        const series = g.map((m) => ({
          labels: { __name__: `benchm_${m}`, job: 'bench', instance: `g${gi}` },
          samples: Array.from({ length: to - from }, (_, j): [number, number] => [sec(from + j) * 1000, val(m, from + j)]),
        }));
        const body = snappyCompress(writeRequest(series));
        loop.push({
          spec: { method: 'POST', path: '/v1/prometheus/write', body, contentType: 'application/x-protobuf',
            headers: { 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' } },
          measures, json: null,
        });
      } else {
        // One line per second with a field per metric of the group, as Telegraf writes.
        const lines: string[] = [];
        for (let i = from; i < to; i++) lines.push(`benchm,host=g${gi} ${g.map((m) => `f${m}=${val(m, i)}`).join(',')} ${sec(i)}000000000`);
        const body = lines.join('\n');
        loop.push({ spec: { method: 'POST', path: '/v1/influxdb/write', query: { db: 'bench' }, body: Buffer.from(body), contentType: 'text/plain' }, measures, json: null });
      }
    });
  }
  return plan;
}

function validMeasure(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as { timestamp?: unknown; value?: unknown };
  return typeof m.timestamp === 'string' && Number.isFinite(Date.parse(m.timestamp)) && typeof m.value === 'number' && Number.isFinite(m.value);
}

/** Measures in a JSON body once parsed and checked (a measure array, or metric id -> array). */
export function parseAndValidate(text: string): number {
  const doc: unknown = JSON.parse(text);
  const arrays: unknown[] = Array.isArray(doc) ? [doc] : typeof doc === 'object' && doc !== null ? Object.values(doc) : [];
  let n = 0;
  for (const a of arrays) {
    if (!Array.isArray(a)) throw new Error('a batch entry is not a list of measures');
    for (const m of a) {
      if (!validMeasure(m)) throw new Error('invalid measure');
      n++;
    }
  }
  return n;
}

/**
 * The machine limit's baseline: measures per second of JSON.parse plus validation of the
 * phase's very bodies in this one process; null for the binary and line protocol shapes.
 */
export function parseRate(plan: Plan): number | null {
  const bodies = plan.flat().map((r) => r.json);
  if (bodies.some((b) => b === null)) return null;
  let n = 0;
  const t0 = performance.now();
  for (const b of bodies) n += parseAndValidate(b as string);
  return n / ((performance.now() - t0) / 1000);
}

/** How often the backlog is read while a cell drains. */
const DRAIN_POLL_MS = 10;

/** A target's backlog stopped shrinking: its processing fails on what it was sent. */
export class BacklogStalledError extends Error {
  override name = 'BacklogStalledError';
}

async function backlog(client: GnocchiClient): Promise<number> {
  return (await client.status({ details: false })).storage.summary.measures;
}

/**
 * Waits for an empty backlog. A backlog that stays the same for `stallS` seconds fails
 * at once rather than at the deadline: a target whose processing is stuck (the reference
 * fails on every percentile method with this machine's numpy) would otherwise hold the
 * whole matrix for the drain timeout.
 */
async function drain(client: GnocchiClient, timeoutS: number, stallS: number): Promise<void> {
  const deadline = performance.now() + timeoutS * 1000;
  let last = -1;
  let since = performance.now();
  for (;;) {
    const left = await backlog(client);
    if (left === 0) return;
    const now = performance.now();
    if (left !== last) {
      last = left;
      since = now;
    } else if (now - since > stallS * 1000) {
      throw new BacklogStalledError(`backlog stuck at ${left} for ${stallS} s (--matrix-stall): processing fails? see the server's logs`);
    }
    if (now > deadline) throw new Error(`backlog not empty after ${timeoutS} s (--drain-timeout)`);
    // Cells drain in well under a second on Tally: a coarser poll would add up to its whole
    // period to the end-to-end time (a 100 ms poll moved ratios by up to 1.5x between runs).
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}

/** Sends the plan; `onAck` gets the acknowledged rate before the drain, which may fail. */
async function send(client: GnocchiClient, plan: Plan, progress: Progress, label: string, cfg: MatrixConfig, onAck: (rate: number) => void): Promise<number> {
  const total = plan.flat().reduce((s, r) => s + r.measures, 0);
  progress.start(label, total, 'measures');
  collectBenchGarbage();
  const t0 = performance.now();
  await Promise.all(plan.map(async (loop) => {
    for (const r of loop) {
      await client.transport.request(r.spec);
      progress.tick(r.measures);
    }
  }));
  const ackS = (performance.now() - t0) / 1000;
  progress.end(`${Math.round(total / ackS)} measures/s acknowledged`);
  onAck(total / ackS);
  await drain(client, cfg.drainTimeoutS, cfg.stallS);
  return total / ((performance.now() - t0) / 1000);
}

/** Measures per second a bare HTTP server (see http-floor.ts) takes the plan's requests at. */
async function floorRate(plan: Plan): Promise<number> {
  const floor = await startHttpFloor();
  const client = benchClient(floor.url, 'floor', '', SINGLE_LOOPS + 2);
  try {
    const total = plan.flat().reduce((s, r) => s + r.measures, 0);
    collectBenchGarbage();
    const t0 = performance.now();
    await Promise.all(plan.map(async (loop) => {
      for (const r of loop) await client.transport.request(r.spec);
    }));
    return total / ((performance.now() - t0) / 1000);
  } finally {
    client.close();
    await floor.stop();
  }
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof GnocchiApiError && e.status === 409)) throw e;
  }
}

/** Clients creating a cell's metrics at once. */
const CREATE_CLIENTS = 8;

/** Untimed reads of each series before the per-policy read figures (see their loop). */
const READ_WARMUP = 10;

/**
 * p50 (ms) of each request, from `rounds` rounds that each send every request once in
 * turn (answers not decoded), after one untimed round. Interleaved so that a slow moment
 * of the machine or of the server (a collection, a neighbour's burst) costs every request
 * a sample or two instead of deciding the median of the one request it fell on, as when
 * each request's samples were taken back to back. `onRound` after each timed round.
 */
export async function interleavedP50(client: Pick<GnocchiClient, 'transport'>, specs: readonly RequestSpec[], rounds: number,
  onRound: () => void = () => undefined): Promise<number[]> {
  const samples = specs.map(() => [] as number[]);
  for (let round = 0; round <= rounds; round++) {
    for (const [i, spec] of specs.entries()) {
      const t0 = performance.now();
      await client.transport.request(spec);
      if (round > 0) samples[i].push(performance.now() - t0);
    }
    if (round > 0) onRound();
  }
  return samples.map((s) => percentile(s, 50));
}

/** CPU of the target's processes, as a share of one core, below which it counts as idle. */
const SETTLED_CPU_SHARE = 0.05;
const SETTLE_WINDOW_MS = 500;
const SETTLE_MAX_MS = 20_000;

/**
 * Waits (at most SETTLE_MAX_MS) until the target's processes use next to no CPU over a
 * window. An empty backlog says the measures are committed, not that the server is done
 * with them: the reads measured right after raced the end of processing, its collections
 * of garbage and the servers' own housekeeping. Targets without a known pid are not waited on.
 */
async function settle(target: Target): Promise<void> {
  if (target.pid === null) return;
  const root = target.pid;
  const used = (): number => [...cpuSeconds(processTree(root)).values()].reduce((a, b) => a + b, 0);
  const end = performance.now() + SETTLE_MAX_MS;
  let last = used();
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, SETTLE_WINDOW_MS));
    const now = used();
    if (now - last <= (SETTLED_CPU_SHARE * SETTLE_WINDOW_MS) / 1000) return;
    last = now;
  }
}

/** What one server measured; partial when it failed half-way. */
export interface GroupResult {
  cells: Map<MatrixState, Figures>;
  /** The policy's own figures, when this group measured them. */
  policy: Figures | null;
  /** Series reads, by "policy method granularity". */
  reads: Map<string, Figures>;
  notes: string[];
}

function emptyFigures(): Figures {
  return { ack_rate: null, e2e_rate: null, parse_rate: null, read_p50: null, create_rate: null, rss_peak: null };
}

/** Seconds of a matrix granularity ('1 minute' -> 60), as the API's granularity parameter. */
function granularitySeconds(text: string): number {
  return Number(parseTimespan(text)) / 1e9;
}

/** The walk3 points of the policy's own metrics: long series, then aggregated metrics. */
function extrasPoints(cfg: MatrixConfig): { series: MetricPoints[]; aggregated: MetricPoints[] } {
  const at = (n: number, seed: number): MetricPoints => ({
    seconds: Float64Array.from({ length: n }, (_, i) => EPOCH_START + i),
    values: generate('walk3', n, new Rng(seed)),
  });
  const aggregatedCount = Math.max(0, ...cfg.aggregateMetrics);
  return {
    series: cfg.seriesPoints.map((n, k) => at(n, cfg.seed * 104_729 + k + 1)),
    aggregated: Array.from({ length: aggregatedCount }, (_, k) => at(cfg.aggregatePoints, cfg.seed * 7_919 + 1_000 + k)),
  };
}

/** Batch bodies of at most `max` measures, each metric's points in time order. */
function extrasBodies(ids: readonly string[], points: readonly MetricPoints[], max: number): string[] {
  const bodies: string[] = [];
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    if (parts.length > 0) bodies.push(`{${parts.join(',')}}`);
    parts = [];
    size = 0;
  };
  ids.forEach((id, m) => {
    const p = points[m];
    for (let from = 0; from < p.seconds.length; from += max) {
      const to = Math.min(p.seconds.length, from + max);
      if (size + (to - from) > max) flush();
      const ms: string[] = [];
      for (let i = from; i < to; i++) ms.push(measureJson(p.seconds[i], p.values[i]));
      parts.push(`"${id}":[${ms.join(',')}]`);
      size += to - from;
    }
  });
  flush();
  return bodies;
}

/**
 * The policy's own figures on a server that ran its cells: metrics given long series
 * (10 000 and 100 000 points) and metrics for /v1/aggregates, outside any timed ingest;
 * the growth of the aggregate storage over them per aggregate point they keep; then, once
 * the server is idle, the p50 of a read of every method and granularity of each long
 * series, and of /v1/aggregates across 10 and 100 metrics.
 */
async function policyFigures(target: Target, client: GnocchiClient, policy: MatrixPolicy, cfg: MatrixConfig, progress: Progress, out: GroupResult): Promise<void> {
  const spec = MATRIX_POLICY_BODIES[policy];
  const policyName = `bench-matrix-${policy}`;
  const f: Figures = { bytes_walk3: null };
  for (const k of cfg.aggregateMetrics) f[`aggregates_p50_${k}`] = null;
  out.policy = f;
  const pts = extrasPoints(cfg);
  const all = [...pts.series, ...pts.aggregated];
  if (all.length === 0) return;
  const size = async () => (target.storageDir === null ? null : (await diskUsage(target.storageDir, target.storageExclude)).apparent);
  const before = await size();
  const { ids } = await createMetrics(client, policyName, all.length, CREATE_CLIENTS, progress, `${policy}: create ${all.length} metrics for its own figures (untimed)`);
  const seriesIds = ids.slice(0, pts.series.length);
  const aggIds = ids.slice(pts.series.length);
  // Long series on one client, aggregated metrics on another: no metric has two requests in flight.
  const loops = [extrasBodies(seriesIds, pts.series, 10_000), extrasBodies(aggIds, pts.aggregated, 10_000)];
  const total = all.reduce((s, p) => s + p.seconds.length, 0);
  progress.start(`${policy}: ingest ${total} measures for its own figures (untimed)`, loops.flat().length, 'requests');
  await Promise.all(loops.map(async (bodies) => {
    for (const body of bodies) {
      await client.transport.request({ method: 'POST', path: '/v1/batch/metrics/measures', body, contentType: 'application/json' });
      progress.tick();
    }
  }));
  progress.end();
  await drain(client, cfg.drainTimeoutS, cfg.stallS);
  const after = await size();
  if (before !== null && after !== null) {
    const kept = all.reduce((s, p) => s + storedPoints(p.seconds, p.values, spec), 0);
    f.bytes_walk3 = (after - before) / kept;
  }
  await settle(target);
  const cells: { cell: string; key: string; spec: RequestSpec }[] = [];
  for (const d of spec.definition) {
    for (const method of spec.aggregation_methods) {
      for (let k = 0; k < seriesIds.length; k++) {
        cells.push({ cell: `${policy} ${method} ${d.granularity}`, key: `read_p50_${cfg.seriesPoints[k]}`, spec: { method: 'GET', path: `/v1/metric/${seriesIds[k]}/measures`,
          query: { aggregation: method, granularity: String(granularitySeconds(d.granularity)) } } });
      }
    }
  }
  // The same untimed reads on every target before the first timed one: the first reads of
  // a just-started server measure V8 compiling its code rather than its reads.
  for (let i = 0; i < READ_WARMUP; i++) {
    for (let k = 0; k < seriesIds.length; k++) {
      await client.transport.request({ method: 'GET', path: `/v1/metric/${seriesIds[k]}/measures`,
        query: { aggregation: spec.aggregation_methods[0], granularity: String(granularitySeconds(spec.definition[0].granularity)) } });
    }
  }
  progress.start(`${policy}: read every method and granularity of ${cfg.seriesPoints.join(', ')}-point series, ${cfg.seriesReads} rounds`, cfg.seriesReads, 'rounds');
  const p50s = await interleavedP50(client, cells.map((c) => c.spec), cfg.seriesReads, () => progress.tick());
  progress.end();
  for (const [i, c] of cells.entries()) {
    let row = out.reads.get(c.cell);
    if (row === undefined) out.reads.set(c.cell, (row = {}));
    row[c.key] = p50s[i];
  }
  // The policy's first method: rate95 has no mean to aggregate.
  const method = spec.aggregation_methods[0];
  const ops = (k: number) => `(aggregate mean (metric ${aggIds.slice(0, k).map((id) => `(${id} ${method})`).join(' ')}))`;
  // Untimed first, as for the series reads: the first aggregates of a just-started server.
  const smallest = Math.min(...cfg.aggregateMetrics);
  for (let i = 0; i < READ_WARMUP; i++) await client.transport.request({ method: 'POST', path: '/v1/aggregates', body: { operations: ops(smallest) }, idempotent: true });
  const aggregates = await interleavedP50(client, cfg.aggregateMetrics.map((k): RequestSpec => ({ method: 'POST', path: '/v1/aggregates', body: { operations: ops(k) }, idempotent: true })),
    cfg.aggregateReads);
  for (const [i, k] of cfg.aggregateMetrics.entries()) {
    f[`aggregates_p50_${k}`] = aggregates[i];
    progress.log(`${policy}: POST /v1/aggregates over ${k} metrics: p50 ${aggregates[i].toFixed(1)} ms`);
  }
}

/**
 * One fresh target, one policy and shape: metric creation timed cold (the server's first
 * creations), the states asked for, cold first, metric creation timed warm (after as
 * many untimed) just before the warm ingest, then, with `withPolicy`, the policy's own
 * figures. Figures are written to `out` as they are measured; a failure ends the group
 * and is thrown to the caller, what was measured before it stays.
 */
export async function runGroup(target: Target, policy: MatrixPolicy, shape: MatrixShape, states: readonly MatrixState[], cfg: MatrixConfig,
  progress: Progress, out: GroupResult, withPolicy = false): Promise<void> {
  for (const s of states) out.cells.set(s, emptyFigures());
  const fig = (s: MatrixState | null) => (s === null ? null : out.cells.get(s) ?? null);
  const client = benchClient(target.url, cfg.user, cfg.password, SINGLE_LOOPS + 2);
  try {
    const policyName = `bench-matrix-${policy}`;
    const body = MATRIX_POLICY_BODIES[policy];
    await ignoreConflict(client.transport.request({ method: 'POST', path: '/v1/archive_policy', body: { name: policyName, back_window: 0, ...body } }));
    const metrics = cfg.metrics;
    const jsonShape = shape === 'single' || shape === 'batch10k' || shape === 'batch100k';
    let ids: string[] = [];
    if (cfg.createMetrics > 0) {
      const cold = await createMetrics(client, policyName, cfg.createMetrics, CREATE_CLIENTS, progress, `${policy}/${shape}: create ${cfg.createMetrics} metrics, cold (${CREATE_CLIENTS} clients)`);
      const f = fig('cold');
      if (f) f.create_rate = cold.rate;
      if (jsonShape) ids = cold.ids.slice(0, metrics);
    }
    if (!jsonShape) {
      // Metrics are created by the write itself, with the policy of the matching rule.
      await ignoreConflict(client.transport.request({ method: 'POST', path: '/v1/archive_policy_rule',
        body: { name: 'bench-matrix', metric_pattern: '*', archive_policy_name: policyName } }));
      if (shape === 'influx') await client.transport.request({ method: 'POST', path: '/v1/influxdb/query', query: { q: 'create database bench' } });
    } else if (ids.length < metrics) {
      ids = ids.concat((await createMetrics(client, policyName, metrics - ids.length, CREATE_CLIENTS, progress, `${policy}/${shape}: create the metrics to ingest into`)).ids);
    }
    const points = shape === 'single' ? cfg.singlePoints : cfg.points;
    // A shape's requests keep their size whatever --matrix-points is: batch100k sends at
    // least one request of group x window (100 000) measures per phase.
    const perMetric = Math.max(1, Math.floor(points / metrics), shape === 'single' ? 0 : SHAPES[shape].window);
    const names = jsonShape ? ids : Array.from({ length: metrics }, (_, m) => `m${m}`);
    const values = valuesFor(perMetric, cfg.seed);
    const method = body.aggregation_methods[0];
    const last = states.includes('warm') ? 2 : 0;
    for (let phase = 0; phase <= last; phase++) {
      const state: MatrixState | null = phase === 0 && states.includes('cold') ? 'cold' : phase === 2 ? 'warm' : null;
      const f = fig(state);
      if (phase === 2 && f && cfg.createMetrics > 0) {
        await createMetrics(client, policyName, cfg.createMetrics, CREATE_CLIENTS, progress, `${policy}/${shape}: create ${cfg.createMetrics} metrics, warm-up (untimed)`);
        f.create_rate = (await createMetrics(client, policyName, cfg.createMetrics, CREATE_CLIENTS, progress, `${policy}/${shape}: create ${cfg.createMetrics} metrics, warm (${CREATE_CLIENTS} clients)`)).rate;
      }
      const plan = planPhase(shape, phase, names, perMetric, values, cfg.seed);
      if (f) f.parse_rate = parseRate(plan);
      const label = `${policy}/${shape}/${state ?? 'warm-up (untimed)'}: ${metrics} x ${perMetric}`;
      const e2e = await send(client, plan, progress, label, cfg, (ack) => { if (f) f.ack_rate = ack; });
      if (!f) continue;
      f.e2e_rate = e2e;
      // A property of the machine and the shape, not of the target: measured beside Tally only.
      if (target.kind === 'tally') f.floor_rate = await floorRate(plan);
      if (ids.length > 0 && cfg.reads > 0) {
        const samples: number[] = [];
        for (let i = 0; i < cfg.reads + 2; i++) {
          const t0 = performance.now();
          await client.transport.request({ method: 'GET', path: `/v1/metric/${ids[0]}/measures`, query: { aggregation: method } });
          if (i >= 2) samples.push(performance.now() - t0);
        }
        f.read_p50 = percentile(samples, 50);
      }
    }
    if (withPolicy) {
      try {
        await policyFigures(target, client, policy, cfg, progress, out);
      } catch (e) {
        const why = describe(e);
        out.notes.push(`${policy} (own figures): ${why}`);
        progress.log(`${policy}: its own figures failed: ${why}`);
      }
    }
  } finally {
    client.close();
  }
}

function describe(e: unknown): string {
  return e instanceof GnocchiApiError ? `${e.status} from ${e.method} ${new URL(e.url).pathname}: ${e.message}` : (e as Error).message;
}

export interface MatrixTargetSpec {
  name: 'tally' | 'gnocchi';
  open: () => Promise<Target>;
}

export interface MatrixResult {
  rows: CellResult[];
  policies: PolicyResult[];
  notes: string[];
}

/**
 * The processing limit of a policy over the points its batched cells send each metric
 * (every phase), folded as their requests carry them (a window per metric and call).
 */
export async function policyProcessing(policy: MatrixPolicy, cfg: MatrixConfig): Promise<ProcessingLimit> {
  const perMetric = Math.max(1, Math.floor(cfg.points / cfg.metrics));
  const values = valuesFor(perMetric, cfg.seed);
  const metrics: MetricPoints[] = Array.from({ length: cfg.metrics }, (_, m) => ({
    seconds: Float64Array.from({ length: perMetric * PHASES }, (_, i) => EPOCH_START + i),
    values: values[m % VARIANTS],
  }));
  return processingLimit(policy, MATRIX_POLICY_BODIES[policy], metrics, SHAPES.batch10k.window, cfg.processingReps);
}

/**
 * Every cell on every target: per policy and shape, each target started fresh in turn
 * (never two at once), measured, stopped; the first group of each policy also measures
 * the policy's own figures, and its processing limit is measured in this process before
 * it. A cell's line is logged as soon as both targets have it; failures leave figures n/a
 * and are returned as notes.
 */
export async function runMatrix(specs: readonly MatrixTargetSpec[], cells: readonly Cell[], cfg: MatrixConfig, progress: Progress,
  onTarget: (t: Target | null) => void): Promise<MatrixResult> {
  const rows = new Map<string, CellResult>(cells.map((c) => [c.name, { cell: c.name, tally: null, gnocchi: null }]));
  const policies = new Map<MatrixPolicy, PolicyResult>();
  const notes: string[] = [];
  // Target and policy whose processing stalled: its other groups would stall as well,
  // each costing --matrix-stall seconds, so they are skipped.
  const stalled = new Set<string>();
  for (const g of groupCells(cells)) {
    let pol = policies.get(g.policy);
    const first = pol === undefined;
    if (pol === undefined) {
      pol = { policy: g.policy, processing: null, figures: { cell: g.policy, tally: null, gnocchi: null }, reads: [] };
      policies.set(g.policy, pol);
      if (cfg.processingReps > 0) {
        pol.processing = await policyProcessing(g.policy, cfg);
        progress.log(`${g.policy}: processing machine limit ${pol.processing.ratio.toFixed(3)} (engine ${Math.round(pol.processing.engineRate)} points/s, baseline ${Math.round(pol.processing.baselineRate)} points/s)`);
      }
    }
    for (const spec of specs) {
      const p = progress.withPrefix(`[${spec.name}] `);
      if (stalled.has(`${spec.name} ${g.policy}`)) {
        notes.push(`${spec.name} ${g.policy}/${g.shape}: skipped, its processing of ${g.policy} stalled in an earlier group`);
        continue;
      }
      let target: Target | null = null;
      let memory: MemorySampler | null = null;
      const res: GroupResult = { cells: new Map(), policy: null, reads: new Map(), notes: [] };
      try {
        target = await spec.open();
        onTarget(target);
        memory = target.pid !== null ? new MemorySampler(target.pid) : null;
        memory?.start();
        await runGroup(target, g.policy, g.shape, g.states, cfg, p, res, first);
      } catch (e) {
        const why = describe(e);
        notes.push(`${spec.name} ${g.policy}/${g.shape}: ${why}`);
        p.log(`${g.policy}/${g.shape} failed: ${why}`);
        if (e instanceof BacklogStalledError) stalled.add(`${spec.name} ${g.policy}`);
      } finally {
        memory?.stop();
        if (target) await target.stop();
        onTarget(null);
      }
      notes.push(...res.notes.map((n) => `${spec.name} ${n}`));
      for (const [state, f] of res.cells) {
        if (memory) f.rss_peak = memory.peakBytes / 2 ** 20;
        const row = rows.get(`${g.policy}/${g.shape}/${state}`);
        if (row) row[spec.name] = f;
      }
      if (res.policy) pol.figures[spec.name] = res.policy;
      for (const [cell, f] of res.reads) {
        let row = pol.reads.find((r) => r.cell === cell);
        if (!row) pol.reads.push(row = { cell, tally: null, gnocchi: null });
        row[spec.name] = f;
      }
    }
    for (const s of g.states) {
      const row = rows.get(`${g.policy}/${g.shape}/${s}`);
      if (row) progress.log(renderMatrix([row]).split('\n').slice(2).filter((l) => l.startsWith(row.cell)).join('\n'));
    }
  }
  return { rows: [...rows.values()], policies: [...policies.values()], notes };
}
