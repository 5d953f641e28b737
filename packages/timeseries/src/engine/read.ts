// Reading: one aggregation method of a metric, over its stored splits, optionally
// windowed and resampled (fixed or calendar sampling).
import { aggregateSeries, floorTo, lowerBound, type Series } from '../aggregate.js';
import { calendarBucket, resampleCalendar, CalendarDeriveError, type CalendarSampling, type CalendarUnit } from '../calendar.js';
import type { ArchivePolicy, ArchivePolicyItem } from '../policy.js';
import { secondsRepr } from '../pyfloat.js';
import type { Nanos } from '../time.js';
import { applyRetention, concat, EMPTY, slice } from './series.js';
import { decodeSplitSeries, policyMethods, seriesKey, splitKey, splitStart, type ReadSplit } from './splits.js';
import { decodeState, type State } from './state.js';

export interface ReadQuery {
  aggregation: string;
  granularity?: Nanos;
  start?: Nanos;
  stop?: Nanos;
  /** A fixed sampling, or a calendar grouping in a time zone. */
  resample?: Nanos | CalendarSampling;
}

export interface ReadResult {
  ts: BigInt64Array;
  /** Per point; with a calendar resample, the stored granularity that was resampled. */
  granularity: BigInt64Array;
  values: Float64Array;
  /** Set when the points are calendar buckets (Gnocchi then labels them "Y", "M", ...). */
  calendar?: CalendarUnit;
}

/** Asked for an aggregation method or granularity the policy does not have. */
export class AggregationNotFoundError extends Error {
  override name = 'AggregationNotFoundError';
  constructor(
    readonly method: string,
    readonly granularity: Nanos,
  ) {
    super(`Aggregation method '${method}' at granularity '${secondsRepr(granularity)}' does not exist`);
  }
}

const copy = (s: Series): Series => ({ ts: s.ts.slice(), values: s.values.slice() });

/** Splits of one series a read asks for at once. */
const SPLITS_READ_AT_ONCE = 8;

/**
 * Decoded states, by the bytes they were decoded from. Storages hand out the same bytes
 * object for as long as a metric is unchanged (they may not be modified: see
 * AggregateStorage), so the bytes' identity is the state's version and an entry dies with
 * its bytes; a commit yields new bytes, hence a new entry. Decoding the state was a tenth
 * of a small read and is repeated for every granularity and request.
 */
const decodedStates = new WeakMap<Uint8Array, State>();

function readState(bytes: Uint8Array | null): State {
  if (bytes === null) return decodeState(null, { buffer: false });
  let state = decodedStates.get(bytes);
  if (state === undefined) {
    // Reads use stored aggregates only, never the raw points of the bound buffer.
    state = decodeState(bytes, { buffer: false });
    decodedStates.set(bytes, state);
  }
  return state;
}

/**
 * Decoded splits, by the bytes they were decoded from (same identity argument as the
 * states: a rewritten split is new bytes, so never served stale), least recently used
 * out, bounded in points. A split holds at most a few thousand points; decoding them is
 * the largest part of reading a stored series again, as dashboards do. Holding the
 * decoded series in a WeakMap instead would keep them as long as the storage's cache of
 * encoded splits keeps their bytes: several times its byte bound.
 */
export class DecodedSplits {
  readonly #entries = new Map<Uint8Array, { start: Nanos; granularity: Nanos; series: Series }>();
  #points = 0;

  constructor(readonly maxPoints: number) {}

  /** The decoded series of `bytes`, from the cache when it holds them. Do not modify it. */
  decode(bytes: Uint8Array, start: Nanos, granularity: Nanos): Series {
    const hit = this.#entries.get(bytes);
    if (hit !== undefined && hit.start === start && hit.granularity === granularity) {
      // Re-insert: Map order doubles as LRU order.
      this.#entries.delete(bytes);
      this.#entries.set(bytes, hit);
      return hit.series;
    }
    const series = decodeSplitSeries(bytes, start, granularity);
    const n = series.ts.length;
    if (n > this.maxPoints / 8) return series; // one huge split must not flush the rest
    if (hit !== undefined) {
      this.#entries.delete(bytes);
      this.#points -= hit.series.ts.length;
    }
    this.#entries.set(bytes, { start, granularity, series });
    this.#points += n;
    while (this.#points > this.maxPoints) {
      const [k, v] = this.#entries.entries().next().value as [Uint8Array, { series: Series }];
      this.#entries.delete(k);
      this.#points -= v.series.ts.length;
    }
    return series;
  }

  get points(): number {
    return this.#points;
  }
}

/** Points of decoded splits kept for reads: 16 bytes each, so 32 MiB. */
const DECODED_SPLIT_POINTS = 2 * 1024 * 1024;
const decodedSplits = new DecodedSplits(DECODED_SPLIT_POINTS);

