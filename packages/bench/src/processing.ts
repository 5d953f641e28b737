// The processing machine limit: how close Tally's engine comes to the bare arithmetic of
// a policy. Both sides run in the bench process over the same points, without I/O: the
// engine as metricd calls it (state and splits in a map), and the engine package's
// baseline (engine/baseline.ts), which aggregates each metric's sorted points in one pass
// per granularity into typed arrays, with no encoding at all.
import { baselineAggregate, parseTimespan, processMeasures, type ArchivePolicy, type Measures } from '@tally/timeseries';

export { baselineAggregate, type BaselineSeries } from '@tally/timeseries';

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

/**
 * Timed rounds go on for at least this long, the best of each side kept: a round of the
 * baseline lasts a few milliseconds, so three of them were at the mercy of one collection
 * or one compilation (the medium policy's baseline measured 7.6 to 29 million points/s
 * from one run to the next, its engine 1.6 to 2.3 million).
 */
const MIN_TIMED_MS = 3000;

/** Untimed rounds of both sides before timing: at least, and at most. */
const WARMUP_ROUNDS = 3;
const MAX_WARMUP_ROUNDS = 12;

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
 * The processing machine limit of a policy over these metrics' points: the best of at
 * least `reps` timings of each side (and of as many as MIN_TIMED_MS allows), after untimed rounds of both until each side's timing stops
 * improving (at least WARMUP_ROUNDS): timed from a fresh process, the baseline's tight loop
 * was still being compiled and measured anywhere from 3 to 46 million points/s, which
 * swung the ratio tenfold. The engine's batches are built before timing: decoding them is
 * incoming's work, not the engine's.
 */
export async function processingLimit(name: string, spec: PolicySpec, metrics: readonly MetricPoints[], chunk: number, reps = 3): Promise<ProcessingLimit> {
  const policy = enginePolicy(name, spec);
  const chunks = metrics.map((m) => {
    const out: Measures[] = [];
    for (let i = 0; i < m.seconds.length; i += chunk) out.push(toMeasures(m, i, Math.min(m.seconds.length, i + chunk)));
    return out;
  });
  const points = metrics.reduce((s, m) => s + m.seconds.length, 0);
  if (reps > 0) {
    let lastE = Infinity;
    let lastB = Infinity;
    for (let round = 0; round < MAX_WARMUP_ROUNDS; round++) {
      const e = await engineOnce(policy, chunks);
      const b = baselineOnce(spec, metrics);
      const settled = e > lastE * 0.95 && b > lastB * 0.95;
      lastE = Math.min(lastE, e);
      lastB = Math.min(lastB, b);
      if (round + 1 >= WARMUP_ROUNDS && settled) break;
    }
  }
  let engineS = Infinity;
  let baselineS = Infinity;
  const until = performance.now() + (reps > 0 ? MIN_TIMED_MS : 0);
  for (let r = 0; r < reps || performance.now() < until; r++) {
    engineS = Math.min(engineS, await engineOnce(policy, chunks));
    baselineS = Math.min(baselineS, baselineOnce(spec, metrics));
  }
  const engineRate = points / engineS;
  const baselineRate = points / baselineS;
  return { engineRate, baselineRate, ratio: engineRate / baselineRate, points, chunk };
}
