// Validation of an operations tree (JSON list form, or the string form once parsed) into a
// typed AST. Gnocchi validates with voluptuous: a list of alternative schemas, the error
// kept being the one with the longest path (the first of those on ties). Clients see those
// messages ("'rolling' operation invalid", "None @ data[0]"), so the same choice is made here.

import { parseTimespan, type Nanos } from '../time.js';
import { parsePyFloat, pyFloatRepr } from '../pyfloat.js';
import { parseOperationsString } from './parse.js';
import type { CalendarSampling } from '../calendar.js';

/** A reference to a series: [metric id or name (or wildcard), aggregation method]. */
export type RefKey = readonly [string, string];

interface NodeBase {
  /** Python repr() of the validated node, used in Gnocchi's error messages. */
  readonly text: string;
}

export type OpNode =
  | (NodeBase & { kind: 'number'; value: number })
  | (NodeBase & { kind: 'metric'; refs: RefKey[]; list: boolean })
  | (NodeBase & { kind: 'unary'; op: string; arg: OpNode })
  | (NodeBase & { kind: 'binary'; op: string; left: OpNode; right: OpNode })
  | (NodeBase & { kind: 'clip'; arg: OpNode; min: OpNode; max: OpNode | null })
  | (NodeBase & { kind: 'aggregate'; method: string; arg: OpNode })
  // `calendar` (set only by the older /v1/aggregation API, as Gnocchi's operations
  // language has no calendar sampling) replaces `sampling` with calendar buckets.
  | (NodeBase & { kind: 'resample'; method: string; sampling: Nanos; calendar?: CalendarSampling; arg: OpNode })
  | (NodeBase & { kind: 'rolling'; method: string; window: number; arg: OpNode });

/** voluptuous.Invalid: `msg` may be null (printed "None"), `path` indexes into the tree. */
export class OperationsInvalid extends Error {
  override name = 'OperationsInvalid';
  constructor(
    readonly msg: string | null,
    readonly path: readonly number[] = [],
  ) {
    super(msg ?? 'None');
  }
}

// ------------------------------------------------------------ operator tables

export const BINARY_OPERATORS: readonly string[] = [
  '=', '==', 'eq', '<', 'lt', '>', 'gt', '<=', '≤', 'le', '>=', '≥', 'ge', '!=', '≠', 'ne',
  '%', 'mod', '+', 'add', '-', 'sub', '*', '×', 'mul', '/', '÷', 'div', '**', '^', 'pow',
  'clip_min', 'clip_max',
];
export const UNARY_OPERATORS: readonly string[] = [
  'abs', 'absolute', 'neg', 'negative', 'cos', 'sin', 'tan', 'floor', 'ceil', 'rateofchange',
];
const BASE_AGGREGATES = ['mean', 'median', 'std', 'min', 'max', 'sum', 'var', 'count'];
/** Methods of aggregate / rolling / resample (numpy's nan-functions, and their rates). */
export const AGGREGATE_METHODS: readonly string[] = [...BASE_AGGREGATES, ...BASE_AGGREGATES.map((m) => `rate:${m}`)];

const BINARY_SET = new Set(BINARY_OPERATORS);
const UNARY_SET = new Set(UNARY_OPERATORS);
const AGGREGATE_SET = new Set(AGGREGATE_METHODS);

// ------------------------------------------------------------ Python-isms

function pyInt(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?\d(?:_?\d)*$/.test(t)) return null;
  return Number(t.replaceAll('_', ''));
}

function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

/** Python str() of a JSON value (what "%s" prints). */
export function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Python repr() of a JSON value. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === 'string') return quoteRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${quoteRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

function quoteRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replaceAll('\\', '\\\\').replaceAll(q, '\\' + q).replaceAll('\n', '\\n') + q;
}

// ------------------------------------------------------------ validators

type Result = OpNode | OperationsInvalid;

/** voluptuous.Any: first success, else the error with the longest path (first on ties). */
function anyOf(v: unknown, alternatives: ((v: unknown) => Result)[]): Result {
  let error: OperationsInvalid | null = null;
  for (const alt of alternatives) {
    const r = alt(v);
    if (!(r instanceof OperationsInvalid)) return r;
    if (error === null || r.path.length > error.path.length) error = r;
  }
  return error ?? new OperationsInvalid('no valid value found');
}