async function readStored(
  method: string,
  item: ArchivePolicyItem,
  state: State,
  query: { start?: Nanos; stop?: Nanos },
  readSplit: ReadSplit,
): Promise<Series> {
  const g = item.granularity;
  const starts = [...(state.splits.get(seriesKey(method, g)) ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lo = query.start === undefined ? null : splitStart(query.start, g);
  const hi = query.stop === undefined ? null : splitStart(query.stop, g);
  const wanted = starts.filter((start) => !((lo !== null && start < lo) || (hi !== null && start > hi)));
  const parts: Series[] = [];
  // A few splits are read at once (a read is a few file operations on the thread pool, and
  // one by one a long series waited on each in turn), then decoded before the next few, so
  // that a caller's readSplit can still pace a long read.
  for (let i = 0; i < wanted.length; i += SPLITS_READ_AT_ONCE) {
    const batch = wanted.slice(i, i + SPLITS_READ_AT_ONCE);
    const blobs = await Promise.all(batch.map((start) => readSplit(splitKey(method, g, start))));
    for (let j = 0; j < batch.length; j++) {
      const bytes = blobs[j];
      if (bytes !== null) parts.push(decodedSplits.decode(bytes, batch[j], g));
    }
  }
  if (parts.length === 0) return EMPTY;
  // The cache's arrays must not reach the caller, who owns what it is given.
  if (parts.length === 1) return applyRetention(copy(parts[0]), item.timespan).kept;
  // Splits may hold points past retention until rewritten: hide them like Gnocchi.
  return applyRetention(concat(parts), item.timespan).kept;
}

/** Keep [floor(start, granularity), stop). */
function window(s: Series, granularity: Nanos, start?: Nanos, stop?: Nanos): Series {
  const from = start === undefined ? 0 : lowerBound(s.ts, floorTo(start, granularity));
  const to = stop === undefined ? s.ts.length : lowerBound(s.ts, stop);
  return to <= from ? EMPTY : slice(s, from, to);
}

/** Keep the calendar buckets starting in [bucket of start, stop). */
function calendarWindow(s: Series, sampling: CalendarSampling, start?: Nanos, stop?: Nanos): Series {
  const from = start === undefined ? 0 : lowerBound(s.ts, calendarBucket(start, sampling).start);
  const to = stop === undefined ? s.ts.length : lowerBound(s.ts, stop);
  return to <= from ? EMPTY : slice(s, from, to);
}

/**
 * Aggregates of one method, granularity descending then time ascending. `start` is
 * rounded down to the granularity (inclusive), `stop` is exclusive; `resample`
 * re-aggregates the stored points with the same method. A calendar resample answers
 * whole buckets: every bucket starting in [bucket of start, stop), computed from all of
 * its stored points (CalendarDeriveError for rate methods).
 */
export async function readMeasures(
  policy: ArchivePolicy,
  stateBytes: Uint8Array | null,
  query: ReadQuery,
  readSplit: ReadSplit,
): Promise<ReadResult> {
  const state = readState(stateBytes);
  const method = query.aggregation;
  let items = [...policy.definition].sort((a, b) => (a.granularity > b.granularity ? -1 : 1));
  if (query.granularity !== undefined) {
    items = items.filter((d) => d.granularity === query.granularity);
  }
  if (items.length === 0 || !policyMethods(policy).includes(method)) {
    throw new AggregationNotFoundError(method, query.granularity ?? items[0]?.granularity ?? 0n);
  }
  const parts: { s: Series; g: Nanos }[] = [];
  const resample = query.resample;
  if (resample !== undefined && typeof resample !== 'bigint') {
    if (method.startsWith('rate:')) throw new CalendarDeriveError();
    // Read whole buckets at both ends.
    const bounds = {
      start: query.start === undefined ? undefined : calendarBucket(query.start, resample).start,
      stop: query.stop === undefined ? undefined : calendarBucket(query.stop, resample).next,
    };
    for (const item of items) {
      const stored = window(await readStored(method, item, state, bounds, readSplit), item.granularity, bounds.start, bounds.stop);
      const s = resampleCalendar(stored, resample, method);
      parts.push({ s: calendarWindow(s, resample, query.start, query.stop), g: item.granularity });
    }
  } else {
    for (const item of items) {
      let s = await readStored(method, item, state, query, readSplit);
      let g = item.granularity;
      if (resample !== undefined) {
        g = resample;
        s = aggregateSeries(s, g, method);
      }
      parts.push({ s: window(s, g, query.start, query.stop), g });
    }
  }
  const all = concat(parts.map((p) => p.s));
  const granularity = new BigInt64Array(all.ts.length);
  let at = 0;
  for (const p of parts) {
    granularity.fill(p.g, at, at + p.s.ts.length);
    at += p.s.ts.length;
  }
  const result: ReadResult = { ts: all.ts, granularity, values: all.values };
  if (resample !== undefined && typeof resample !== 'bigint') result.calendar = resample.unit;
  return result;
}
