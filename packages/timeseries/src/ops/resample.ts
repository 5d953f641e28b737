// Gnocchi's "resample" operation: each series is re-aggregated by carbonara (the same
// code that builds stored aggregates), on series that may hold NaN (cells the alignment
// left empty). Carbonara's min and max treat NaN through numpy's argsort order: min ignores
// NaN unless a bucket holds only NaN, max returns NaN as soon as a bucket holds one.
// Everything else propagates NaN the way the engine's own reducers already do.

import { aggregateSeries, bucketize, type Buckets, type Series } from '../aggregate.js';
import { calendarBuckets, resampleCalendar, type CalendarSampling } from '../calendar.js';
import type { Nanos } from '../time.js';

function hasNaN(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (Number.isNaN(v[i])) return true;
  return false;
}

function derived(s: Series): Series {
  const n = Math.max(0, s.ts.length - 1);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = s.values[i + 1] - s.values[i];
  return { ts: s.ts.slice(1), values };
}

function bucketExtreme(v: Float64Array, lo: number, hi: number, max: boolean): number {
  let m = NaN;
  for (let i = lo; i < hi; i++) {
    const x = v[i];
    if (Number.isNaN(x)) {
      if (max) return NaN;
      continue;
    }
    if (Number.isNaN(m) || (max ? x > m : x < m)) m = x;
  }
  return m;
}

function bucketsOf(ts: BigInt64Array, sampling: Nanos | CalendarSampling): Buckets {
  return typeof sampling === 'bigint' ? bucketize(ts, sampling) : calendarBuckets(ts, sampling);
}

function extremeWithNaN(s: Series, sampling: Nanos | CalendarSampling, max: boolean): Series {
  const { starts, bounds } = bucketsOf(s.ts, sampling);
  const values = new Float64Array(starts.length);
  for (let b = 0; b < starts.length; b++) values[b] = bucketExtreme(s.values, bounds[b], bounds[b + 1], max);
  return { ts: starts, values };
}

/**
 * Re-aggregates one series into buckets of `sampling` (fixed or calendar) with a carbonara
 * method (may throw UnknownAggregationMethodError, or CalendarDeriveError for rates by calendar).
 */
export function resampleSeries(s: Series, sampling: Nanos | CalendarSampling, method: string): Series {
  if (typeof sampling !== 'bigint') {
    if (method === 'min' || method === 'max') {
      if (hasNaN(s.values)) return extremeWithNaN(s, sampling, method === 'max');
    }
    return resampleCalendar(s, sampling, method);
  }
  const rate = method.startsWith('rate:');
  const base = rate ? method.slice(5) : method;
  if ((base === 'min' || base === 'max') && hasNaN(s.values)) {
    return extremeWithNaN(rate ? derived(s) : s, sampling, base === 'max');
  }
  return aggregateSeries(s, sampling, method);
}
