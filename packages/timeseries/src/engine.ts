// Processing and reading one metric, following Gnocchi's carbonara storage model:
// a bound buffer of raw measures (kept in `state`) lets open buckets be recomputed
// exactly; aggregates are stored in splits of SPLIT_POINTS points per
// (method, granularity). The caller does all I/O.

import { CorruptDataError, decodeMeasures, decodeSplit, encodeMeasures, encodeSplit, splitCodecHint, type SplitCodecHint } from './chunkenc/index.js';
import { aggregateSeries, floorTo, lowerBound, upperBound, type Series } from './aggregate.js';
import { baseOf, fitsDoubles, floorDiv, offsetAt, setAt, wordsOf } from './nanos64.js';
import { isValidAggregationMethod, type ArchivePolicy, type ArchivePolicyItem } from './policy.js';
import { secondsRepr } from './pyfloat.js';
import type { Nanos } from './time.js';
import { calendarBucket, resampleCalendar, CalendarDeriveError, type CalendarSampling, type CalendarUnit } from './calendar.js';

export interface Measures {
  ts: BigInt64Array;
  values: Float64Array;
}

export type ReadSplit = (key: string) => Promise<Uint8Array | null>;

export interface ProcessResult {
  state: Uint8Array;
  put: Map<string, Uint8Array>;
  del: string[];
}

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

/** Points per split, as Gnocchi (SplitKey.POINTS_PER_SPLIT). */
export const SPLIT_POINTS = 3600;

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

export function splitStart(t: Nanos, granularity: Nanos): Nanos {
  return floorTo(t, granularity * BigInt(SPLIT_POINTS));
}

export function splitKey(method: string, granularity: Nanos, start: Nanos): string {
  return `${method}_${granularity}_${start}`;
}

// ------------------------------------------------------------ state

const STATE_VERSION_V1 = 1;
const STATE_VERSION = 2;

/** Decoded engine state: the bound buffer and the split starts that exist. */
export interface State {
  buffer: Series;
  /** `${method}_${granularityNs}` -> split starts */
  splits: Map<string, Set<bigint>>;
}

function seriesKey(method: string, granularity: Nanos): string {
  return `${method}_${granularity}`;
}

const EMPTY: Series = { ts: new BigInt64Array(0), values: new Float64Array(0) };

// Layout v2 (written): u8 version | varint buffer byte length | buffer (encodeMeasures) |
// varint series count | per series: varint byte length + UTF-8 `${method}_${granularityNs}`,
// varint start count, starts ascending as zigzag varint deltas (the first from 0).
// Layout v1 (still read): u8 version | u32 buffer byte length | buffer |
// u32 key count | per key: u16 byte length + UTF-8 split key.
function pushVarint(out: number[], v: bigint): void {
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

export function encodeState(state: State): Uint8Array {
  const buffer = encodeMeasures(state.buffer.ts, state.buffer.values);
  const head: number[] = [STATE_VERSION];
  pushVarint(head, BigInt(buffer.length));
  const tail: number[] = [];
  const series = [...state.splits].filter(([, starts]) => starts.size > 0);
  pushVarint(tail, BigInt(series.length));
  const encoder = new TextEncoder();
  for (const [prefix, starts] of series) {
    const name = encoder.encode(prefix);
    pushVarint(tail, BigInt(name.length));
    for (const byte of name) tail.push(byte);
    pushVarint(tail, BigInt(starts.size));
    let previous = 0n;
    for (const start of [...starts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
      const d = start - previous;
      pushVarint(tail, d >= 0n ? d << 1n : ((-d) << 1n) - 1n);
      previous = start;
    }
  }
  const result = new Uint8Array(head.length + buffer.length + tail.length);
  result.set(head, 0);
  result.set(buffer, head.length);
  result.set(tail, head.length + buffer.length);
  return result;
}

function decodeStateV2(bytes: Uint8Array): State {
  let at = 1;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length || shift > 70n) throw new CorruptDataError('corrupt metric state');
      const x = bytes[at++];
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) return v;
      shift += 7n;
    }
  };
  const bufferLength = Number(varint());
  if (at + bufferLength > bytes.length) throw new CorruptDataError('corrupt metric state');
  const buffer = bufferLength === 0 ? EMPTY : decodeMeasures(bytes.subarray(at, at + bufferLength));
  at += bufferLength;
  const splits = new Map<string, Set<bigint>>();
  const decoder = new TextDecoder();
  for (let n = Number(varint()); n > 0; n--) {
    const length = Number(varint());
    if (at + length > bytes.length) throw new CorruptDataError('corrupt metric state');
    const prefix = decoder.decode(bytes.subarray(at, at + length));
    at += length;
    const set = new Set<bigint>();
    let previous = 0n;
    for (let m = Number(varint()); m > 0; m--) {
      const z = varint();
      previous += (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
      set.add(previous);
    }
    splits.set(prefix, set);
  }
  return { buffer: sortUnique(buffer), splits };
}

