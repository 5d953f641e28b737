// Evaluation of an operations tree over aligned series at one granularity. Values are
// columns (one Float64Array per series, all as long as the timestamps), or a scalar.
// Follows Gnocchi's evaluator: every node is evaluated against the initial timestamps
// and granularity, array operands must share timestamps, and the result is "aggregated"
// (one series, answered as "aggregated") once series were combined.

import type { Nanos } from '../time.js';
import type { OpNode, RefKey } from './schema.js';
import { diff, reduceAcross, reduceRolling } from './reduce.js';
import { resampleSeries } from './resample.js';
import { UnknownAggregationMethodError } from '../aggregate.js';
import { CalendarDeriveError, type CalendarUnit } from '../calendar.js';

/** Gnocchi's UnAggregableTimeseries: answered 400 "Metrics can't being aggregated". */
export class UnaggregableError extends Error {
  override name = 'UnaggregableError';
  constructor(
    readonly reason: string,
    readonly detail: unknown[],
  ) {
    super(reason);
  }
}

/** Operations Gnocchi cannot compute either (it fails with a 500); answered 400 here. */
export class OperationsEvalError extends Error {
  override name = 'OperationsEvalError';
}

export type Value = Float64Array[] | number;

export interface Evaluated {
  granularity: Nanos;
  /** Set once a calendar resample grouped the points (the granularity is then its label). */
  calendar?: CalendarUnit;
  ts: BigInt64Array;
  values: Value;
  aggregated: boolean;
}

export interface EvalInput {
  granularity: Nanos;
  ts: BigInt64Array;
  columns: Float64Array[];
  /** Lookup key of each column ([metric id or name, aggregation]). */
  keys: readonly RefKey[];
}

const sameKey = (a: RefKey, b: RefKey): boolean => a[0] === b[0] && a[1] === b[1];

function sameTimestamps(a: BigInt64Array, b: BigInt64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ------------------------------------------------------------ element-wise maths

/** numpy.mod: the result takes the divisor's sign. */
function pyMod(a: number, b: number): number {
  if (b === 0) return NaN;
  let m = a % b;
  if (m !== 0 && b < 0 !== m < 0) m += b;
  else if (m === 0) m = b < 0 ? -0 : 0;
  return m;
}

/** C pow(), which differs from JS ** on a few special cases. */
function cPow(a: number, b: number): number {
  if (a === 1 || b === 0) return 1;
  if (a === -1 && !Number.isFinite(b) && !Number.isNaN(b)) return 1;
  return a ** b;
}

const clipMin = (a: number, lo: number): number => (Number.isNaN(a) || Number.isNaN(lo) ? NaN : a < lo ? lo : a);
const clipMax = (a: number, hi: number): number => (Number.isNaN(a) || Number.isNaN(hi) ? NaN : a > hi ? hi : a);

type Binary = (a: number, b: number) => number;
const eq: Binary = (a, b) => Number(a === b);
const lt: Binary = (a, b) => Number(a < b);
const gt: Binary = (a, b) => Number(a > b);
const le: Binary = (a, b) => Number(a <= b);
const ge: Binary = (a, b) => Number(a >= b);
const ne: Binary = (a, b) => Number(a !== b);
const add: Binary = (a, b) => a + b;
const sub: Binary = (a, b) => a - b;
const mul: Binary = (a, b) => a * b;
const div: Binary = (a, b) => a / b;

// Comparisons give 1.0 / 0.0 (Gnocchi's booleans cannot even be serialised).
const BINARY: Readonly<Record<string, Binary>> = {
  '=': eq, '==': eq, eq, '<': lt, lt, '>': gt, gt, '<=': le, '≤': le, le, '>=': ge, '≥': ge, ge,
  '!=': ne, '≠': ne, ne, '%': pyMod, mod: pyMod, '+': add, add, '-': sub, sub, '*': mul, '×': mul, mul,
  '/': div, '÷': div, div, '**': cPow, '^': cPow, pow: cPow, clip_min: clipMin, clip_max: clipMax,
};

const UNARY: Readonly<Record<string, (a: number) => number>> = {
  abs: Math.abs, absolute: Math.abs, neg: (a) => -a, negative: (a) => -a,
  cos: Math.cos, sin: Math.sin, tan: Math.tan, floor: Math.floor, ceil: Math.ceil,
};

/** numpy broadcasting of (rows x columns) operands and scalars. */
function broadcast(operands: Value[], fn: (args: number[]) => number): Value {
  const arrays = operands.filter((v): v is Float64Array[] => typeof v !== 'number');
  if (arrays.length === 0) return fn(operands as number[]);
  const rows = arrays[0][0]?.length ?? 0;
  const cols = Math.max(...arrays.map((a) => a.length));
  for (const a of arrays) {
    if ((a.length !== cols && a.length !== 1) || (a.length > 0 && a[0].length !== rows)) {
      throw new OperationsEvalError('operands could not be broadcast together');
    }
  }
  const out: Float64Array[] = [];
  const args = new Array<number>(operands.length);
  for (let c = 0; c < cols; c++) {
    const col = new Float64Array(rows);
    const picked = operands.map((v) => (typeof v === 'number' ? v : v[v.length === 1 ? 0 : c]));
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < picked.length; k++) {
        const p = picked[k];
        args[k] = typeof p === 'number' ? p : p[r];
      }
      col[r] = fn(args);
    }
    out.push(col);
  }
  return out;
}

