// Compiles Gnocchi's JSON search language into SQL (Kysely raw expressions, one code
// path for both dialects), with Gnocchi's operators, aliases, value conversions and errors.
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { parsePyFloat, parseTimespan, parseTimestamp } from '@tally/timeseries';
import { pyStr } from './attribute-values.js';
import { QueryAttributeError, QueryError, QueryInvalidOperator, QueryPatternTooLong, QueryTooDeep, QueryValueError } from './errors.js';
import { parseUuid } from './resource-id.js';
import type { DialectName } from './types.js';

/** How a column's values are converted and compared. */
export type ColumnKind = 'string' | 'uuid' | 'number' | 'bool' | 'datetime' | 'integer' | 'timespan';

export interface QueryColumn {
  expr: RawBuilder<unknown>;
  kind: ColumnKind;
}

export interface QueryContext {
  dialect: DialectName;
  /** Named in QueryAttributeError ("Resource type <label> has no x attribute"). */
  label: string;
  columns: ReadonlyMap<string, QueryColumn>;
  /** Enables created_by_user_id / created_by_project_id (matched against creator). */
  creator?: RawBuilder<unknown>;
}

/** Deeper trees are refused before they can exhaust the stack or the SQL parser. */
export const MAX_QUERY_DEPTH = 32;

/**
 * The longest `like` pattern (in characters) a filter may use. Both engines match LIKE
 * (and SQLite GLOB) without exponential backtracking, but in time growing with pattern
 * length x value length for every row, and SQLite does it on the event loop; values are
 * at most 255 characters (a creator "user:project" twice that), so a pattern that can
 * match one, escapes and wildcards included, fits well within this.
 */
export const MAX_LIKE_PATTERN_LENGTH = 1024;

type Binary = 'eq' | 'lt' | 'gt' | 'le' | 'ge' | 'ne' | 'in' | 'like';

const BINARY: Readonly<Record<string, Binary>> = {
  '=': 'eq', '==': 'eq', eq: 'eq',
  '<': 'lt', lt: 'lt',
  '>': 'gt', gt: 'gt',
  '<=': 'le', '≤': 'le', le: 'le',
  '>=': 'ge', '≥': 'ge', ge: 'ge',
  '!=': 'ne', '≠': 'ne', ne: 'ne',
  in: 'in',
  like: 'like',
};

const MULTIPLE: Readonly<Record<string, 'and' | 'or'>> = { and: 'and', '∧': 'and', or: 'or', '∨': 'or' };

const SQL_OP: Readonly<Record<Exclude<Binary, 'in' | 'like' | 'ne'>, string>> = {
  eq: '=', lt: '<', gt: '>', le: '<=', ge: '>=',
};

const TRUE = sql<SqlBool>`1 = 1`;
const FALSE = sql<SqlBool>`1 = 0`;

function firstEntry(node: unknown): [string, unknown] {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new QueryError();
  const entries = Object.entries(node);
  // Gnocchi looks at the first key only; the REST schema allows exactly one.
  if (entries.length === 0) throw new QueryError();
  return entries[0];
}

export function compileFilter(tree: unknown, ctx: QueryContext): RawBuilder<SqlBool> {
  return compileNode(tree, ctx, 1);
}

function compileNode(tree: unknown, ctx: QueryContext, depth: number): RawBuilder<SqlBool> {
  if (depth > MAX_QUERY_DEPTH) throw new QueryTooDeep(MAX_QUERY_DEPTH);
  const [op, nodes] = firstEntry(tree);
  // Operators are user keys: only the tables' own entries count, never inherited members.
  const multiple = Object.hasOwn(MULTIPLE, op) ? MULTIPLE[op] : undefined;
  if (multiple !== undefined) {
    if (!Array.isArray(nodes)) throw new QueryError();
    const parts = nodes.map((n) => compileNode(n, ctx, depth + 1));
    if (parts.length === 0) return multiple === 'and' ? TRUE : FALSE;
    return sql<SqlBool>`(${sql.join(parts, sql.raw(multiple === 'and' ? ' and ' : ' or '))})`;
  }
  const binary = Object.hasOwn(BINARY, op) ? BINARY[op] : undefined;
  if (binary !== undefined) return compileBinary(binary, nodes, ctx);
  if (op === 'not') return sql<SqlBool>`not (${compileNode(nodes, ctx, depth + 1)})`;
  throw new QueryInvalidOperator(op);
}

function compileBinary(op: Binary, nodes: unknown, ctx: QueryContext): RawBuilder<SqlBool> {
  const [field, value] = firstEntry(nodes);
  if ((field === 'created_by_user_id' || field === 'created_by_project_id') && ctx.creator !== undefined) {
    return compileCreatedBy(op, field, value, ctx);
  }
  const column = ctx.columns.get(field);
  if (column === undefined) {
    throw new QueryAttributeError(ctx.label, field);
  }
  if (value === null) return compileNull(op, column);
  if (op === 'in') {
    if (!Array.isArray(value)) throw new QueryValueError(pyStr(value), field);
    const values = value.map((v) => (v === null ? null : convert(column.kind, v, field, ctx)));
    return values.length === 0 ? FALSE : sql<SqlBool>`${column.expr} in (${sql.join(values.map((v) => sql.val(v)))})`;
  }
  const v = convert(column.kind, value, field, ctx);
  if (op === 'like') return likeExpr(ctx.dialect, column.expr, String(v), field);
  // SQL's != drops NULLs; Gnocchi adds them back (x IS NULL OR x != v).
  if (op === 'ne') return sql<SqlBool>`(${column.expr} is null or ${column.expr} <> ${v})`;
  return sql<SqlBool>`${column.expr} ${sql.raw(SQL_OP[op])} ${v}`;
}

