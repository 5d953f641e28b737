// The processing machine limit: how close Tally's engine comes to the bare arithmetic of
// a policy. Both sides run in the bench process over the same points, without I/O: the
// engine as metricd calls it (state and splits in a map), and a baseline written here
// that aggregates each metric's sorted points in one pass per granularity into typed
// arrays, with no encoding at all. The baseline is hand-written because it is the
// yardstick: any library in between would measure that library instead.
import { parseTimespan, processMeasures, type ArchivePolicy, type Measures } from '@tally/timeseries';

/** A policy as the matrix defines it: methods, and granularities with points kept. */
export interface PolicySpec {
  aggregation_methods: string[];
  definition: { granularity: string; points: number }[];
}

/** The engine's form of a matrix policy (retention = granularity x points). */
export function enginePolicy(name: string, spec: PolicySpec): ArchivePolicy {
  return {
    name,
    backWindow: 0,
    aggregationMethods: [...spec.aggregation_methods],
    definition: spec.definition.map((d) => {
      const g = parseTimespan(d.granularity);
      return { granularity: g, points: d.points, timespan: g * BigInt(d.points) };
    }),
  };
}

/** One aggregated series of the baseline: bucket starts (epoch seconds) and values. */
export interface BaselineSeries {
  method: string;
  granularityS: number;
  ts: Float64Array;
  values: Float64Array;
}

const BASIC = ['mean', 'sum', 'count', 'min', 'max', 'first', 'last', 'std', 'median'] as const;

function methodSlot(method: string): number {
  const b = (BASIC as readonly string[]).indexOf(method);
  if (b >= 0) return b;
  const m = /^([1-9][0-9]?)pct$/.exec(method);
  if (m === null) throw new Error(`baseline: unknown aggregation method '${method}'`);
  return BASIC.length + Number(m[1]) - 1;
}

let sortScratch = new Float64Array(1024);

/**
 * Every method of `methods` (plain names: mean, std, 95pct, ...) over the buckets of
 * `granularityS` seconds of t[from..)/v[from..), one pass: count, sum, min, max, first,
 * last and shifted sums of squares for std; one sort per bucket only when a median or a
 * percentile is asked for. std leaves out single-point buckets, as Gnocchi does.
 */
function aggregatePass(t: Float64Array, v: Float64Array, from: number, granularityS: number, methods: readonly string[]): BaselineSeries[] {
  const n = t.length - from;
  const slots = methods.map(methodSlot);
  const stdSlot = BASIC.indexOf('std');
  const needSort = slots.some((s) => s >= BASIC.indexOf('median'));
  const outTs = slots.map(() => new Float64Array(Math.max(0, n)));
  const outV = slots.map(() => new Float64Array(Math.max(0, n)));
  const lens = new Int32Array(slots.length);
  const row = new Float64Array(BASIC.length + 99);
  let i = from;
  while (i < t.length) {
    const bucket = Math.floor(t[i] / granularityS);
    const lo = i;
    const first = v[i];
    let sum = 0;
    let min = first;
    let max = first;
    let d1 = 0; // sums of (x - first) and its square: one pass, without the cancellation of raw squares
    let d2 = 0;
    for (; i < t.length && Math.floor(t[i] / granularityS) === bucket; i++) {
      const x = v[i];
      sum += x;
      if (x < min) min = x;
      if (x > max) max = x;
      const d = x - first;
      d1 += d;
      d2 += d * d;
    }
    const count = i - lo;
    row[0] = sum / count;
    row[1] = sum;
    row[2] = count;
    row[3] = min;
    row[4] = max;
    row[5] = first;
    row[6] = v[i - 1];
    row[7] = count > 1 ? Math.sqrt(Math.max(0, d2 - (d1 * d1) / count) / (count - 1)) : Number.NaN;
    if (needSort) {
      if (sortScratch.length < count) sortScratch = new Float64Array(count * 2);
      const s = sortScratch.subarray(0, count);
      s.set(v.subarray(lo, i));
      s.sort();
      row[8] = (s[(count - 1) >> 1] + s[count >> 1]) / 2;
      for (let j = 0; j < slots.length; j++) {
        if (slots[j] < BASIC.length) continue;
        // Linear interpolation between the closest ranks, numpy's default.
        const real = ((count - 1) * (slots[j] - BASIC.length + 1)) / 100;
        const f = Math.floor(real);
        const c = Math.ceil(real);
        row[slots[j]] = f === c ? s[f] : s[f] * (c - real) + s[c] * (real - f);
      }
    }
    const start = bucket * granularityS;
    for (let j = 0; j < slots.length; j++) {
      if (slots[j] === stdSlot && count < 2) continue;
      outTs[j][lens[j]] = start;
      outV[j][lens[j]++] = row[slots[j]];
    }
  }
  return methods.map((method, j) => ({ method, granularityS, ts: outTs[j].subarray(0, lens[j]), values: outV[j].subarray(0, lens[j]) }));
}

/**
 * Every series of the policy over one metric's points (epoch seconds, strictly
 * increasing): plain methods over the values, `rate:` methods over the differences of
 * consecutive values stamped with the later point (the first point has none).
 */
