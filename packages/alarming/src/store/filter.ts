// Filters and orderings over the alarm store's tables: the trees of Aodh's complex query
// (`/v2/query/alarms`, `/v2/query/alarms/history`) and the equalities of its simple one,
// compiled to SQL with every value bound as a parameter and every field checked against the
// table's columns.
import { sql, type RawBuilder } from 'kysely';
import { UnknownFieldError } from './errors.js';

export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type FilterValue = string | number | boolean | null;

export type FilterExpr =
  | { and: FilterExpr[] }
  | { or: FilterExpr[] }
  | { not: FilterExpr }
  | { op: ComparisonOp; field: string; value: FilterValue }
  | { op: 'in'; field: string; values: FilterValue[] };

export interface OrderBy {
  field: string;
  dir: 'asc' | 'desc';
}

/** How a table's columns hold values: booleans as 0/1, everything else as text. */
export interface ColumnKinds {
  readonly text: ReadonlySet<string>;
  readonly boolean: ReadonlySet<string>;
}

const NEVER = sql<boolean>`1 = 0`;

/** Python's str() of a JSON scalar, as a text column compares it. */
function asText(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

/** A boolean column's 0/1, or null when the value cannot equal any boolean. */
function asFlag(v: string | number | boolean): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  return null;
}

function column(kinds: ColumnKinds, field: string): 'text' | 'boolean' {
  if (kinds.boolean.has(field)) return 'boolean';
  if (kinds.text.has(field)) return 'text';
  throw new UnknownFieldError(field);
}

function comparison(kinds: ColumnKinds, field: string, op: ComparisonOp, value: FilterValue): RawBuilder<boolean> {
  const kind = column(kinds, field);
  const ref = sql.ref(field);
  if (value === null) {
    // As SQLAlchemy writes a comparison with None.
    if (op === '=') return sql<boolean>`${ref} is null`;
    if (op === '!=') return sql<boolean>`${ref} is not null`;
    return NEVER;
  }
  const bound = kind === 'boolean' ? asFlag(value) : asText(value);
  if (bound === null) return op === '!=' ? sql<boolean>`${ref} is not null` : NEVER;
  return sql<boolean>`${ref} ${sql.raw(op === '!=' ? '<>' : op)} ${bound}`;
}

/** The SQL condition of `expr`; UnknownFieldError for a field the table does not have. */
export function compileFilter(expr: FilterExpr, kinds: ColumnKinds): RawBuilder<boolean> {
  if ('and' in expr) return expr.and.length === 0 ? sql<boolean>`1 = 1` : sql<boolean>`(${sql.join(expr.and.map((e) => compileFilter(e, kinds)), sql` and `)})`;
  if ('or' in expr) return expr.or.length === 0 ? NEVER : sql<boolean>`(${sql.join(expr.or.map((e) => compileFilter(e, kinds)), sql` or `)})`;
  if ('not' in expr) return sql<boolean>`not (${compileFilter(expr.not, kinds)})`;
  if (expr.op === 'in') {
    if (expr.values.length === 0) return NEVER;
    return sql<boolean>`(${sql.join(expr.values.map((v) => comparison(kinds, expr.field, '=', v)), sql` or `)})`;
  }
  return comparison(kinds, expr.field, expr.op, expr.value);
}

/** Every field named in `expr` (to check them before compiling). */
export function filterFields(expr: FilterExpr): string[] {
  if ('and' in expr) return expr.and.flatMap(filterFields);
  if ('or' in expr) return expr.or.flatMap(filterFields);
  if ('not' in expr) return filterFields(expr.not);
  return [expr.field];
}

/**
 * `order by` terms; severity sorts by its meaning (low < moderate < critical), not its
 * spelling. A missing value sorts as the smallest on both dialects (SQLite's way), which
 * the store's page markers rely on.
 */
export function compileOrderBy(order: readonly OrderBy[], kinds: ColumnKinds): RawBuilder<unknown>[] {
  return order.map(({ field, dir }) => {
    column(kinds, field);
    const d = sql.raw(dir === 'desc' ? 'desc nulls last' : 'asc nulls first');
    if (field === 'severity') {
      return sql`case ${sql.ref(field)} when 'low' then 0 when 'moderate' then 1 when 'critical' then 2 else 3 end ${d}`;
    }
    return sql`${sql.ref(field)} ${d}`;
  });
}