const isStr = (x: unknown): x is string => typeof x === 'string';

/** The arguments of "metric": one [id, agg] pair inline, or a list of pairs. */
function metricArgs(args: unknown[]): { refs: RefKey[]; list: boolean } | OperationsInvalid {
  if (args.length === 2 && isStr(args[0]) && isStr(args[1])) return { refs: [[args[0], args[1]]], list: false };
  const refs: RefKey[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!Array.isArray(a) || a.length !== 2) return new OperationsInvalid(null, [i]);
    if (!isStr(a[0]) || !isStr(a[1])) return new OperationsInvalid('expected str', [i]);
    refs.push([a[0], a[1]]);
  }
  return { refs, list: true };
}

function metricNode(v: unknown): Result {
  if (!Array.isArray(v)) return new OperationsInvalid(`Expected a tuple/list, got a <class '${pyTypeName(v)}'>`);
  if (v.length === 0) return new OperationsInvalid('Operation must not be empty');
  if (v.length < 2) return new OperationsInvalid('Operation need at least one argument');
  if (v[0] !== 'metric') return new OperationsInvalid(`'${pyStr(v[0])}' operation invalid`);
  const args = metricArgs(v.slice(1));
  if (args instanceof OperationsInvalid) return args;
  const text = args.list
    ? pyRepr(['metric', ...args.refs.map((r) => [...r])])
    : pyRepr(['metric', ...args.refs[0]]);
  return { kind: 'metric', refs: args.refs, list: args.list, text };
}

/** ExactSequence: a list of exactly n items, whose items are checked in order. */
function sequence(v: unknown, n: number, name: (x: unknown) => boolean): unknown[] | OperationsInvalid {
  if (!Array.isArray(v) || v.length !== n) return new OperationsInvalid(null);
  if (!name(v[0])) return new OperationsInvalid('not a valid value');
  return v;
}

function subNodes(items: unknown[]): OpNode[] | OperationsInvalid {
  const out: OpNode[] = [];
  for (const item of items) {
    const r = subNode(item);
    if (r instanceof OperationsInvalid) return r;
    out.push(r);
  }
  return out;
}

const joinText = (head: unknown[], rest: OpNode[]): string =>
  `[${[...head.map(pyRepr), ...rest.map((n) => n.text)].join(', ')}]`;

function clipNode(v: unknown, n: 3 | 4): Result {
  const seq = sequence(v, n, (x) => x === 'clip');
  if (seq instanceof OperationsInvalid) return seq;
  const args = subNodes(seq.slice(1));
  if (args instanceof OperationsInvalid) return args;
  return { kind: 'clip', arg: args[0], min: args[1], max: args[2] ?? null, text: joinText(['clip'], args) };
}

function binaryNode(v: unknown): Result {
  const seq = sequence(v, 3, (x) => isStr(x) && BINARY_SET.has(x));
  if (seq instanceof OperationsInvalid) return seq;
  const args = subNodes(seq.slice(1));
  if (args instanceof OperationsInvalid) return args;
  return { kind: 'binary', op: seq[0] as string, left: args[0], right: args[1], text: joinText([seq[0]], args) };
}

function unaryNode(v: unknown): Result {
  const seq = sequence(v, 2, (x) => isStr(x) && UNARY_SET.has(x));
  if (seq instanceof OperationsInvalid) return seq;
  const arg = subNode(seq[1]);
  if (arg instanceof OperationsInvalid) return arg;
  return { kind: 'unary', op: seq[0] as string, arg, text: joinText([seq[0]], [arg]) };
}

function aggregateNode(v: unknown): Result {
  const seq = sequence(v, 3, (x) => x === 'aggregate');
  if (seq instanceof OperationsInvalid) return seq;
  if (!isStr(seq[1]) || !AGGREGATE_SET.has(seq[1])) return new OperationsInvalid('not a valid value');
  const arg = subNode(seq[2]);
  if (arg instanceof OperationsInvalid) return arg;
  return { kind: 'aggregate', method: seq[1], arg, text: joinText(seq.slice(0, 2), [arg]) };
}