/** Throws CorruptDataError when `bytes` is not a state this module wrote. */
export function decodeState(bytes: Uint8Array | null): State {
  const splits = new Map<string, Set<bigint>>();
  if (bytes === null || bytes.length === 0) return { buffer: EMPTY, splits };
  if (bytes[0] === STATE_VERSION) return decodeStateV2(bytes);
  if (bytes[0] !== STATE_VERSION_V1) throw new CorruptDataError(`unknown metric state version ${bytes[0]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number): void => {
    if (at + n > bytes.length) throw new CorruptDataError('corrupt metric state: truncated');
  };
  need(1, 4);
  const bufferLength = view.getUint32(1, true);
  need(5, bufferLength);
  const buffer = bufferLength === 0 ? EMPTY : decodeMeasures(bytes.subarray(5, 5 + bufferLength));
  let at = 5 + bufferLength;
  need(at, 4);
  const count = view.getUint32(at, true);
  at += 4;
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    need(at, 2);
    const length = view.getUint16(at, true);
    need(at + 2, length);
    const key = decoder.decode(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
    const cut = key.lastIndexOf('_');
    const start = key.slice(cut + 1);
    if (cut < 0 || !/^-?\d+$/.test(start)) throw new CorruptDataError('corrupt metric state: bad split key');
    const prefix = key.slice(0, cut);
    let set = splits.get(prefix);
    if (set === undefined) splits.set(prefix, (set = new Set()));
    set.add(BigInt(start));
  }
  return { buffer: sortUnique(buffer), splits };
}

// ------------------------------------------------------------ series helpers

function isStrictlyIncreasing(ts: BigInt64Array): boolean {
  for (let i = 1; i < ts.length; i++) if (ts[i] <= ts[i - 1]) return false;
  return true;
}

/**
 * Sort by time and keep one value per timestamp. Gnocchi sorts a batch on
 * (timestamp, value) and keeps the first, so the smallest value wins.
 */
export function sortUnique(m: Measures): Series {
  if (isStrictlyIncreasing(m.ts)) return m;
  const order = Array.from({ length: m.ts.length }, (_, i) => i);
  order.sort((a, b) => (m.ts[a] < m.ts[b] ? -1 : m.ts[a] > m.ts[b] ? 1 : m.values[a] - m.values[b]));
  const ts: bigint[] = [];
  const values: number[] = [];
  for (const i of order) {
    if (ts.length > 0 && ts[ts.length - 1] === m.ts[i]) continue;
    ts.push(m.ts[i]);
    values.push(m.values[i]);
  }
  return { ts: BigInt64Array.from(ts), values: Float64Array.from(values) };
}

/** Union of two sorted unique series; on equal timestamps `winner` keeps its value. */
export function combine(winner: Series, other: Series): Series {
  const n = winner.ts.length + other.ts.length;
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < winner.ts.length || j < other.ts.length) {
    const takeWinner = j >= other.ts.length || (i < winner.ts.length && winner.ts[i] <= other.ts[j]);
    if (takeWinner) {
      if (j < other.ts.length && other.ts[j] === winner.ts[i]) j++;
      ts[k] = winner.ts[i];
      values[k++] = winner.values[i++];
    } else {
      ts[k] = other.ts[j];
      values[k++] = other.values[j++];
    }
  }
  return { ts: ts.slice(0, k), values: values.slice(0, k) };
}

function slice(s: Series, from: number, to = s.ts.length): Series {
  return { ts: s.ts.subarray(from, to), values: s.values.subarray(from, to) };
}

function concat(parts: Series[]): Series {
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((a, p) => a + p.ts.length, 0);
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let at = 0;
  for (const p of parts) {
    ts.set(p.ts, at);
    values.set(p.values, at);
    at += p.ts.length;
  }
  return { ts, values };
}

// ------------------------------------------------------------ splits

// Positions and timestamps are converted through exact double offsets (nanos64.ts) when the
// points span less than 2^53 ns from the split's start: always for granularities up to 41
// minutes (a split is 3 600 of them); coarser ones have few points and keep BigInt. So does
// the first split of the int64 range, whose start lies below it and has no 64-bit words.
const INT64_MIN = -(2n ** 63n);

function encodeSplitSeries(s: Series, start: Nanos, granularity: Nanos, hint: SplitCodecHint | null): Uint8Array {
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
  return encodeSplit(positions, s.values, hint);
}

function decodeSplitSeries(bytes: Uint8Array, start: Nanos, granularity: Nanos): Series {
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
function bySplit(s: Series, granularity: Nanos): { start: Nanos; part: Series }[] {
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

// ------------------------------------------------------------ processing

export function policyMethods(policy: ArchivePolicy): string[] {
  // Gnocchi may keep "+x"/"-x" entries verbatim in the method list; they aggregate nothing.
  return [...new Set(policy.aggregationMethods)].filter(isValidAggregationMethod);
}

function maxGranularity(policy: ArchivePolicy): Nanos {
  return policy.definition.reduce((m, d) => (d.granularity > m ? d.granularity : m), 0n);
}

/**
 * Oldest timestamp the bound buffer keeps: the start of the last block of the
 * largest granularity, minus back_window blocks (one more with rate methods,
 * which need the previous point).
 */
function firstBlockTimestamp(last: Nanos, policy: ArchivePolicy, methods: string[]): Nanos {
  const block = maxGranularity(policy);
  const back = BigInt(policy.backWindow + (methods.some((m) => m.startsWith('rate:')) ? 1 : 0));
  return floorTo(last, block) - block * back;
}

interface Aggregated {
  method: string;
  item: ArchivePolicyItem;
  series: Series;
}

/** Drop points at or before last - timespan; returns the cutoff (null: keep all). */
function applyRetention(s: Series, timespan: Nanos | null): { kept: Series; cutoff: Nanos | null } {
  if (timespan === null || s.ts.length === 0) return { kept: s, cutoff: null };
  const cutoff = s.ts[s.ts.length - 1] - timespan;
  return { kept: slice(s, upperBound(s.ts, cutoff)), cutoff };
}

async function storeAggregate(
  agg: Aggregated,
  state: State,
  readSplit: ReadSplit,
  put: Map<string, Uint8Array>,
  del: string[],
): Promise<void> {
  const g = agg.item.granularity;
  const { kept, cutoff } = applyRetention(agg.series, agg.item.timespan);
  if (kept.ts.length === 0) return;
  const prefix = seriesKey(agg.method, g);
  let existing = state.splits.get(prefix);
  if (existing === undefined) state.splits.set(prefix, (existing = new Set()));
  // Splits wholly older than the one holding the retention cutoff are deleted.
  const oldestKept = splitStart(cutoff ?? kept.ts[0], g);
  if (cutoff !== null) {
    for (const start of [...existing]) {
      if (start >= oldestKept) continue;
      existing.delete(start);
      del.push(splitKey(agg.method, g, start));
    }
  }
  for (const { start, part } of bySplit(kept, g)) {
    if (start < oldestKept) continue;
    const key = splitKey(agg.method, g, start);
    let merged = part;
    let hint: SplitCodecHint | null = null;
    if (existing.has(start)) {
      const bytes = await readSplit(key);
      if (bytes !== null) {
        merged = combine(part, decodeSplitSeries(bytes, start, g));
        hint = splitCodecHint(bytes);
      }
    }
    put.set(key, encodeSplitSeries(merged, start, g, hint));
    existing.add(start);
  }
}

/**
 * Fold a batch of measures into a metric. Measures older than the back window are
 * dropped; every bucket from the batch's first measure on is recomputed from the
 * bound buffer and merged into its split.
 */
export async function processMeasures(
  policy: ArchivePolicy,
  stateBytes: Uint8Array | null,
  measures: Measures,
  readSplit: ReadSplit,
): Promise<ProcessResult> {
  const state = decodeState(stateBytes);
  const put = new Map<string, Uint8Array>();
  const del: string[] = [];
  const batch = sortUnique(measures);
  if (batch.ts.length === 0) return { state: stateBytes ?? encodeState(state), put, del };
  const methods = policyMethods(policy);

  let accepted = batch;
  if (state.buffer.ts.length > 0) {
    const last = state.buffer.ts[state.buffer.ts.length - 1];
    accepted = slice(batch, lowerBound(batch.ts, firstBlockTimestamp(last, policy, methods)));
  }
  const bound = combine(accepted, state.buffer);
  // Recompute from the batch's first measure (even if it was too old and dropped).
  const from = bound.ts[0] > batch.ts[0] ? bound.ts[0] : batch.ts[0];

  for (const item of [...policy.definition].sort((a, b) => (a.granularity < b.granularity ? -1 : 1))) {
    const start = floorTo(from, item.granularity);
    for (const method of methods) {
      const series = aggregateSeries(bound, item.granularity, method, start);
      if (series.ts.length === 0) continue;
      await storeAggregate({ method, item, series }, state, readSplit, put, del);
    }
  }

  const keepFrom = firstBlockTimestamp(bound.ts[bound.ts.length - 1], policy, methods);
  state.buffer = slice(bound, lowerBound(bound.ts, keepFrom));
  return { state: encodeState(state), put, del };
}

// ------------------------------------------------------------ reading

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
  const parts: Series[] = [];
  for (const start of starts) {
    if ((lo !== null && start < lo) || (hi !== null && start > hi)) continue;
    const bytes = await readSplit(splitKey(method, g, start));
    if (bytes !== null) parts.push(decodeSplitSeries(bytes, start, g));
  }
  if (parts.length === 0) return EMPTY;
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
  const state = decodeState(stateBytes);
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
