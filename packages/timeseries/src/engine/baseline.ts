// The yardstick of the processing benchmarks (the engine's own, and the matrix's machine
// limit): every method of a policy over one metric's sorted points in one pass per
// granularity into typed arrays, with no state, no splits and no encoding. How far
// processMeasures is from it says how far the engine is from what the arithmetic needs.
// Not used by the engine; plain loops on purpose, since it is the measure of the rest.
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