export function baselineAggregate(t: Float64Array, v: Float64Array, methods: readonly string[], granularitiesS: readonly number[]): BaselineSeries[] {
  const plain = methods.filter((m) => !m.startsWith('rate:'));
  const rate = methods.filter((m) => m.startsWith('rate:')).map((m) => m.slice(5));
  let diffs: Float64Array | null = null;
  if (rate.length > 0) {
    diffs = new Float64Array(v.length);
    for (let i = 1; i < v.length; i++) diffs[i] = v[i] - v[i - 1];
  }
  const out: BaselineSeries[] = [];
  for (const g of granularitiesS) {
    if (plain.length > 0) out.push(...aggregatePass(t, v, 0, g, plain));
    if (diffs !== null) out.push(...aggregatePass(t, diffs, 1, g, rate).map((s) => ({ ...s, method: `rate:${s.method}` })));
  }
  return out;
}

/**
 * Aggregate points a policy keeps of one metric's points (epoch seconds, increasing):
 * per series, the buckets newer than its last one minus the policy's timespan.
 */
export function storedPoints(t: Float64Array, v: Float64Array, spec: PolicySpec): number {
  const gs = spec.definition.map((d) => parseTimespan(d.granularity));
  let total = 0;
  for (const s of baselineAggregate(t, v, spec.aggregation_methods, gs.map((g) => Number(g) / 1e9))) {
    if (s.ts.length === 0) continue;
    const item = spec.definition[gs.findIndex((g) => Number(g) / 1e9 === s.granularityS)];
    const cutoff = s.ts[s.ts.length - 1] - s.granularityS * item.points;
    let k = s.ts.length;
    while (k > 0 && s.ts[k - 1] > cutoff) k--;
    total += s.ts.length - k;
  }
  return total;
}

/** One metric's points, both as the engine takes them and as the baseline does. */
export interface MetricPoints {
  seconds: Float64Array;
  values: Float64Array;
}

export interface ProcessingLimit {
  /** Points per second through processMeasures, folding each metric `chunk` points at a time. */
  engineRate: number;
  /** Points per second through the one-pass baseline over the same points. */
  baselineRate: number;
  /** engineRate / baselineRate (the issue wants >= 0.3). */
  ratio: number;
  points: number;
  chunk: number;
}

function toMeasures(p: MetricPoints, from: number, to: number): Measures {
  const ts = new BigInt64Array(to - from);
  for (let i = from; i < to; i++) ts[i - from] = BigInt(p.seconds[i]) * 1_000_000_000n;
  return { ts, values: p.values.slice(from, to) };
}

/** Folds every metric's chunks through the engine, state and splits kept in a map per metric. */
async function engineOnce(policy: ArchivePolicy, chunks: Measures[][]): Promise<number> {
  const t0 = performance.now();
  for (const metric of chunks) {
    let state: Uint8Array | null = null;
    const splits = new Map<string, Uint8Array>();
    const readSplit = async (key: string) => splits.get(key) ?? null;
    for (const m of metric) {
      const r = await processMeasures(policy, state, m, readSplit);
      state = r.state;
      for (const k of r.del) splits.delete(k);
      for (const [k, b] of r.put) splits.set(k, b);
    }
  }
  return (performance.now() - t0) / 1000;
}

function baselineOnce(spec: PolicySpec, metrics: readonly MetricPoints[]): number {
  const gs = spec.definition.map((d) => Number(parseTimespan(d.granularity)) / 1e9);
  let sink = 0;
  const t0 = performance.now();
  for (const m of metrics) for (const s of baselineAggregate(m.seconds, m.values, spec.aggregation_methods, gs)) sink += s.values.length;
  const seconds = (performance.now() - t0) / 1000;
  if (sink < 0) throw new Error('unreachable: keeps the results alive');
  return seconds;
}

/**
 * The processing machine limit of a policy over these metrics' points: the best of `reps`
 * timings of each side (the first ones also compile the code). The engine's batches are
 * built before timing: decoding them is incoming's work, not the engine's.
 */
export async function processingLimit(name: string, spec: PolicySpec, metrics: readonly MetricPoints[], chunk: number, reps = 3): Promise<ProcessingLimit> {
  const policy = enginePolicy(name, spec);
  const chunks = metrics.map((m) => {
    const out: Measures[] = [];
    for (let i = 0; i < m.seconds.length; i += chunk) out.push(toMeasures(m, i, Math.min(m.seconds.length, i + chunk)));
    return out;
  });
  const points = metrics.reduce((s, m) => s + m.seconds.length, 0);
  let engineS = Infinity;
  let baselineS = Infinity;
  for (let r = 0; r < reps; r++) {
    engineS = Math.min(engineS, await engineOnce(policy, chunks));
    baselineS = Math.min(baselineS, baselineOnce(spec, metrics));
  }
  const engineRate = points / engineS;
  const baselineRate = points / baselineS;
  return { engineRate, baselineRate, ratio: engineRate / baselineRate, points, chunk };
}
