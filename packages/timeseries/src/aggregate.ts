// Per-bucket aggregation over columnar, time-sorted series with unique timestamps.
// Mirrors Gnocchi's carbonara GroupedTimeSeries, including its floating point order
// of operations, so results are bit-identical where that is cheap to achieve.

import type { Nanos } from './time.js';
import { baseOf, copyAt, fitsDoubles, floorDiv, offsetAt, setAt, wordsOf } from './nanos64.js';

/** A series sorted by strictly increasing timestamp. */
export interface Series {
  ts: BigInt64Array;
  values: Float64Array;
}

export class UnknownAggregationMethodError extends Error {
  override name = 'UnknownAggregationMethodError';
  constructor(readonly method: string) {
    super(`Unknown aggregation method \`${method}'`);
  }
}

export function floorTo(t: Nanos, granularity: Nanos): Nanos {
  const q = t / granularity;
  return (t % granularity !== 0n && t < 0n ? q - 1n : q) * granularity;
}

/** First index whose timestamp is >= t (numpy.searchsorted side='left'). */
export function lowerBound(ts: BigInt64Array, t: Nanos, from = 0, to = ts.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose timestamp is > t (side='right'). */
export function upperBound(ts: BigInt64Array, t: Nanos, from = 0, to = ts.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Buckets {
  /** Bucket start of each bucket. */
  starts: BigInt64Array;
  /** bounds[k]..bounds[k+1] are the indexes of bucket k's points. */
  bounds: Int32Array;
}

/** Group ts[from..) into buckets floor(t / granularity) * granularity. */
export function bucketize(ts: BigInt64Array, granularity: Nanos, from = 0): Buckets {
  if (ts.length > from) {
    const base = floorTo(ts[from], granularity);
    if (fitsDoubles(ts[ts.length - 1] - base, granularity)) return bucketizeByOffsets(ts, granularity, from, base);
  }
  // Spans beyond 2^53 ns (104 days) from the first bucket: plain BigInt, rare and short.
  const starts: bigint[] = [];
  const bounds: number[] = [];
  let i = from;
  const n = ts.length;
  while (i < n) {
    const start = floorTo(ts[i], granularity);
    const end = start + granularity;
    starts.push(start);
    bounds.push(i);
    i++;
    while (i < n && ts[i] < end) i++;
  }
  bounds.push(n);
  return { starts: BigInt64Array.from(starts), bounds: Int32Array.from(bounds) };
}

/**
 * bucketize for a series spanning less than 2^53 ns from its first bucket: bucket numbers
 * come from exact double offsets, and no BigInt is made per point or per bucket.
 */
function bucketizeByOffsets(ts: BigInt64Array, granularity: Nanos, from: number, base: Nanos): Buckets {
  const w = wordsOf(ts);
  const b = baseOf(base);
  const g = Number(granularity);
  // Buckets are at most the points, and at most the buckets the span covers: with coarse
  // granularities (an hour of 1 s points) the second is far smaller.
  const spanned = floorDiv(offsetAt(w, ts.length - 1, b), g) + 1;
  const room = Math.min(ts.length - from, spanned);
  const starts = new BigInt64Array(room);
  const sw = wordsOf(starts);
  const bounds = new Int32Array(room + 1);
  const n = ts.length;
  let count = 0;
  let i = from;
  while (i < n) {
    const off = offsetAt(w, i, b);
    const k = floorDiv(off, g);
    const end = (k + 1) * g;
    // A point on a bucket boundary (whole seconds at 1 s) is its bucket's start as it is.
    if (k * g === off) copyAt(sw, count, w, i);
    else setAt(sw, count, b, k * g);
    bounds[count++] = i;
    // The bucket's end by galloping then bisecting, not point by point: a coarse bucket
    // (an hour of 1 s points, recomputed on every fold) costs a dozen reads, not 3 600,
    // and a bucket of one point still costs one.
    let lo = i + 1; // every index below lo is in the bucket
    let hi = lo;
    let step = 1;
    while (hi < n && offsetAt(w, hi, b) < end) {
      lo = hi + 1;
      hi = lo + step;
      step *= 2;
    }
    if (hi > n) hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (offsetAt(w, mid, b) < end) lo = mid + 1;
      else hi = mid;
    }
    i = lo;
  }
  bounds[count] = n;
  return { starts: starts.subarray(0, count), bounds: bounds.subarray(0, count + 1) };
}

// ------------------------------------------------------------ reducers

/** One reducer: values[lo..hi) of one bucket; `pos` is lo's index within the group. */
type Reducer = (values: Float64Array, lo: number, hi: number, pos: number) => number;

function sumOf(v: Float64Array, lo: number, hi: number): number {
  let s = 0;
  for (let i = lo; i < hi; i++) s += v[i];
  return s;
}

let scratch = new Float64Array(64);
function sortedCopy(v: Float64Array, lo: number, hi: number): Float64Array {
  const n = hi - lo;
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  const out = scratch.subarray(0, n);
  out.set(v.subarray(lo, hi));
  return out.sort();
}

function std(v: Float64Array, lo: number, hi: number): number {
  const n = hi - lo;
  const mean = sumOf(v, lo, hi) / n;
  let ss = 0;
  for (let i = lo; i < hi; i++) ss += (v[i] - mean) * (v[i] - mean);
  return Math.sqrt(ss / (n - 1));
}

function medianOfSorted(s: Float64Array, n: number): number {
  const floor = n - 1 - Math.floor(n / 2);
  const ceil = floor + ((n % 2) + 1) % 2;
  return (s[floor] + s[ceil]) / 2.0;
}

function median(v: Float64Array, lo: number, hi: number): number {
  return medianOfSorted(sortedCopy(v, lo, hi), hi - lo);
}

/**
 * Linear interpolation between closest ranks (numpy's default) over a bucket's sorted
 * values `s`. Positions are computed in the group's absolute index space like Gnocchi
 * (`pos` is the bucket's first index within the group), which affects the last bits.
 */
function quantileOfSorted(s: Float64Array, n: number, pos: number, q: number): number {
  const real = pos + (n - 1) * (q / 100);
  const floor = Math.floor(real);
  const ceil = Math.ceil(real);
  if (floor === ceil) return s[floor - pos];
  return s[floor - pos] * (ceil - real) + s[ceil - pos] * (real - floor);
}

function quantile(q: number): Reducer {
  return (v, lo, hi, pos) => quantileOfSorted(sortedCopy(v, lo, hi), hi - lo, pos, q);
}

const REDUCERS: Record<string, Reducer> = {
  mean: (v, lo, hi) => sumOf(v, lo, hi) / (hi - lo),
  sum: (v, lo, hi) => sumOf(v, lo, hi),
  count: (_v, lo, hi) => hi - lo,
  first: (v, lo) => v[lo],
  last: (v, _lo, hi) => v[hi - 1],
  min: (v, lo, hi) => {
    let m = v[lo];
    for (let i = lo + 1; i < hi; i++) if (v[i] < m) m = v[i];
    return m;
  },
  max: (v, lo, hi) => {
    let m = v[lo];
    for (let i = lo + 1; i < hi; i++) if (v[i] > m) m = v[i];
    return m;
  },
  std,
  median,
};

const PCT_RE = /^([1-9][0-9]?)pct$/;

function reducerFor(method: string): Reducer {
  const direct = Object.hasOwn(REDUCERS, method) ? REDUCERS[method] : undefined;
  if (direct !== undefined) return direct;
  const m = PCT_RE.exec(method);
  if (m !== null) return quantile(Number(m[1]));
  throw new UnknownAggregationMethodError(method);
}

/** Buckets needing fewer points than this are left out (std needs 2). */
function minPoints(method: string): number {
  return method === 'std' ? 2 : 1;
}

/**
 * Aggregate every bucket of a series (buckets computed from index `from` on, e.g. by
 * bucketize or calendarBuckets) with a plain (non-rate) method.
 */
export function reduceBuckets(series: Series, buckets: Buckets, from: number, method: string): Series {
  const reduce = reducerFor(method);
  const need = minPoints(method);
  const { starts, bounds } = buckets;
  const outTs = new BigInt64Array(starts.length);
  const outValues = new Float64Array(starts.length);
  const sw = wordsOf(starts);
  const ow = wordsOf(outTs);
  let k = 0;
  for (let b = 0; b < starts.length; b++) {
    const lo = bounds[b];
    const hi = bounds[b + 1];
    if (hi - lo < need) continue;
    copyAt(ow, k, sw, b);
    outValues[k] = reduce(series.values, lo, hi, lo - from);
    k++;
  }
  return { ts: outTs.slice(0, k), values: outValues.slice(0, k) };
}

/**
 * Differences between consecutive points, stamped with the later point. Derivation
 * starts at the first point >= start - granularity (its own difference is dropped),
 * and the result keeps only points >= start, as Gnocchi does.
 */
export function derive(series: Series, granularity: Nanos, start: Nanos | null): { series: Series; from: number } {
  const deriveFrom = start === null ? 0 : lowerBound(series.ts, start - granularity);
  const n = Math.max(0, series.ts.length - deriveFrom - 1);
  const ts = series.ts.slice(deriveFrom + 1);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = series.values[deriveFrom + 1 + i] - series.values[deriveFrom + i];
  const from = start === null ? 0 : lowerBound(ts, start);
  return { series: { ts, values }, from };
}

/**
 * Aggregate `series` into buckets of `granularity` with `method` ("mean", "95pct",
 * "rate:max", ...), considering only points >= start (bucket start) when given.
 */
export function aggregateSeries(series: Series, granularity: Nanos, method: string, start: Nanos | null = null): Series {
  if (method.startsWith('rate:')) {
    const inner = method.slice(5);
    reducerFor(inner); // fail early on unknown methods
    const d = derive(series, granularity, start);
    return reduceBuckets(d.series, bucketize(d.series.ts, granularity, d.from), d.from, inner);
  }
  const from = start === null ? 0 : lowerBound(series.ts, start);
  return reduceBuckets(series, bucketize(series.ts, granularity, from), from, method);
}

// Method kinds of reduceBucketsMany; a percentile's kind is PCT + its q.
const SUM = 0;
const MEAN = 1;
const COUNT = 2;
const FIRST = 3;
const LAST = 4;
const MIN = 5;
const MAX = 6;
const STD = 7;
const MEDIAN = 8;
const PCT = 100;
const KINDS: Record<string, number> = {
  sum: SUM, mean: MEAN, count: COUNT, first: FIRST, last: LAST, min: MIN, max: MAX, std: STD, median: MEDIAN,
};

function kindOf(method: string): number {
  const direct = Object.hasOwn(KINDS, method) ? KINDS[method] : undefined;
  if (direct !== undefined) return direct;
  const m = PCT_RE.exec(method);
  if (m !== null) return PCT + Number(m[1]);
  throw new UnknownAggregationMethodError(method);
}

const aggregateScratch = [new Float64Array(64), new Float64Array(64), new Float64Array(64)];

/** The output of method `kind` when asked for, else scratch slot `slot` (nb long, reused). */
function outputOr(kinds: readonly number[], outs: Float64Array[], kind: number, nb: number, slot: number): Float64Array {
  const j = kinds.indexOf(kind);
  if (j >= 0) return outs[j];
  if (aggregateScratch[slot].length < nb) aggregateScratch[slot] = new Float64Array(Math.max(nb, 2 * aggregateScratch[slot].length));
  return aggregateScratch[slot];
}

/** The starts of every bucket as one array of their own (bucketize's may hold spare room). */
function exactStarts(starts: BigInt64Array): BigInt64Array {
  return starts.byteOffset === 0 && starts.byteLength === starts.buffer.byteLength ? starts : starts.slice();
}

/**
 * reduceBucketsMany when every bucket holds one point (a granularity as fine as the points,
 * 1 s buckets of 1 s points), for methods that then give the point itself (or its count, or
 * nothing for std), or null when that does not hold. The results share the points' own
 * values instead of six arrays of copies: a typed array of over 64 bytes is a buffer of its
 * own off V8's heap, and their allocation was most of the aggregation of such a fold. Sum
 * and mean are 0 + x (then / 1), which is x bit for bit unless x is -0 or a NaN: then null.
 */
function singlePointBuckets(series: Series, buckets: Buckets, kinds: readonly number[], needSum: boolean): Series[] | null {
  const { starts, bounds } = buckets;
  const nb = starts.length;
  if (nb === 0 || bounds[nb] - bounds[0] !== nb) return null;
  for (const kind of kinds) if (kind > STD) return null;
  const own = series.values.subarray(bounds[0], bounds[nb]);
  if (needSum) {
    for (let i = 0; i < nb; i++) {
      const x = own[i];
      if (x !== x || (x === 0 && 1 / x < 0)) return null;
    }
  }
  const ts = exactStarts(starts);
  let ones: Float64Array | null = null;
  return kinds.map((kind) => {
    if (kind === STD) return { ts: new BigInt64Array(0), values: new Float64Array(0) };
    if (kind === COUNT) return { ts, values: (ones ??= new Float64Array(nb).fill(1)) };
    return { ts, values: own };
  });
}

/**
 * reduceBuckets for several plain methods over the same buckets: each bucket's sum, min
 * and max are computed once, and its values sorted once for the median and every
 * percentile. Same operations in the same order as the single-method reducers, so each
 * result is bit-identical to reduceBuckets(series, buckets, from, method). Results are
 * read-only: several may share one array, or the series' own values.
 */
export function reduceBucketsMany(series: Series, buckets: Buckets, from: number, methods: readonly string[]): Series[] {
  const kinds = methods.map(kindOf);
  const needSum = kinds.some((k) => k === SUM || k === MEAN || k === STD);
  const needMin = kinds.includes(MIN);
  const needMax = kinds.includes(MAX);
  const needSort = kinds.some((k) => k >= MEDIAN);
  const { starts, bounds } = buckets;
  const nb = starts.length;
  const v = series.values;
  const single = singlePointBuckets(series, buckets, kinds, needSum);
  if (single !== null) return single;
  const outs = kinds.map(() => new Float64Array(nb));
  // Column by column: each bucket's sum, min and max into the outputs of those methods (or
  // scratch when only mean and std need the sum), then each other method in a loop of its
  // own over the buckets, which a JIT keeps tight where one loop testing every method per
  // bucket was most of a fold of one-point buckets.
  const sums = needSum ? outputOr(kinds, outs, SUM, nb, 0) : outs[0];
  const mins = needMin ? outputOr(kinds, outs, MIN, nb, 1) : outs[0];
  const maxs = needMax ? outputOr(kinds, outs, MAX, nb, 2) : outs[0];
  for (let b = 0; b < nb; b++) {
    const lo = bounds[b];
    const hi = bounds[b + 1];
    // sum, min and max in one loop: the sum still adds the values in order from 0, and min
    // and max compare as their single-method reducers do, so each stays bit-identical.
    let sum = 0;
    let min = v[lo];
    let max = min;
    if (needSum && (needMin || needMax)) {
      sum += min; // from 0, as sumOf: 0 + -0 is +0
      for (let i = lo + 1; i < hi; i++) {
        const x = v[i];
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
    } else if (needSum) {
      sum = sumOf(v, lo, hi);
    } else if (needMin || needMax) {
      for (let i = lo + 1; i < hi; i++) {
        const x = v[i];
        if (x < min) min = x;
        if (x > max) max = x;
      }
    }
    if (needSum) sums[b] = sum;
    if (needMin) mins[b] = min;
    if (needMax) maxs[b] = max;
  }
  // std leaves out single-point buckets: its results are packed, stdAt of them.
  let stdAt = 0;
  for (let j = 0; j < kinds.length; j++) {
    const kind = kinds[j];
    const out = outs[j];
    if (kind === SUM || kind === MIN || kind === MAX) {
      // Written in the first pass, unless the method is listed twice.
      const first = kind === SUM ? sums : kind === MIN ? mins : maxs;
      if (out !== first) out.set(first.subarray(0, nb));
    } else if (kind === MEAN) {
      for (let b = 0; b < nb; b++) out[b] = sums[b] / (bounds[b + 1] - bounds[b]);
    } else if (kind === COUNT) {
      for (let b = 0; b < nb; b++) out[b] = bounds[b + 1] - bounds[b];
    } else if (kind === FIRST) {
      for (let b = 0; b < nb; b++) out[b] = v[bounds[b]];
    } else if (kind === LAST) {
      for (let b = 0; b < nb; b++) out[b] = v[bounds[b + 1] - 1];
    } else if (kind === STD) {
      stdAt = 0;
      for (let b = 0; b < nb; b++) {
        const lo = bounds[b];
        const hi = bounds[b + 1];
        const n = hi - lo;
        if (n < 2) continue;
        const mean = sums[b] / n;
        let ss = 0;
        for (let i = lo; i < hi; i++) ss += (v[i] - mean) * (v[i] - mean);
        out[stdAt++] = Math.sqrt(ss / (n - 1));
      }
    }
  }
  if (needSort) {
    // Each bucket sorted once for the median and every percentile.
    for (let b = 0; b < nb; b++) {
      const lo = bounds[b];
      const hi = bounds[b + 1];
      const n = hi - lo;
      const sorted = sortedCopy(v, lo, hi);
      for (let j = 0; j < kinds.length; j++) {
        const kind = kinds[j];
        if (kind === MEDIAN) outs[j][b] = medianOfSorted(sorted, n);
        else if (kind > PCT) outs[j][b] = quantileOfSorted(sorted, n, lo - from, kind - PCT);
      }
    }
  }
  // Every method but std has a result per bucket: they share one copy of the starts.
  const allTs = exactStarts(starts);
  let stdTs: BigInt64Array | null = null;
  return kinds.map((kind, j) => {
    if (kind !== STD) return { ts: allTs, values: outs[j] };
    if (stdTs === null) {
      stdTs = new BigInt64Array(stdAt);
      const sw = wordsOf(starts);
      const ow = wordsOf(stdTs);
      let k = 0;
      for (let b = 0; b < nb; b++) if (bounds[b + 1] - bounds[b] >= 2) copyAt(ow, k++, sw, b);
    }
    return { ts: stdTs, values: outs[j].slice(0, stdAt) };
  });
}

/**
 * aggregateSeries for several methods at one granularity: the points are bucketed once,
 * and the rate methods share one derived series. Results come in the order of `methods`,
 * each bit-identical to aggregateSeries(series, granularity, method, start).
 */
export function aggregateSeriesMany(
  series: Series, granularity: Nanos, methods: readonly string[], start: Nanos | null = null,
): Series[] {
  const plain: string[] = [];
  const rate: string[] = [];
  for (const m of methods) {
    if (m.startsWith('rate:')) rate.push(m.slice(5));
    else plain.push(m);
  }
  const results = new Map<string, Series>();
  if (plain.length > 0) {
    const from = start === null ? 0 : lowerBound(series.ts, start);
    const out = reduceBucketsMany(series, bucketize(series.ts, granularity, from), from, plain);
    plain.forEach((m, j) => results.set(m, out[j]));
  }
  if (rate.length > 0) {
    rate.forEach(kindOf); // fail before deriving on unknown methods
    const d = derive(series, granularity, start);
    const out = reduceBucketsMany(d.series, bucketize(d.series.ts, granularity, d.from), d.from, rate);
    rate.forEach((m, j) => results.set(`rate:${m}`, out[j]));
  }
  return methods.map((m) => results.get(m) as Series);
}