/** Element-wise f(x) over a value (the hot path of unary operations). */
function mapValue(v: Value, f: (a: number) => number): Value {
  if (typeof v === 'number') return f(v);
  return v.map((col) => {
    const out = new Float64Array(col.length);
    for (let i = 0; i < col.length; i++) out[i] = f(col[i]);
    return out;
  });
}

/** Element-wise f(a, b): the common series-with-scalar cases avoid generic broadcasting. */
function mapBinary(a: Value, b: Value, f: Binary): Value {
  if (typeof b === 'number' && typeof a !== 'number') return mapValue(a, (x) => f(x, b));
  if (typeof a === 'number' && typeof b !== 'number') return mapValue(b, (y) => f(a, y));
  return broadcast([a, b], (x) => f(x[0], x[1]));
}

// ------------------------------------------------------------ nodes

function evalMetric(node: Extract<OpNode, { kind: 'metric' }>, input: EvalInput): Evaluated {
  const columns: Float64Array[] = [];
  input.keys.forEach((key, i) => {
    if (node.refs.some((r) => sameKey(r, key))) columns.push(input.columns[i]);
  });
  return { granularity: input.granularity, ts: input.ts, values: columns, aggregated: false };
}

function evalUnary(node: Extract<OpNode, { kind: 'unary' }>, input: EvalInput): Evaluated {
  const r = evaluate(node.arg, input);
  if (node.op === 'rateofchange') {
    if (typeof r.values === 'number') throw new OperationsEvalError('rateofchange needs a series');
    return { ...r, ts: r.ts.slice(1), values: r.values.map(diff) };
  }
  const fn = UNARY[node.op];
  return { ...r, values: mapValue(r.values, fn) };
}

function evalBinary(node: Extract<OpNode, { kind: 'binary' }>, input: EvalInput): Evaluated {
  const a = evaluate(node.left, input);
  const b = evaluate(node.right, input);
  let aggregated = a.aggregated || b.aggregated;
  let { granularity, ts, calendar } = a;
  if (typeof a.values !== 'number' && typeof b.values !== 'number') {
    if (!sameTimestamps(a.ts, b.ts) || a.granularity !== b.granularity || a.calendar !== b.calendar) {
      throw new UnaggregableError(
        `Can't compute timeseries with different granularity ${node.left.text} <> ${node.right.text}`,
        input.keys.map((k) => [...k]),
      );
    }
    aggregated = true;
  } else if (typeof b.values !== 'number') {
    ({ granularity, ts, calendar } = b);
  }
  const fn = BINARY[node.op];
  return { granularity, calendar, ts, values: mapBinary(a.values, b.values, fn), aggregated };
}

