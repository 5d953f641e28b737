// Metric listing: equality filters, Gnocchi's JSON filter, sorts and marker pagination
// as oslo.db's paginate_query does them.
import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
import type { Ctx } from './context.js';
import { InvalidPagination, QueryAttributeError } from './errors.js';
import { rowToMetric, type MetricColumn, type MetricRow } from './metrics.js';
import { compileFilter, type ColumnKind, type QueryColumn } from './query.js';
import type { Database } from './schema.js';
import type { FilterValue, ListMetricsOptions, Metric, MetricFilter, MetricStatus, ResourceFilter } from './types.js';

/** Gnocchi's metric model columns: the only valid sort keys (derived columns are not). */
const SORT_COLUMNS: ReadonlySet<string> = new Set<MetricColumn>(
  ['id', 'archive_policy_name', 'creator', 'resource_id', 'name', 'unit', 'status'],
);

const FILTER_COLUMNS: Readonly<Record<keyof MetricFilter, MetricColumn>> = {
  id: 'id',
  name: 'name',
  unit: 'unit',
  archivePolicyName: 'archive_policy_name',
  creator: 'creator',
  createdByUserId: 'created_by_user_id',
  createdByProjectId: 'created_by_project_id',
  resourceId: 'resource_id',
  status: 'status',
};

/** Columns of Gnocchi's metric model usable in JSON filters (created_by_* match creator). */
const METRIC_FILTER_COLUMNS: ReadonlyArray<readonly [MetricColumn, ColumnKind]> = [
  ['id', 'uuid'], ['archive_policy_name', 'string'], ['creator', 'string'], ['resource_id', 'uuid'],
  ['name', 'string'], ['unit', 'string'], ['status', 'string'],
];

/** Columns holding UUIDs, compared in canonical lowercase form. */
const UUID_COLUMNS: ReadonlySet<MetricColumn> = new Set<MetricColumn>(['id', 'resource_id']);

const SORT_DIR_ERROR =
  'Unknown sort direction, must be one of: asc-nullsfirst, asc-nullslast, desc-nullsfirst, desc-nullslast';

interface ParsedSort {
  column: MetricColumn;
  dir: 'asc' | 'desc';
  nulls: '' | 'nullsfirst' | 'nullslast';
  /** The direction string as given, for the marker criteria. */
  raw: string;
}

function parseSorts(sorts: ListMetricsOptions['sort']): ParsedSort[] {
  const parsed: { key: string; raw: string }[] = (sorts ?? []).map((s) => ({
    key: s.key.trim(),
    raw: s.dir === undefined || s.dir === '' ? 'asc' : s.dir,
  }));
  // paginate_query needs a unique key last to make the order total.
  if (!parsed.some((s) => s.key === 'id')) parsed.push({ key: 'id', raw: 'asc' });
  // Validated in order, key before direction, like oslo.db: the first bad one is reported.
  return parsed.map(({ key, raw }) => {
    if (!SORT_COLUMNS.has(key)) throw new InvalidPagination(`Sort key supplied is invalid: ${key}`);
    const dash = raw.indexOf('-');
    const main = dash < 0 ? raw : raw.slice(0, dash);
    const nulls = dash < 0 ? '' : raw.slice(dash + 1);
    if ((main !== 'asc' && main !== 'desc') || (nulls !== '' && nulls !== 'nullsfirst' && nulls !== 'nullslast')) {
      throw new InvalidPagination(SORT_DIR_ERROR);
    }
    return { column: key as MetricColumn, dir: main, nulls, raw };
  });
}

function filterValue(column: MetricColumn, v: string): string {
  return UUID_COLUMNS.has(column) ? v.toLowerCase() : v;
}

