// Processing: folding a batch of measures into a metric's state and splits.
import { decodeSplit, encodeSplit, splitCodecHint, splitSegmentCount, type SplitCodecHint } from '../chunkenc/index.js';
import { aggregateSeriesMany, floorTo, lowerBound, type Series } from '../aggregate.js';
import type { ArchivePolicy, ArchivePolicyItem } from '../policy.js';
import type { Nanos } from '../time.js';
import { applyRetention, combine, EMPTY, extend, slice, sortUnique, type Measures } from './series.js';
import {
  appendSplitSeries, bySplit, decodeSplitSeries, encodeSplitSeries, policyMethods, seriesKey, splitKey, splitStart, type ReadSplit,
} from './splits.js';
import { decodeState, encodeState, nextChunks, type State } from './state.js';

export interface ProcessResult {
  state: Uint8Array;
  put: Map<string, Uint8Array>;
  del: string[];
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

/**
 * Whether a fold of `batch` (all after `last`, the buffer's newest point) needs the buffer:
 * for rate methods (the point before), for a bucket of some granularity that the batch's
 * first point shares with it, or to keep some of it for the next fold. Under a policy of
 * fine granularities, folds of many points each leave the buffer behind whole.
 */
function bufferNeeded(last: Nanos, batch: Series, policy: ArchivePolicy, methods: string[]): boolean {
  if (methods.some((m) => m.startsWith('rate:'))) return true;
  const first = batch.ts[0];
  for (const item of policy.definition) if (floorTo(first, item.granularity) <= last) return true;
  return firstBlockTimestamp(batch.ts[batch.ts.length - 1], policy, methods) <= last;
}


interface Aggregated {
  method: string;
  item: ArchivePolicyItem;
  series: Series;
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
  // The set may be shared with the cached decoded state (see stateOf): copied before the
  // first change, which most folds (appending to the open split) never make.
  let existing = state.splits.get(prefix) ?? new Set<Nanos>();
  let owned = false;
  const own = (): Set<Nanos> => {
    if (!owned) {
      existing = new Set(existing);
      state.splits.set(prefix, existing);
      owned = true;
    }
    return existing;
  };
  const count = existing.size;
  // Splits wholly older than the one holding the retention cutoff are deleted.
  const oldestKept = splitStart(cutoff ?? kept.ts[0], g);
  if (cutoff !== null) {
    let stale: Nanos[] | null = null;
    for (const start of existing) if (start < oldestKept) (stale ??= []).push(start);
    if (stale !== null) {
      const set = own();
      for (const start of stale) {
        set.delete(start);
        del.push(splitKey(agg.method, g, start));
      }
      state.index = undefined;
    }
  }
  const parts = bySplit(kept, g);
  const newest = maxOf(existing);
  for (let i = 0; i < parts.length; i++) {
    const { start, part } = parts[i];
    if (start < oldestKept) continue;
    // A split starting past the newest stored one closes that one: if commits appended to
    // it, it is re-coded as one chunk now (smaller, and quicker to read), once.
    if (newest !== null && start > newest && !parts.some((p) => p.start === newest)) {
      await compactSplit(splitKey(agg.method, g, newest), readSplit, put);
    }
    const key = splitKey(agg.method, g, start);
    let merged = part;
    let hint: SplitCodecHint | null = null;
    if (existing.has(start)) {
      const bytes = await readSplit(key);
      if (bytes !== null) {
        // The open tail (the series' newest split, the last this commit touches) takes the
        // new points as a segment when they come after its stored ones: O(new points).
        const tail = i === parts.length - 1 && (newest === null || start >= newest);
        const appended = tail ? appendSplitSeries(bytes, part, start, g) : null;
        if (appended !== null) {
          put.set(key, appended);
          continue;
        }
        hint = splitCodecHint(bytes);
        merged = combine(part, decodeSplitSeries(bytes, start, g));
      }
    }
    put.set(key, encodeSplitSeries(merged, start, g, hint));
    if (!existing.has(start)) own().add(start);
  }
  if (existing.size !== count || owned) state.index = undefined;
}

/**
 * Re-codes a stored segmented split as one chunk (put); a single chunk is left as it is.
 * Its positions and values go from one codec to the other as they are, without timestamps
 * built in between; the codecs are weighed again on the whole split, its segments having
 * been coded each like the one before (see segmentHint).
 */
async function compactSplit(key: string, readSplit: ReadSplit, put: Map<string, Uint8Array>): Promise<void> {
  const bytes = put.get(key) ?? (await readSplit(key));
  if (bytes === null || splitSegmentCount(bytes) === 1) return;
  const { positions, values } = decodeSplit(bytes);
  put.set(key, encodeSplit(positions, values, splitCodecHint(bytes)));
}

function maxOf(starts: Set<Nanos>): Nanos | null {
  let m: Nanos | null = null;
  for (const s of starts) if (m === null || s > m) m = s;
  return m;
}

/**
 * The decoded form of the states this engine wrote, by their bytes. A metric's next fold
 * usually gets back the very bytes its last fold returned (the storage keeps them in its
 * manifest cache): decoding them again, up to an hour of raw points under a policy with
 * 1 h buckets, was a tenth of a small fold. Weak keys: an entry lives as long as someone
 * holds its bytes.
 */
const decodedStates = new WeakMap<Uint8Array, State>();

/** The state of `bytes`, a copy that this fold may change without touching the cached one. */
function stateOf(bytes: Uint8Array | null): State {
  const known = bytes === null ? undefined : decodedStates.get(bytes);
  if (known === undefined) return decodeState(bytes);
  // The buffer's arrays are never written in place (folds build new ones), nor are the
  // split sets (storeAggregate copies one before changing it); the map of them is.
  return { buffer: known.buffer, splits: new Map(known.splits), chunks: known.chunks, index: known.index };
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
  const state = stateOf(stateBytes);
  const put = new Map<string, Uint8Array>();
  const del: string[] = [];
  const batch = sortUnique(measures);
  if (batch.ts.length === 0) return { state: stateBytes ?? encodeState(state), put, del };
  const methods = policyMethods(policy);

  let accepted = batch;
  let previous = state.buffer;
  let appended = true;
  if (previous.ts.length > 0) {
    const last = previous.ts[previous.ts.length - 1];
    accepted = slice(batch, lowerBound(batch.ts, firstBlockTimestamp(last, policy, methods)));
    appended = accepted.ts.length === 0 || accepted.ts[0] > last;
    if (appended && accepted === batch && !bufferNeeded(last, batch, policy, methods)) previous = EMPTY;
  }
  // Points after the buffer's (the usual case) extend it; others are merged into it. A
  // buffer the batch leaves behind whole is not copied in front of it: the batch is the
  // bound buffer as it is (the kept part is copied below, the caller owning the batch).
  const bound = previous.ts.length === 0 ? accepted : appended ? extend(previous, accepted) : combine(accepted, previous);
  // Recompute from the batch's first measure (even if it was too old and dropped).
  const from = bound.ts[0] > batch.ts[0] ? bound.ts[0] : batch.ts[0];

  for (const item of [...policy.definition].sort((a, b) => (a.granularity < b.granularity ? -1 : 1))) {
    const start = floorTo(from, item.granularity);
    // Every method of a granularity comes from the same buckets (and one rate series).
    const all = aggregateSeriesMany(bound, item.granularity, methods, start);
    for (let j = 0; j < methods.length; j++) {
      const series = all[j];
      if (series.ts.length === 0) continue;
      await storeAggregate({ method: methods[j], item, series }, state, readSplit, put, del);
    }
  }

  const keepFrom = firstBlockTimestamp(bound.ts[bound.ts.length - 1], policy, methods);
  const dropped = lowerBound(bound.ts, keepFrom);
  const kept = slice(bound, dropped);
  // The batch's points are the caller's: the kept ones are copied, with room for the next fold.
  state.buffer = bound !== accepted ? kept : kept.ts.length === 0 ? EMPTY : extend(EMPTY, kept);
  // The buffer's chunks already coded stay as they are when points were only appended.
  const chunks = previous.ts.length === 0 ? [] : state.chunks;
  state.chunks = appended && chunks !== undefined ? nextChunks(chunks, previous.ts.length, state.buffer, dropped) : undefined;
  const bytes = encodeState(state);
  decodedStates.set(bytes, state);
  return { state: bytes, put, del };
}
