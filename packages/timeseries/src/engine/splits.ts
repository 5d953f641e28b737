// What a policy stores and under which keys: one aggregated series per (method,
// granularity), cut into splits of SPLIT_POINTS consecutive buckets; and the split blobs.
//
// Split boundaries are multiples of granularity x SPLIT_POINTS ns since the epoch
// (Gnocchi's SplitKey), so a bucket's split follows from its timestamp alone.
//
// Keys (decimal integers of nanoseconds):
//   series  `${method}_${granularityNs}`              (the engine state's index of splits)
//   split   `${method}_${granularityNs}_${startNs}`   (the caller stores the blob under it)
//
// Split blob: chunkenc's encodeSplit(positions, values) (layout in chunkenc/index.ts), where
// position i = (ts[i] - start) / granularity, an integer in [0, SPLIT_POINTS), ascending;
// decoding gives ts[i] = start + position i x granularity.
import { appendSplit, decodeSplit, encodeSplit, type SplitCodecHint } from '../chunkenc/index.js';
import { floorTo, lowerBound, type Series } from '../aggregate.js';
import { baseOf, fitsDoubles, floorDiv, offsetAt, setAt, wordsOf } from '../nanos64.js';
import { isValidAggregationMethod, type ArchivePolicy } from '../policy.js';
import type { Nanos } from '../time.js';
import { slice } from './series.js';

/** How the caller gives the engine a stored split: its blob, or null when absent. */
export type ReadSplit = (key: string) => Promise<Uint8Array | null>;

/** Points per split, as Gnocchi (SplitKey.POINTS_PER_SPLIT). */
export const SPLIT_POINTS = 3600;

export function splitStart(t: Nanos, granularity: Nanos): Nanos {
  return floorTo(t, granularity * BigInt(SPLIT_POINTS));
}

export function splitKey(method: string, granularity: Nanos, start: Nanos): string {
  return `${seriesKey(method, granularity)}_${start}`;
}

/**
 * Series keys by method and granularity. Every fold asks for the key of each series of its
 * policy, and writing a BigInt in decimal each time was a tenth of storing a fold's
 * aggregates; the pairs are the policies' few (the cache is dropped if they are not).
 */
const seriesKeys = new Map<string, Map<Nanos, string>>();
let seriesKeyCount = 0;
const MAX_SERIES_KEYS = 4096;

export function seriesKey(method: string, granularity: Nanos): string {
  let byGranularity = seriesKeys.get(method);
  const known = byGranularity?.get(granularity);
  if (known !== undefined) return known;
  const key = `${method}_${granularity}`;
  if (seriesKeyCount >= MAX_SERIES_KEYS) {
    seriesKeys.clear();
    seriesKeyCount = 0;
    byGranularity = undefined;
  }
  if (byGranularity === undefined) seriesKeys.set(method, (byGranularity = new Map()));
  byGranularity.set(granularity, key);
  seriesKeyCount++;
  return key;
}

/** The aggregation methods a policy computes and stores: its valid ones, once each. */
export function policyMethods(policy: ArchivePolicy): string[] {
  // Gnocchi may keep "+x"/"-x" entries verbatim in the method list; they aggregate nothing.
  return [...new Set(policy.aggregationMethods)].filter(isValidAggregationMethod);
}

// Positions and timestamps are converted through exact double offsets (nanos64.ts) when the
// points span less than 2^53 ns from the split's start: always for granularities up to 41
// minutes (a split is 3 600 of them); coarser ones have few points and keep BigInt. So does
// the first split of the int64 range, whose start lies below it and has no 64-bit words.
const INT64_MIN = -(2n ** 63n);

export function encodeSplitSeries(s: Series, start: Nanos, granularity: Nanos, hint: SplitCodecHint | null): Uint8Array {
  return encodeSplit(splitPositions(s, start, granularity), s.values, hint);
}

/**
 * `existing` (a stored split) with the points of `s` added as one more segment, without
 * decoding it, when they start at or after its last point (a later point replaces the last
 * one at the same position) and it has room for a segment; null otherwise.
 */
export function appendSplitSeries(existing: Uint8Array, s: Series, start: Nanos, granularity: Nanos): Uint8Array | null {
  return appendSplit(existing, splitPositions(s, start, granularity), s.values);
}

/**
 * The positions splitPositions computed last, by the identity of their timestamps: the
 * series of every method of a granularity but std share one timestamp array
 * (aggregateSeriesMany), so a fold computes their positions once. Timestamp arrays are
 * never written once a series is made.
 */
let lastPositions: { ts: BigInt64Array; start: Nanos; granularity: Nanos; positions: Uint32Array } | null = null;

function splitPositions(s: Series, start: Nanos, granularity: Nanos): Uint32Array {
  const last = lastPositions;
  if (last !== null && last.ts === s.ts && last.start === start && last.granularity === granularity) return last.positions;
  const positions = positionsOf(s, start, granularity);
  lastPositions = { ts: s.ts, start, granularity, positions };
  return positions;
}

function positionsOf(s: Series, start: Nanos, granularity: Nanos): Uint32Array {
  const n = s.ts.length;
  const positions = new Uint32Array(n);
  if (n > 0 && start >= INT64_MIN && fitsDoubles(s.ts[n - 1] - start, granularity)) {
    const w = wordsOf(s.ts);
    const b = baseOf(start);
    const g = Number(granularity);
    for (let i = 0; i < n; i++) positions[i] = floorDiv(offsetAt(w, i, b), g);
  } else {
    for (let i = 0; i < n; i++) positions[i] = Number((s.ts[i] - start) / granularity);
  }
  return positions;
}

export function decodeSplitSeries(bytes: Uint8Array, start: Nanos, granularity: Nanos): Series {
  const { positions, values } = decodeSplit(bytes);
  const n = positions.length;
  const ts = new BigInt64Array(n);
  let last = 0;
  for (let i = 0; i < n; i++) if (positions[i] > last) last = positions[i];
  if (start >= INT64_MIN && fitsDoubles(BigInt(last) * granularity, granularity)) {
    const w = wordsOf(ts);
    const b = baseOf(start);
    const g = Number(granularity);
    for (let i = 0; i < n; i++) setAt(w, i, b, positions[i] * g);
  } else {
    for (let i = 0; i < n; i++) ts[i] = start + BigInt(positions[i]) * granularity;
  }
  return { ts, values };
}

/** Group an aggregated series by split start. */
export function bySplit(s: Series, granularity: Nanos): { start: Nanos; part: Series }[] {
  const out: { start: Nanos; part: Series }[] = [];
  let i = 0;
  while (i < s.ts.length) {
    const start = splitStart(s.ts[i], granularity);
    const end = lowerBound(s.ts, start + granularity * BigInt(SPLIT_POINTS), i);
    out.push({ start, part: slice(s, i, end) });
    i = end;
  }
  return out;
}