function evalClip(node: Extract<OpNode, { kind: 'clip' }>, input: EvalInput): Evaluated {
  const a = evaluate(node.arg, input);
  const lo = evaluate(node.min, input);
  const hi = node.max === null ? null : evaluate(node.max, input);
  const isArr = (e: Evaluated | null): boolean => e !== null && typeof e.values !== 'number';
  let aggregated = a.aggregated || lo.aggregated || (hi?.aggregated ?? lo.aggregated);
  let pick: Evaluated = a;
  if (isArr(a) && isArr(lo) && hi !== null && isArr(hi)) {
    const mismatch = (x: Evaluated, y: Evaluated): boolean =>
      !sameTimestamps(x.ts, y.ts) || x.granularity !== y.granularity || x.calendar !== y.calendar;
    if (mismatch(a, lo) && mismatch(lo, hi)) {
      throw new UnaggregableError(
        `Can't compute timeseries with different granularity ${node.arg.text} <> ${node.min.text} <> ${node.max?.text ?? 'None'}`,
        input.keys.map((k) => [...k]),
      );
    }
    aggregated = true;
  } else if (isArr(lo)) pick = lo;
  else if (hi !== null && isArr(hi)) pick = hi;
  const operands = [a.values, lo.values, ...(hi === null ? [] : [hi.values])];
  const values = broadcast(operands, (x) => clipMax(clipMin(x[0], x[1]), x.length > 2 ? x[2] : Infinity));
  return { granularity: pick.granularity, calendar: pick.calendar, ts: pick.ts, values, aggregated };
}

function columnsOf(e: Evaluated, what: string): Float64Array[] {
  if (typeof e.values === 'number') throw new OperationsEvalError(`${what} needs a series`);
  return e.values;
}

function evalAggregate(node: Extract<OpNode, { kind: 'aggregate' }>, input: EvalInput): Evaluated {
  const r = evaluate(node.arg, input);
  const values = reduceAcross(columnsOf(r, 'aggregate'), r.ts.length, node.method);
  const ts = node.method.startsWith('rate:') ? r.ts.slice(1) : r.ts;
  return { granularity: r.granularity, calendar: r.calendar, ts, values: [values], aggregated: true };
}

function evalRolling(node: Extract<OpNode, { kind: 'rolling' }>, input: EvalInput): Evaluated {
  const r = evaluate(node.arg, input);
  const columns = columnsOf(r, 'rolling');
  if (node.window > r.ts.length) {
    throw new UnaggregableError(
      `Rolling window '${node.window}' is greater than serie length '${r.ts.length}'`,
      input.keys.map((k) => [...k]),
    );
  }
  let ts = r.ts.slice(node.window - 1);
  if (node.method.startsWith('rate:')) ts = ts.slice(1);
  return { ...r, ts, values: columns.map((c) => reduceRolling(c, node.window, node.method)) };
}

function evalResample(node: Extract<OpNode, { kind: 'resample' }>, input: EvalInput): Evaluated {
  const r = evaluate(node.arg, input);
  const columns = columnsOf(r, 'resample');
  let ts = r.ts;
  const values: Float64Array[] = [];
  try {
    for (const c of columns) {
      const s = resampleSeries({ ts: r.ts, values: c }, node.calendar ?? node.sampling, node.method);
      ts = s.ts;
      values.push(s.values);
    }
  } catch (e) {
    if (e instanceof UnknownAggregationMethodError || e instanceof CalendarDeriveError) throw new OperationsEvalError(e.message);
    throw e;
  }
  if (node.calendar !== undefined) return { granularity: r.granularity, calendar: node.calendar.unit, ts, values, aggregated: r.aggregated };
  return { granularity: node.sampling, ts, values, aggregated: r.aggregated };
}

/** Evaluates `node` against the aligned input of one granularity. */
export function evaluate(node: OpNode, input: EvalInput): Evaluated {
  switch (node.kind) {
    case 'number':
      return { granularity: input.granularity, ts: input.ts, values: node.value, aggregated: false };
    case 'metric':
      return evalMetric(node, input);
    case 'unary':
      return evalUnary(node, input);
    case 'binary':
      return evalBinary(node, input);
    case 'clip':
      return evalClip(node, input);
    case 'aggregate':
      return evalAggregate(node, input);
    case 'rolling':
      return evalRolling(node, input);
    case 'resample':
      return evalResample(node, input);
  }
}
