// Searching metrics by value: Gnocchi's small value-query language
// ({"and": [{">=": 10}, {"<": ["mod"...]}]}) compiled to a predicate, and the points of
// each metric's aggregates that satisfy it.
import type { Nanos } from '@tally/timeseries';
import type { Metric } from '@tally/indexer';
import { AggregationUnavailable, InvalidValueQuery } from './errors.js';
import type { Services } from './services.js';
import { metricMeasures } from './measures.js';
import { requestDeadline } from './deadline.js';

type Num = number | boolean;
export type Evaluator = (value: number) => Num;

const BINARY: Record<string, (a: number, b: number) => Num> = {};
const alias = (names: string[], f: (a: number, b: number) => Num): void => names.forEach((n) => (BINARY[n] = f));
alias(['=', '==', 'eq'], (a, b) => a === b);
alias(['<', 'lt'], (a, b) => a < b);
alias(['>', 'gt'], (a, b) => a > b);
alias(['<=', '≤', 'le'], (a, b) => a <= b);
alias(['>=', '≥', 'ge'], (a, b) => a >= b);
alias(['!=', '≠', 'ne'], (a, b) => a !== b);
alias(['%', 'mod'], (a, b) => a - b * Math.floor(a / b)); // Python's modulo sign rule
alias(['+', 'add'], (a, b) => a + b);
alias(['-', 'sub'], (a, b) => a - b);
alias(['*', '×', 'mul'], (a, b) => a * b);
alias(['/', '÷', 'div'], (a, b) => a / b);
alias(['**', '^', 'pow'], (a, b) => a ** b);
const MULTIPLE: Record<string, (xs: Num[]) => boolean> = {
  and: (xs) => xs.every(Boolean), '∧': (xs) => xs.every(Boolean),
  or: (xs) => xs.some(Boolean), '∨': (xs) => xs.some(Boolean),
};

/** Depth bound: a query is a handful of comparisons; deeper trees are refused. */
const MAX_DEPTH = 32;

/** Compiles a value query; throws InvalidValueQuery with Gnocchi's messages. */
export function compileValueQuery(tree: unknown, depth = 0): Evaluator {
  if (depth > MAX_DEPTH) throw new InvalidValueQuery(`Query is nested too deeply (more than ${MAX_DEPTH} levels)`);
  if (typeof tree === 'number') return () => tree;
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree) || Object.keys(tree).length !== 1) {
    throw new InvalidValueQuery('expected a dictionary with one operator', []);
  }
  const [op, arg] = Object.entries(tree as Record<string, unknown>)[0];
  // Operators are user keys: only the tables' own entries, never inherited members.
  if (Object.hasOwn(MULTIPLE, op)) {
    if (!Array.isArray(arg)) throw new InvalidValueQuery(`expected a list for dictionary value @ data['${op}']`, [op]);
    const parts = arg.map((n) => compileValueQuery(n, depth + 1));
    return (v) => MULTIPLE[op](parts.map((p) => p(v)));
  }
  const f = Object.hasOwn(BINARY, op) ? BINARY[op] : undefined;
  if (!f) throw new InvalidValueQuery(`Unknown operator ${op}`);
  if (typeof arg === 'number') return (v) => f(v, arg);
  if (!Array.isArray(arg) || arg.length !== 2) {
    throw new InvalidValueQuery(`Binary operator ${op} needs 2 arguments, ${Array.isArray(arg) ? arg.length : 0} given`);
  }
  const [l, r] = arg.map((n) => compileValueQuery(n, depth + 1));
  return (v) => f(Number(l(v)), Number(r(v)));
}

export interface ValueSearch {
  aggregation: string;
  /** Granularities to search, coarsest first; each metric's own when absent. */
  granularities?: Nanos[];
  start?: Nanos;
  stop?: Nanos;
}

/** One metric's matching points, granularity by granularity (coarsest first). */
export interface MetricMatches {
  metric: Metric;
  points: { granularity: Nanos; ts: BigInt64Array; values: Float64Array }[];
}

/**
 * The points of `metrics` satisfying `predicate`; metrics without an archive policy are
 * skipped. Reads share the loop, stop at the request's deadline and count towards its
 * bound on points (the answer is at most what is read); the filtering yields per series.
 */
export async function searchByValue(
  s: Pick<Services, 'indexer' | 'storage' | 'requestDeadlineMs' | 'maxAnswerPoints'>, metrics: Metric[], predicate: Evaluator, q: ValueSearch,
): Promise<MetricMatches[]> {
  const deadline = requestDeadline(s);
  const out: MetricMatches[] = [];
  const aps = await s.indexer.getArchivePolicies(new Set(metrics.map((m) => m.archivePolicyName)));
  for (const m of metrics) {
    const ap = aps.get(m.archivePolicyName);
    if (!ap) continue;
    const gs = q.granularities ?? ap.definition.map((d) => d.granularity).sort((a, b) => (a > b ? -1 : 1));
    for (const g of gs) {
      if (!ap.aggregationMethods.includes(q.aggregation) || !ap.definition.some((d) => d.granularity === g)) {
        throw new AggregationUnavailable(m.id, g, q.aggregation);
      }
    }
    const points: MetricMatches['points'] = [];
    for (const g of gs) {
      const r = await metricMeasures(s, m, ap, { aggregation: q.aggregation, granularity: g, start: q.start, stop: q.stop }, deadline);
      await deadline.pause();
      const keep: number[] = [];
      for (let i = 0; i < r.ts.length; i++) if (predicate(r.values[i])) keep.push(i);
      points.push({ granularity: g, ts: BigInt64Array.from(keep, (i) => r.ts[i]), values: Float64Array.from(keep, (i) => r.values[i]) });
    }
    out.push({ metric: m, points });
  }
  return out;
}
