// numpy's nan-aware reductions (nanmean, nanstd, ...) as Gnocchi's "aggregate" and
// "rolling" operations use them, with numpy's order of floating point additions:
// across series numpy adds one series after the other; along a rolling window it uses
// pairwise summation. Results are then bit-identical to Gnocchi's.

/** How a reduction adds: one value after the other, or numpy's pairwise blocks. */
export type Summation = 'sequential' | 'pairwise';

/** Reads value i of the group being reduced. */
export type Getter = (i: number) => number;

/** numpy's pairwise_sum over get(lo..lo+n), NaN read as 0 (nansum replaces them first). */
function pairwiseSum(get: Getter, lo: number, n: number): number {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += nz(get(lo + i));
    return s;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = nz(get(lo + j));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += nz(get(lo + i + j));
    let s = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) s += nz(get(lo + i));
    return s;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(get, lo, half) + pairwiseSum(get, lo + half, n - half);
}

const nz = (x: number): number => (Number.isNaN(x) ? 0 : x);

function sum(get: Getter, n: number, how: Summation): number {
  if (how === 'pairwise') return pairwiseSum(get, 0, n);
  let s = 0;
  for (let i = 0; i < n; i++) s += nz(get(i));
  return s;
}

function count(get: Getter, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(get(i))) c++;
  return c;
}

/** numpy.nanvar with ddof=0: deviations from the mean of the non-NaN values. */
function variance(get: Getter, n: number, how: Summation): number {
  const c = count(get, n);
  if (c === 0) return NaN;
  const mean = sum(get, n, how) / c;
  const dev: Getter = (i) => {
    const x = get(i);
    return Number.isNaN(x) ? 0 : (x - mean) * (x - mean);
  };
  return sum(dev, n, how) / c;
}

let scratch = new Float64Array(64);

function median(get: Getter, n: number): number {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  let c = 0;
  for (let i = 0; i < n; i++) {
    const x = get(i);
    if (!Number.isNaN(x)) scratch[c++] = x;
  }
  if (c === 0) return NaN;
  const s = scratch.subarray(0, c).sort();
  const h = c >> 1;
  return c % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function extreme(get: Getter, n: number, max: boolean): number {
  let m = NaN;
  for (let i = 0; i < n; i++) {
    const x = get(i);
    if (Number.isNaN(x)) continue;
    if (Number.isNaN(m) || (max ? x > m : x < m)) m = x;
  }
  return m;
}

/** One nan-aware reduction of n values. `method` has no "rate:" prefix. */
export type Reduction = (get: Getter, n: number, how: Summation) => number;

export const NAN_REDUCTIONS: Readonly<Record<string, Reduction>> = {
  mean: (get, n, how) => sum(get, n, how) / count(get, n),
  sum,
  count: (get, n) => count(get, n),
  min: (get, n) => extreme(get, n, false),
  max: (get, n) => extreme(get, n, true),
  median: (get, n) => median(get, n),
  var: variance,
  std: (get, n, how) => Math.sqrt(variance(get, n, how)),
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
  let row = 0;
  const get: Getter = (i) => columns[i][row];
  for (row = 0; row < rows; row++) out[row] = reduce(get, k, 'sequential');
  return method.startsWith('rate:') ? diff(out) : out;
}

/** Reduces each window of `window` consecutive values of one column (Gnocchi's "rolling"). */
export function reduceRolling(column: Float64Array, window: number, method: string): Float64Array {
  const reduce = reductionFor(method);
  const n = Math.max(0, column.length - window + 1);
  const out = new Float64Array(n);
  let start = 0;
  const get: Getter = (i) => column[start + i];
  for (start = 0; start < n; start++) out[start] = reduce(get, window, 'pairwise');
  return method.startsWith('rate:') ? diff(out) : out;
}
