// Cross-series computation as Gnocchi's aggregates processor does it: series are grouped
// by granularity; within a group they are aligned on the union of their timestamps (cells
// a series lacks get the fill value, or NaN), checked for overlap when no fill is asked,
// and the operations evaluated. Granularities are answered coarsest first.

import { lowerBound, floorTo, type Series } from '../aggregate.js';
import type { Nanos } from '../time.js';
import type { CalendarUnit } from '../calendar.js';
import { evaluate, OperationsEvalError, UnaggregableError, type EvalInput } from './evaluate.js';
import type { OpNode, RefKey } from './schema.js';

/** "dropna"/"null": NaN cells ("dropna" leaves them out of the answer); a number fills; null checks overlap. */
export type Fill = number | 'null' | 'dropna' | null;

export interface SeriesInput {
  key: RefKey;
  granularity: Nanos;
  series: Series;
}

export interface AggregatesQuery {
  start?: Nanos;
  stop?: Nanos;
  /** Percentage of timestamps where every series must have a point (only without fill). */
  neededOverlap: number;
  fill: Fill;
}

export interface ResultGroup {
  granularity: Nanos;
  /** Set when a calendar resample grouped the points: the label to answer instead of the granularity. */
  calendar?: CalendarUnit;
  /** Indexes (into the inputs) of the series of this group, in input order. */
  inputs: number[];
  /** One series when aggregated, else one per input of the group (same order). */
  series: Series[];
}

export interface AggregatesResult {
  aggregated: boolean;
  groups: ResultGroup[];
}

export interface Aligned {
  ts: BigInt64Array;
  columns: Float64Array[];
}

/** The 32-bit words of timestamps: comparing them makes no BigInt per element. */
function words(ts: BigInt64Array): Int32Array {
  return new Int32Array(ts.buffer, ts.byteOffset, ts.length * 2);
}

function sameTimestamps(a: BigInt64Array, wa: Int32Array, b: BigInt64Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  const wb = words(b);
  for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return false;
  return true;
}

/**
 * Sorted union of the timestamps of sorted series. Series of metrics fed together
 * usually have the very same timestamps: checked first, in one linear pass, before the
 * general merge (a sort of all their points).
 */
function unionTimestamps(all: readonly Series[]): BigInt64Array {
  if (all.length > 0) {
    const first = all[0].ts;
    const wf = words(first);
    if (all.every((s) => sameTimestamps(first, wf, s.ts))) return first.slice();
  }
  const total = all.reduce((n, s) => n + s.ts.length, 0);
  const merged = new BigInt64Array(total);
  let at = 0;
  for (const s of all) {
    merged.set(s.ts, at);
    at += s.ts.length;
  }
  merged.sort();
  let k = 0;
  for (let i = 0; i < merged.length; i++) if (k === 0 || merged[i] !== merged[k - 1]) merged[k++] = merged[i];
  return merged.slice(0, k);
}

/** Outer join of series on their timestamps; missing cells hold `filler`. */
export function alignSeries(all: readonly Series[], filler: number): Aligned {
  const ts = unionTimestamps(all);
  const wts = words(ts);
  const columns = all.map((s) => {
    if (sameTimestamps(ts, wts, s.ts)) return s.values.slice();
    const col = new Float64Array(ts.length).fill(filler);
    let j = 0;
    for (let i = 0; i < s.ts.length; i++) {
      while (ts[j] !== s.ts[i]) j++;
      col[j] = s.values[i];
    }
    return col;
  });
  return { ts, columns };
}

function windowed(s: Series, granularity: Nanos, start?: Nanos, stop?: Nanos): Series {
  const from = start === undefined ? 0 : lowerBound(s.ts, floorTo(start, granularity));
  const to = stop === undefined ? s.ts.length : lowerBound(s.ts, stop);
  if (from === 0 && to === s.ts.length) return s;
  return to <= from ? { ts: new BigInt64Array(0), values: new Float64Array(0) } : { ts: s.ts.subarray(from, to), values: s.values.subarray(from, to) };
}

/** Python "%.2f" (correct rounding of the binary value, like toFixed away from exact ties). */
const pct2 = (x: number): string => x.toFixed(2);