export async function listMetrics(ctx: Ctx, options: ListMetricsOptions = {}): Promise<Metric[]> {
  const status: MetricStatus = options.status ?? 'active';
  const filters = options.filters ?? {};
  const conditions: { column: MetricColumn; value: FilterValue }[] = [];
  for (const [key, value] of Object.entries(filters) as [string, FilterValue | undefined][]) {
    if (value === undefined) continue;
    if (!Object.hasOwn(FILTER_COLUMNS, key)) throw new QueryAttributeError('metric', key);
    conditions.push({ column: FILTER_COLUMNS[key as keyof MetricFilter], value });
  }

  // Same order of checks as Gnocchi: the marker is resolved before sort keys are
  // validated, and only among active metrics whatever the filters.
  let marker: MetricRow | undefined;
  if (options.marker !== undefined) {
    marker = await ctx.db.selectFrom('metric').selectAll()
      .where('id', '=', options.marker.toLowerCase()).where('status', '=', 'active').executeTakeFirst();
    if (marker === undefined) throw new InvalidPagination(`Invalid marker: \`${options.marker}'`);
  }
  const sorts = parseSorts(options.sort);
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
    throw new InvalidPagination(`Invalid limit: ${options.limit}`);
  }

  let q = ctx.db.selectFrom('metric').selectAll().where('status', '=', status);
  for (const { column, value } of conditions) {
    const ref = sql.ref<string | null>(column);
    if (value === null) {
      q = q.where(ref, 'is', null);
    } else if (typeof value === 'string') {
      q = q.where(ref, '=', filterValue(column, value));
    } else if (value.length === 0) {
      q = q.where(sql<boolean>`1 = 0`);
    } else {
      q = q.where(ref, 'in', value.map((v) => filterValue(column, v)));
    }
  }

  if (options.filter != null) q = q.where(metricFilterSql(ctx, options.filter));

  if (marker !== undefined) {
    const m = marker;
    q = q.where((eb) => markerCriteria(eb, sorts, m));
  }

  for (const s of sorts) {
    const ref = sql.ref<string | null>(s.column);
    // oslo.db's explicit null placement: sort on the IS [NOT] NULL flag first.
    if (s.nulls === 'nullsfirst') q = q.orderBy(sql<boolean>`${ref} is null`, 'desc');
    else if (s.nulls === 'nullslast') q = q.orderBy(sql<boolean>`${ref} is not null`, 'desc');
    // Otherwise Gnocchi gets PostgreSQL's default (NULL sorts as the largest value);
    // spelled out so SQLite, which sorts NULL smallest, orders the same way.
    q = q.orderBy(ref, (ob) => (s.dir === 'asc' ? ob.asc().nullsLast() : ob.desc().nullsFirst()));
  }
  if (options.limit !== undefined) q = q.limit(options.limit);
  return (await q.execute()).map(rowToMetric);
}

/** Gnocchi's JSON filter over metric columns (list_metrics' attribute_filter). */
function metricFilterSql(ctx: Ctx, filter: ResourceFilter): Expression<SqlBool> {
  const columns = new Map<string, QueryColumn>();
  for (const [name, kind] of METRIC_FILTER_COLUMNS) columns.set(name, { expr: sql.ref(name), kind });
  return compileFilter(filter, {
    dialect: ctx.dialect, label: 'metric', columns, creator: sql.ref('creator'),
  });
}

/**
 * Rows strictly after the marker in the sort order, built exactly as oslo.db's
 * paginate_query does (Gnocchi's pagination), including its handling of NULLs: a sort key
 * whose marker value is NULL contributes no criterion and is skipped in the equality
 * prefixes of later keys. That is not a perfect "after" for NULL-heavy orderings, but it
 * is what clients of Gnocchi observe, so it is reproduced rather than fixed.
 */
function markerCriteria(
  eb: ExpressionBuilder<Database, 'metric'>,
  sorts: readonly ParsedSort[],
  marker: MetricRow,
): Expression<SqlBool> {
  const values = sorts.map((s) => marker[s.column] as string | null);
  const alternatives: Expression<SqlBool>[] = [];
  for (let i = 0; i < sorts.length; i++) {
    const v = values[i];
    if (v === null) continue;
    const parts: Expression<SqlBool>[] = [];
    for (let j = 0; j < i; j++) {
      const vj = values[j];
      if (vj !== null) parts.push(eb(sql.ref<string | null>(sorts[j].column), '=', vj));
    }
    const ref = sql.ref<string | null>(sorts[i].column);
    const s = sorts[i];
    let crit: Expression<SqlBool>;
    if (s.raw.startsWith('desc')) {
      crit = eb(ref, '<', v);
      if (s.raw.endsWith('nullsfirst')) crit = eb.or([crit, eb(ref, 'is', null)]);
    } else {
      crit = eb(ref, '>', v);
      if (s.raw.endsWith('nullslast')) crit = eb.or([crit, eb(ref, 'is', null)]);
    }
    parts.push(crit);
    alternatives.push(eb.and(parts));
  }
  return eb.or(alternatives);
}