function toSampling(x: unknown): Nanos | null {
  if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') return null;
  try {
    return parseTimespan(typeof x === 'boolean' ? Number(x) : x);
  } catch {
    return null;
  }
}

function resampleNode(v: unknown): Result {
  const seq = sequence(v, 4, (x) => x === 'resample');
  if (seq instanceof OperationsInvalid) return seq;
  if (!isStr(seq[1]) || !AGGREGATE_SET.has(seq[1])) return new OperationsInvalid('not a valid value');
  const sampling = toSampling(seq[2]);
  if (sampling === null) return new OperationsInvalid('not a valid value');
  const arg = subNode(seq[3]);
  if (arg instanceof OperationsInvalid) return arg;
  const head = `['resample', ${pyRepr(seq[1])}, numpy.timedelta64(${sampling},'ns')`;
  return { kind: 'resample', method: seq[1], sampling, arg, text: `${head}, ${arg.text}]` };
}

/** voluptuous Coerce(int) then Range(min=1). */
function toWindow(x: unknown): number | null {
  let n: number | null = null;
  if (typeof x === 'number') n = Number.isFinite(x) ? Math.trunc(x) : null;
  else if (typeof x === 'boolean') n = Number(x);
  else if (typeof x === 'string') n = pyInt(x);
  return n !== null && n >= 1 ? n : null;
}

function rollingNode(v: unknown): Result {
  const seq = sequence(v, 4, (x) => x === 'rolling');
  if (seq instanceof OperationsInvalid) return seq;
  if (!isStr(seq[1]) || !AGGREGATE_SET.has(seq[1])) return new OperationsInvalid('not a valid value');
  const window = toWindow(seq[2]);
  if (window === null) return new OperationsInvalid('not a valid value');
  const arg = subNode(seq[3]);
  if (arg instanceof OperationsInvalid) return arg;
  return { kind: 'rolling', method: seq[1], window, arg, text: `['rolling', ${pyRepr(seq[1])}, ${window}, ${arg.text}]` };
}

/** voluptuous Coerce(float): numbers, booleans and numeric strings. */
function numberNode(v: unknown): Result {
  let n: number | null = null;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'boolean') n = Number(v);
  else if (typeof v === 'string') n = parsePyFloat(v);
  if (n === null) return new OperationsInvalid('expected float');
  return { kind: 'number', value: n, text: pyFloatRepr(n) };
}

const OPERATION_SCHEMAS: ((v: unknown) => Result)[] = [
  metricNode,
  (v) => clipNode(v, 4),
  binaryNode,
  (v) => clipNode(v, 3),
  unaryNode,
  aggregateNode,
  resampleNode,
  rollingNode,
];

function subNode(v: unknown): Result {
  return anyOf(v, [...OPERATION_SCHEMAS, numberNode]);
}

/**
 * Validates operations given as a JSON tree or as the string form. Throws
 * OperationsParseError (string form unreadable) or OperationsInvalid.
 */
export function parseOperations(input: unknown): OpNode {
  const tree = typeof input === 'string' ? parseOperationsString(input) : input;
  const r = anyOf(tree, OPERATION_SCHEMAS);
  if (r instanceof OperationsInvalid) throw r;
  return r;
}

/** The distinct series references of a tree, in order of appearance. */
export function extractReferences(node: OpNode): RefKey[] {
  const out: RefKey[] = [];
  const seen = new Set<string>();
  const visit = (n: OpNode): void => {
    if (n.kind === 'metric') {
      for (const r of n.refs) {
        const k = JSON.stringify(r);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(r);
        }
      }
      return;
    }
    for (const child of childrenOf(n)) visit(child);
  };
  visit(node);
  return out;
}

export function childrenOf(n: OpNode): OpNode[] {
  switch (n.kind) {
    case 'number':
    case 'metric':
      return [];
    case 'binary':
      return [n.left, n.right];
    case 'clip':
      return n.max === null ? [n.arg, n.min] : [n.arg, n.min, n.max];
    default:
      return [n.arg];
  }
}
