// Operations on columnar series ({ ts, values }, timestamps ascending) shared by processing
// and reading: sorting a batch, merging, slicing, concatenating, and cutting by retention.
import { upperBound, type Series } from '../aggregate.js';
import type { Nanos } from '../time.js';

export interface Measures {
  ts: BigInt64Array;
  values: Float64Array;
}

export const EMPTY: Series = { ts: new BigInt64Array(0), values: new Float64Array(0) };

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

export function slice(s: Series, from: number, to = s.ts.length): Series {
  return { ts: s.ts.subarray(from, to), values: s.values.subarray(from, to) };
}

export function concat(parts: Series[]): Series {
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

/** Drop points at or before last - timespan; returns the cutoff (null: keep all). */
export function applyRetention(s: Series, timespan: Nanos | null): { kept: Series; cutoff: Nanos | null } {
  if (timespan === null || s.ts.length === 0) return { kept: s, cutoff: null };
  const cutoff = s.ts[s.ts.length - 1] - timespan;
  return { kept: slice(s, upperBound(s.ts, cutoff)), cutoff };
}
