// Storing aggregates computed elsewhere (another metric store) as they are. A store that
// keeps only aggregates, as Gnocchi does, cannot give back the raw measures they came
// from: re-aggregating is impossible, so the series are cut into splits and written
// verbatim, with an empty bound buffer in the state.
import type { Series } from '../aggregate.js';
import type { ArchivePolicy } from '../policy.js';
import type { Nanos } from '../time.js';
import type { ProcessResult } from './process.js';
import { EMPTY, sortUnique } from './series.js';
import { bySplit, encodeSplitSeries, policyMethods, seriesKey, splitKey } from './splits.js';
import { decodeState, encodeState, type State } from './state.js';

/** One aggregated series of a metric: bucket starts (multiples of the granularity) and values. */
export interface AggregateSeries {
  method: string;
  granularity: Nanos;
  ts: BigInt64Array;
  values: Float64Array;
}

/** Aggregates that the policy cannot hold as given. */
export class AggregateImportError extends Error {
  override name = 'AggregateImportError';
}

/**
 * The state and splits holding exactly `series` (what reads then return, before the
 * policy's retention), replacing whatever `previous` held: splits of the previous state
 * that the new one does not have are in `del`. Series of the policy not given are empty.
 * Later measures fold in as usual, but with no raw measures kept, a bucket they reach is
 * recomputed from the new measures alone.
 */
export function importAggregates(policy: ArchivePolicy, previous: Uint8Array | null, series: readonly AggregateSeries[]): ProcessResult {
  const methods = new Set(policyMethods(policy));
  const granularities = new Set(policy.definition.map((d) => d.granularity));
  const splits = new Map<string, Set<Nanos>>();
  const put = new Map<string, Uint8Array>();
  for (const s of series) {
    if (!methods.has(s.method)) throw new AggregateImportError(`the policy has no aggregation method ${s.method}`);
    if (!granularities.has(s.granularity)) throw new AggregateImportError(`the policy has no granularity of ${s.granularity} ns`);
    const key = seriesKey(s.method, s.granularity);
    if (splits.has(key)) throw new AggregateImportError(`series ${key} given twice`);
    const sorted: Series = sortUnique(s);
    if (sorted.ts.length !== s.ts.length) throw new AggregateImportError(`series ${key} has two points at one timestamp`);
    for (const t of sorted.ts) {
      if (t % s.granularity !== 0n) throw new AggregateImportError(`series ${key}: ${t} is not a bucket start`);
    }
    const starts = new Set<Nanos>();
    for (const { start, part } of bySplit(sorted, s.granularity)) {
      put.set(splitKey(s.method, s.granularity, start), encodeSplitSeries(part, start, s.granularity, null));
      starts.add(start);
    }
    if (starts.size > 0) splits.set(key, starts);
  }
  const del: string[] = [];
  for (const [key, starts] of decodeState(previous).splits) {
    for (const start of starts) {
      const split = `${key}_${start}`;
      if (!put.has(split)) del.push(split);
    }
  }
  const state: State = { buffer: EMPTY, splits };
  return { state: encodeState(state), put, del };
}