/** Without fill: trim to the overlapping span (unless bounded) and require enough overlap. */
function checkOverlap(a: Aligned, keys: readonly RefKey[], q: AggregatesQuery): Aligned {
  const overlap: number[] = [];
  for (let r = 0; r < a.ts.length; r++) {
    if (a.columns.every((c) => !Number.isNaN(c[r]))) overlap.push(r);
  }
  const detail = keys.map((k) => [...k]);
  if (overlap.length === 0 && q.neededOverlap > 0) throw new UnaggregableError('No overlap', detail);
  if (a.ts.length === 0) return a;
  let lo = 0;
  let hi = a.ts.length;
  if (overlap.length > 0) {
    if (q.stop === undefined) hi = overlap[overlap.length - 1] + 1;
    if (q.start === undefined) lo = overlap[0];
  }
  const trimmed = { ts: a.ts.subarray(lo, hi), columns: a.columns.map((c) => c.subarray(lo, hi)) };
  const percent = (overlap.length * 100.0) / trimmed.ts.length;
  if (percent < q.neededOverlap) {
    throw new UnaggregableError(
      `Less than ${q.neededOverlap.toFixed(6)}% of datapoints overlap in this timespan (${pct2(percent)}%)`,
      detail,
    );
  }
  return trimmed;
}

function dropNaN(s: Series): Series {
  let keep = 0;
  for (let i = 0; i < s.values.length; i++) if (Number.isFinite(s.values[i])) keep++;
  if (keep === s.values.length) return s;
  const ts = new BigInt64Array(keep);
  const values = new Float64Array(keep);
  let k = 0;
  for (let i = 0; i < s.values.length; i++) {
    if (!Number.isFinite(s.values[i])) continue;
    ts[k] = s.ts[i];
    values[k++] = s.values[i];
  }
  return { ts, values };
}

function groupByGranularity(inputs: readonly SeriesInput[]): Map<Nanos, number[]> {
  const groups = new Map<Nanos, number[]>();
  inputs.forEach((inp, i) => {
    const g = groups.get(inp.granularity);
    if (g === undefined) groups.set(inp.granularity, [i]);
    else g.push(i);
  });
  return groups;
}

function computeGroup(op: OpNode, inputs: readonly SeriesInput[], indexes: number[], granularity: Nanos, q: AggregatesQuery) {
  const keys = indexes.map((i) => inputs[i].key);
  const filler = typeof q.fill === 'number' ? q.fill : NaN;
  let aligned = alignSeries(indexes.map((i) => windowed(inputs[i].series, granularity, q.start, q.stop)), filler);
  if (q.fill === null) aligned = checkOverlap(aligned, keys, q);
  const input: EvalInput = { granularity, ts: aligned.ts, columns: aligned.columns, keys };
  return evaluate(op, input);
}

/**
 * Evaluates `op` over the inputs (one per reference and granularity, in reference order).
 * Throws UnaggregableError (Gnocchi's 400 "Metrics can't being aggregated") and
 * OperationsEvalError (computations Gnocchi cannot answer).
 */
export function computeAggregates(op: OpNode, inputs: readonly SeriesInput[], q: AggregatesQuery): AggregatesResult {
  const byGranularity = [...groupByGranularity(inputs)].sort((a, b) => (a[0] > b[0] ? -1 : a[0] < b[0] ? 1 : 0));
  const evaluated = byGranularity.map(([g, idx]) => ({ idx, r: computeGroup(op, inputs, idx, g, q) }));
  const aggregated = evaluated.length > 0 && evaluated[evaluated.length - 1].r.aggregated;
  const groups = evaluated.map(({ idx, r }): ResultGroup => {
    if (typeof r.values === 'number') throw new OperationsEvalError('operations must produce series');
    const wanted = aggregated ? 1 : idx.length;
    if (r.values.length < wanted) throw new OperationsEvalError('operations produced fewer series than referenced');
    const series = r.values.slice(0, wanted).map((values) => {
      const s = { ts: r.ts, values };
      return q.fill === 'dropna' ? dropNaN(s) : s;
    });
    const group: ResultGroup = { granularity: r.granularity, inputs: idx, series };
    if (r.calendar !== undefined) group.calendar = r.calendar;
    return group;
  });
  return { aggregated, groups };
}