/** SQLAlchemy's translation of comparisons with None. */
function compileNull(op: Binary, column: QueryColumn): RawBuilder<SqlBool> {
  if (op === 'eq') return sql<SqlBool>`${column.expr} is null`;
  if (op === 'ne') return sql<SqlBool>`${column.expr} is not null`;
  if (op === 'in') throw new QueryError();
  // x < NULL and friends are never true.
  return FALSE;
}

/**
 * created_by_* are not columns: like Gnocchi they match the creator "user:project"
 * with LIKE patterns (so "%" and "_" in the value act as wildcards there too).
 */
function compileCreatedBy(op: Binary, field: string, value: unknown, ctx: QueryContext): RawBuilder<SqlBool> {
  const creator = ctx.creator as RawBuilder<unknown>;
  const pattern = field === 'created_by_user_id' ? `${pyStr(value)}:%` : `%:${pyStr(value)}`;
  if (op === 'eq' || op === 'like') return likeExpr(ctx.dialect, creator, pattern, field);
  if (op === 'ne') return sql<SqlBool>`not (${likeExpr(ctx.dialect, creator, pattern, field)})`;
  throw new QueryValueError(pyStr(value), field);
}

/**
 * PostgreSQL's LIKE: case-sensitive, backslash escapes. SQLite's LIKE is
 * case-insensitive, so there the pattern is translated to the equivalent GLOB. Either
 * way the pattern is bounded (MAX_LIKE_PATTERN_LENGTH, QueryPatternTooLong names `field`)
 * and its runs of wildcards are reduced first (simplifyLike).
 */
export function likeExpr(dialect: DialectName, expr: RawBuilder<unknown>, pattern: string, field: string): RawBuilder<SqlBool> {
  if ([...pattern].length > MAX_LIKE_PATTERN_LENGTH) throw new QueryPatternTooLong(field, MAX_LIKE_PATTERN_LENGTH);
  const simple = simplifyLike(pattern);
  if (dialect === 'postgres') return sql<SqlBool>`${expr}::text like ${simple}`;
  return sql<SqlBool>`${expr} glob ${likeToGlob(simple)}`;
}

/**
 * The same LIKE pattern with each run of unescaped `%` and `_` that holds a `%` written
 * as its `_`s then one `%` (`%%_%_` is `__%`): the same strings match, and the engines
 * then try each position once per run instead of once per wildcard. A trailing lone `\`
 * becomes an escaped one.
 */
export function simplifyLike(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      // A trailing lone backslash escapes nothing: it stands for itself (PostgreSQL would
      // refuse the pattern, and the client would get a 500 for a text it may search for).
      out += i + 1 < pattern.length ? c + pattern[++i] : '\\\\';
    } else if (c === '%' || c === '_') {
      let any = 0;
      let star = false;
      for (; i < pattern.length && (pattern[i] === '%' || pattern[i] === '_'); i++) {
        if (pattern[i] === '%') star = true;
        else any++;
      }
      i--;
      out += '_'.repeat(any) + (star ? '%' : '');
    } else {
      out += c;
    }
  }
  return out;
}

export function likeToGlob(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      out += globLiteral(pattern[++i]);
    } else if (c === '%') {
      // Runs of stars are one star.
      if (!out.endsWith('*')) out += '*';
    } else if (c === '_') {
      out += '?';
    } else {
      out += globLiteral(c);
    }
  }
  return out;
}

function globLiteral(c: string): string {
  return c === '*' || c === '?' || c === '[' ? `[${c}]` : c;
}

/** Python's int() of a str: optional sign and whitespace, digits with single underscores. */
function pyInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+(_\d+)*\s*$/.test(v)) return Number(v.replace(/_/g, ''));
  throw new Error('invalid int');
}

/** Python's float() of a filter value. */
function pyFloat(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  const n = typeof v === 'string' ? parsePyFloat(v) : null;
  if (n === null) throw new Error('invalid float');
  return n;
}

/** PostgreSQL's boolean input syntax (what Gnocchi's unconverted value meets there). */
function pgBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s.length > 0 && ('true'.startsWith(s) || 'yes'.startsWith(s) || s === 'on' || s === '1')) return true;
    if (s.length > 0 && ('false'.startsWith(s) || 'no'.startsWith(s) || s === 'off' || s === 'of' || s === '0')) return false;
  }
  throw new Error('invalid bool');
}

function pyText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return pyStr(v);
  throw new Error('not a scalar');
}

/** Converts a filter value to the column's type (Gnocchi's converters); QueryValueError otherwise. */
function convert(kind: ColumnKind, v: unknown, field: string, ctx: QueryContext): string | number | bigint {
  try {
    switch (kind) {
      case 'string': return pyText(v);
      case 'integer': return pyInt(v);
      case 'number': return pyFloat(v);
      case 'bool': {
        const b = pgBool(v);
        return ctx.dialect === 'sqlite' ? (b ? 1 : 0) : (b ? 'true' : 'false');
      }
      case 'uuid': {
        const u = typeof v === 'string' ? parseUuid(v) : null;
        if (u === null) throw new Error('invalid uuid');
        return u;
      }
      case 'datetime':
        if (typeof v !== 'string' && typeof v !== 'number') throw new Error('invalid timestamp');
        return parseTimestamp(v);
      case 'timespan':
        if (typeof v !== 'string' && typeof v !== 'number') throw new Error('invalid timespan');
        return parseTimespan(v);
    }
  } catch {
    throw new QueryValueError(pyStr(v), field);
  }
}
