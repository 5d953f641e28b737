// The matrix: ingest measured for every archive policy x request shape x server state
// (cells.ts), on each started target, one fresh server per policy and shape.
import { GnocchiApiError, type GnocchiClient, type RequestSpec } from '@tally/client';
import { snappyCompress, writeRequest } from '@tally/rest/encoders';
import { generate, isoSeconds, Rng } from './datasets.js';
import { groupCells, renderMatrix, type Cell, type CellResult, type MatrixPolicy, type MatrixShape, type MatrixState } from './cells.js';
import { percentile } from './stats.js';
import { benchClient, type Figures } from './workload.js';
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
  drainTimeoutS: number;
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

/** One request of a phase, built before the timing starts. */
interface Req {
  spec: RequestSpec;
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
        q.push({ spec: { method: 'POST', path: `/v1/metric/${id}/measures`, body, contentType: 'application/json' }, measures: k, json: body });
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
        loop.push({ spec: { method: 'POST', path: '/v1/batch/metrics/measures', body, contentType: 'application/json' }, measures, json: body });
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
        loop.push({ spec: { method: 'POST', path: '/v1/influxdb/write', query: { db: 'bench' }, body, contentType: 'text/plain' }, measures, json: null });
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

async function backlog(client: GnocchiClient): Promise<number> {
  return (await client.status({ details: false })).storage.summary.measures;
}

async function drain(client: GnocchiClient, timeoutS: number): Promise<void> {
  const deadline = performance.now() + timeoutS * 1000;
  while ((await backlog(client)) > 0) {
    if (performance.now() > deadline) throw new Error(`backlog not empty after ${timeoutS} s (--drain-timeout)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function send(client: GnocchiClient, plan: Plan, progress: Progress, label: string, timeoutS: number): Promise<{ ack: number; e2e: number }> {
  const total = plan.flat().reduce((s, r) => s + r.measures, 0);
  progress.start(label, total, 'measures');
  const t0 = performance.now();
  await Promise.all(plan.map(async (loop) => {
    for (const r of loop) {
      await client.transport.request(r.spec);
      progress.tick(r.measures);
    }
  }));
  const ackS = (performance.now() - t0) / 1000;
  progress.end(`${Math.round(total / ackS)} measures/s acknowledged`);
  await drain(client, timeoutS);
  const e2eS = (performance.now() - t0) / 1000;
  return { ack: total / ackS, e2e: total / e2eS };
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof GnocchiApiError && e.status === 409)) throw e;
  }
}

/**
 * One fresh target, one policy and shape: the states asked for, cold first. Results per
 * state; a failure ends the group and is thrown to the caller.
 */
export async function runGroup(target: Target, policy: MatrixPolicy, shape: MatrixShape, states: readonly MatrixState[], cfg: MatrixConfig,
  progress: Progress): Promise<Map<MatrixState, Figures>> {
  const out = new Map<MatrixState, Figures>();
  const client = benchClient(target.url, cfg.user, cfg.password, SINGLE_LOOPS + 2);
  try {
    const policyName = `bench-matrix-${policy}`;
    const body = MATRIX_POLICY_BODIES[policy];
    await ignoreConflict(client.transport.request({ method: 'POST', path: '/v1/archive_policy', body: { name: policyName, back_window: 0, ...body } }));
    const metrics = cfg.metrics;
    let ids: string[] = [];
    if (shape === 'promwrite' || shape === 'influx') {
      // Metrics are created by the write itself, with the policy of the matching rule.
      await ignoreConflict(client.transport.request({ method: 'POST', path: '/v1/archive_policy_rule',
        body: { name: 'bench-matrix', metric_pattern: '*', archive_policy_name: policyName } }));
      if (shape === 'influx') await client.transport.request({ method: 'POST', path: '/v1/influxdb/query', query: { q: 'create database bench' } });
    } else {
      ids = new Array<string>(metrics);
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < metrics) {
          const i = next++;
          ids[i] = (await client.metric.create({ archive_policy_name: policyName })).id;
        }
      }));
    }
    const points = shape === 'single' ? cfg.singlePoints : cfg.points;
    const perMetric = Math.max(1, Math.floor(points / metrics));
    const names = shape === 'single' || shape.startsWith('batch') ? ids : Array.from({ length: metrics }, (_, m) => `m${m}`);
    const values = valuesFor(perMetric, cfg.seed);
    const method = body.aggregation_methods[0];
    const last = states.includes('warm') ? 2 : 0;
    for (let phase = 0; phase <= last; phase++) {
      const state: MatrixState | null = phase === 0 && states.includes('cold') ? 'cold' : phase === 2 ? 'warm' : null;
      const plan = planPhase(shape, phase, names, perMetric, values, cfg.seed);
      const parse = state ? parseRate(plan) : null;
      const label = `${policy}/${shape}/${state ?? 'warm-up (untimed)'}: ${metrics} x ${perMetric}`;
      const r = await send(client, plan, progress, label, cfg.drainTimeoutS);
      if (!state) continue;
      const f: Figures = { ack_rate: r.ack, e2e_rate: r.e2e, parse_rate: parse, read_p50: null };
      if (ids.length > 0 && cfg.reads > 0) {
        const samples: number[] = [];
        for (let i = 0; i < cfg.reads + 2; i++) {
          const t0 = performance.now();
          await client.transport.request({ method: 'GET', path: `/v1/metric/${ids[0]}/measures`, query: { aggregation: method } });
          if (i >= 2) samples.push(performance.now() - t0);
        }
        f.read_p50 = percentile(samples, 50);
      }
      out.set(state, f);
    }
  } finally {
    client.close();
  }
  return out;
}

export interface MatrixTargetSpec {
  name: 'tally' | 'gnocchi';
  open: () => Promise<Target>;
}

/**
 * Every cell on every target: per policy and shape, each target started fresh in turn
 * (never two at once), measured, stopped. A cell's line is logged as soon as both targets
 * have it; failures leave the cell's figures n/a and are returned as notes.
 */
export async function runMatrix(specs: readonly MatrixTargetSpec[], cells: readonly Cell[], cfg: MatrixConfig, progress: Progress,
  onTarget: (t: Target | null) => void): Promise<{ rows: CellResult[]; notes: string[] }> {
  const rows = new Map<string, CellResult>(cells.map((c) => [c.name, { cell: c.name, tally: null, gnocchi: null }]));
  const notes: string[] = [];
  for (const g of groupCells(cells)) {
    for (const spec of specs) {
      const p = progress.withPrefix(`[${spec.name}] `);
      let target: Target | null = null;
      try {
        target = await spec.open();
        onTarget(target);
        const res = await runGroup(target, g.policy, g.shape, g.states, cfg, p);
        for (const [state, f] of res) {
          const row = rows.get(`${g.policy}/${g.shape}/${state}`);
          if (row) row[spec.name] = f;
        }
      } catch (e) {
        const why = e instanceof GnocchiApiError ? `${e.status} from ${e.method} ${new URL(e.url).pathname}: ${e.message}` : (e as Error).message;
        notes.push(`${spec.name} ${g.policy}/${g.shape}: ${why}`);
        p.log(`${g.policy}/${g.shape} failed: ${why}`);
      } finally {
        if (target) await target.stop();
        onTarget(null);
      }
    }
    for (const s of g.states) {
      const row = rows.get(`${g.policy}/${g.shape}/${s}`);
      if (row) progress.log(renderMatrix([row]).split('\n').slice(2).filter((l) => l.startsWith(row.cell)).join('\n'));
    }
  }
  return { rows: [...rows.values()], notes };
}
