// numpy's nan-aware reductions (nanmean, nanstd, ...) as Gnocchi's "aggregate" and
// "rolling" operations use them, with numpy's order of floating point additions:
// across series numpy adds one series after the other; along a rolling window it uses
// pairwise summation. Results are then bit-identical to Gnocchi's.

/** How a reduction adds: one value after the other, or numpy's pairwise blocks. */
export type Summation = 'sequential' | 'pairwise';

// A group being reduced is v[lo..lo+n): a window of a column, or a row gathered into scratch.

/** numpy's pairwise_sum over get(lo..lo+n), NaN read as 0 (nansum replaces them first). */
function pairwiseSum(v: Float64Array, lo: number, n: number, sq: number): number {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += term(v[lo + i], sq);
    return s;
  }
  if (n <= 128) {
    let r0 = term(v[lo], sq), r1 = term(v[lo + 1], sq), r2 = term(v[lo + 2], sq), r3 = term(v[lo + 3], sq);
    let r4 = term(v[lo + 4], sq), r5 = term(v[lo + 5], sq), r6 = term(v[lo + 6], sq), r7 = term(v[lo + 7], sq);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const b = lo + i;
      r0 += term(v[b], sq); r1 += term(v[b + 1], sq); r2 += term(v[b + 2], sq); r3 += term(v[b + 3], sq);
      r4 += term(v[b + 4], sq); r5 += term(v[b + 5], sq); r6 += term(v[b + 6], sq); r7 += term(v[b + 7], sq);
    }
    let s = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) s += term(v[lo + i], sq);
    return s;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(v, lo, half, sq) + pairwiseSum(v, lo + half, n - half, sq);
}

/**
 * One term of a sum: NaN counts as 0 (numpy's nan-functions replace them first); with
 * `sq` not NaN the term is the squared deviation from `sq` (for variances).
 */
function term(x: number, sq: number): number {
  if (Number.isNaN(x)) return 0;
  return Number.isNaN(sq) ? x : (x - sq) * (x - sq);
}

function sumTerms(v: Float64Array, lo: number, n: number, how: Summation, sq: number): number {
  if (how === 'pairwise') return pairwiseSum(v, lo, n, sq);
  let s = 0;
  for (let i = lo; i < lo + n; i++) s += term(v[i], sq);
  return s;
}

function sum(v: Float64Array, lo: number, n: number, how: Summation): number {
  return sumTerms(v, lo, n, how, NaN);
}

function count(v: Float64Array, lo: number, n: number): number {
  let c = 0;
  for (let i = lo; i < lo + n; i++) if (!Number.isNaN(v[i])) c++;
  return c;
}

/** numpy.nanvar with ddof=0: deviations from the mean of the non-NaN values. */
function variance(v: Float64Array, lo: number, n: number, how: Summation): number {
  const c = count(v, lo, n);
  if (c === 0) return NaN;
  const mean = sum(v, lo, n, how) / c;
  // A NaN mean (infinite inputs) must still give NaN deviations, not plain sums.
  if (Number.isNaN(mean)) return NaN;
  return sumTerms(v, lo, n, how, mean) / c;
}

let sorted = new Float64Array(64);

function median(v: Float64Array, lo: number, n: number): number {
  if (sorted.length < n) sorted = new Float64Array(Math.max(n, sorted.length * 2));
  let c = 0;
  for (let i = lo; i < lo + n; i++) {
    const x = v[i];
    if (!Number.isNaN(x)) sorted[c++] = x;
  }
  if (c === 0) return NaN;
  const s = sorted.subarray(0, c).sort();
  const h = c >> 1;
  return c % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function extreme(v: Float64Array, lo: number, n: number, max: boolean): number {
  let m = NaN;
  for (let i = lo; i < lo + n; i++) {
    const x = v[i];
    if (Number.isNaN(x)) continue;
    if (Number.isNaN(m) || (max ? x > m : x < m)) m = x;
  }
  return m;
}

/** One nan-aware reduction of n values. `method` has no "rate:" prefix. */
export type Reduction = (v: Float64Array, lo: number, n: number, how: Summation) => number;

export const NAN_REDUCTIONS: Readonly<Record<string, Reduction>> = {
  mean: (v, lo, n, how) => sum(v, lo, n, how) / count(v, lo, n),
  sum,
  count: (v, lo, n) => count(v, lo, n),
  min: (v, lo, n) => extreme(v, lo, n, false),
  max: (v, lo, n) => extreme(v, lo, n, true),
  median: (v, lo, n) => median(v, lo, n),
  var: variance,
  std: (v, lo, n, how) => Math.sqrt(variance(v, lo, n, how)),
};

export function reductionFor(method: string): Reduction {
  const base = method.startsWith('rate:') ? method.slice(5) : method;
  const r = Object.hasOwn(NAN_REDUCTIONS, base) ? NAN_REDUCTIONS[base] : undefined;
  if (r === undefined) throw new RangeError(`unknown aggregation method ${method}`);
  return r;
}

/** Consecutive differences (numpy.diff): one value fewer. */
export function diff(v: Float64Array): Float64Array {
  const out = new Float64Array(Math.max(0, v.length - 1));
  for (let i = 0; i < out.length; i++) out[i] = v[i + 1] - v[i];
  return out;
}

/** Reduces across columns, row by row (Gnocchi's "aggregate"). */
export function reduceAcross(columns: readonly Float64Array[], rows: number, method: string): Float64Array {
  const reduce = reductionFor(method);
  const out = new Float64Array(rows);
  const k = columns.length;
  const row = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) row[c] = columns[c][r];
    out[r] = reduce(row, 0, k, 'sequential');
  }
  return method.startsWith('rate:') ? diff(out) : out;
}

/** Reduces each window of `window` consecutive values of one column (Gnocchi's "rolling"). */
export function reduceRolling(column: Float64Array, window: number, method: string): Float64Array {
  const reduce = reductionFor(method);
  const n = Math.max(0, column.length - window + 1);
  const out = new Float64Array(n);
  for (let start = 0; start < n; start++) out[start] = reduce(column, start, window, 'pairwise');
  return method.startsWith('rate:') ? diff(out) : out;
}
