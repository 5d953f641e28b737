// Listing and searching resources: filter, oslo.db-style pagination, details, metrics.
import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Ctx } from './context.js';
import { InvalidPagination, ResourceAttributeError, QueryAttributeError } from './errors.js';
import { compileFilter, type QueryContext } from './query.js';
import { parseUuid } from './resource-id.js';
import { buildTarget, rowAttributes, rowToResource, type Row, type Target } from './resource-target.js';
import { activeType, loadType, type TypeInfo } from './rt-store.js';
import type { Database } from './schema.js';
import { chunks, IN_CHUNK } from './sql-indexer-helpers.js';
import type { ListResourcesOptions, Resource, ResourceFilter, SortSpec } from './types.js';

const SORT_DIR_ERROR =
  'Unknown sort direction, must be one of: asc-nullsfirst, asc-nullslast, desc-nullsfirst, desc-nullslast';

interface Sort {
  expr: RawBuilder<unknown>;
  desc: boolean;
  nulls: '' | 'nullsfirst' | 'nullslast';
}

export function queryContext(ctx: Ctx, target: Target): QueryContext {
  return {
    dialect: ctx.dialect, label: target.info.name, columns: target.columns, creator: target.creator,
  };
}

/** Compiles a filter; unknown attributes are reported against the searched type, as Gnocchi. */
export function filterSql(ctx: Ctx, target: Target, filter: ResourceFilter | null | undefined): RawBuilder<SqlBool> {
  if (filter === null || filter === undefined) return sql<SqlBool>`1 = 1`;
  try {
    return compileFilter(filter, queryContext(ctx, target));
  } catch (e) {
    if (e instanceof QueryAttributeError) throw new ResourceAttributeError(target.info.name, e.attribute);
    throw e;
  }
}

function parseSorts(target: Target, sorts: readonly SortSpec[] | undefined): Sort[] {
  const specs = (sorts ?? []).map((s) => ({ key: s.key.trim(), raw: s.dir === undefined || s.dir === '' ? 'asc' : s.dir }));
  // paginate_query needs unique keys last to make the order total.
  const unique = target.history ? ['id', 'revision'] : ['id'];
  for (const k of unique) if (!specs.some((s) => s.key === k)) specs.push({ key: k, raw: 'asc' });
  return specs.map(({ key, raw }) => {
    const col = key === 'lifespan' ? undefined : target.columns.get(key);
    if (col === undefined) throw new InvalidPagination(`Sort key supplied is invalid: ${key}`);
    const [main, nulls = '', more] = raw.split('-');
    if ((main !== 'asc' && main !== 'desc') || (nulls !== '' && nulls !== 'nullsfirst' && nulls !== 'nullslast') || more !== undefined) {
      throw new InvalidPagination(SORT_DIR_ERROR);
    }
    return { expr: col.expr, desc: main === 'desc', nulls };
  });
}

function orderBy(sorts: readonly Sort[]): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [];
  for (const s of sorts) {
    if (s.nulls === 'nullsfirst') parts.push(sql`(${s.expr} is null) desc`);
    else if (s.nulls === 'nullslast') parts.push(sql`(${s.expr} is not null) desc`);
    // PostgreSQL's default NULL placement (largest), spelled out for SQLite.
    parts.push(s.desc ? sql`${s.expr} desc nulls first` : sql`${s.expr} asc nulls last`);
  }
  return sql.join(parts);
}

/** oslo.db paginate_query's marker criteria (see markerCriteria in metric-list.ts for the NULL quirk). */
function afterMarker(sorts: readonly Sort[], values: readonly unknown[]): RawBuilder<SqlBool> {
  const alternatives: RawBuilder<SqlBool>[] = [];
  for (let i = 0; i < sorts.length; i++) {
    const v = values[i];
    if (v === null) continue;
    const parts: RawBuilder<SqlBool>[] = [];
    for (let j = 0; j < i; j++) if (values[j] !== null) parts.push(sql<SqlBool>`${sorts[j].expr} = ${values[j]}`);
    const s = sorts[i];
    let crit = s.desc ? sql<SqlBool>`${s.expr} < ${v}` : sql<SqlBool>`${s.expr} > ${v}`;
    if ((s.desc && s.nulls === 'nullsfirst') || (!s.desc && s.nulls === 'nullslast')) crit = sql<SqlBool>`(${crit} or ${s.expr} is null)`;
    parts.push(crit);
    alternatives.push(sql<SqlBool>`(${sql.join(parts, sql.raw(' and '))})`);
  }
  return alternatives.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`(${sql.join(alternatives, sql.raw(' or '))})`;
}

/** The marker row's sort values; InvalidPagination when it does not exist in the target. */
async function markerValues(q: Kysely<Database>, target: Target, sorts: readonly Sort[], marker: string): Promise<unknown[]> {
  let where: RawBuilder<SqlBool> | undefined;
  if (target.history) {
    const parts = marker.split('@');
    const id = parts.length === 2 ? parseUuid(parts[0]) : null;
    if (id !== null && /^\s*[+-]?\d+\s*$/.test(parts[1])) where = sql<SqlBool>`r.id = ${id} and r.revision = ${Number(parts[1])}`;
  } else {
    const id = parseUuid(marker);
    if (id !== null) where = sql<SqlBool>`r.id = ${id}`;
  }
  if (where !== undefined) {
    const cols = sql.join(sorts.map((s, i) => sql`${s.expr} as ${sql.ref(`k${i}`)}`));
    const { rows } = await sql<Row>`select ${cols} from ${target.from} where ${where}`.execute(q);
    if (rows.length > 0) return sorts.map((_, i) => rows[0][`k${i}`] ?? null);
  }
  throw new InvalidPagination(`Invalid marker: \`${marker}'`);
}

export async function attachMetrics(q: Kysely<Database>, resources: Resource[]): Promise<void> {
  const byId = new Map<string, Resource[]>();
  for (const r of resources) {
    const list = byId.get(r.id);
    if (list === undefined) byId.set(r.id, [r]);
    else list.push(r);
  }
  for (const chunk of chunks([...byId.keys()], IN_CHUNK)) {
    // Status filtered here rather than in SQL, so that the lookup goes by the unique
    // (resource_id, name) index and never by status (see getMetrics).
    const rows = await q.selectFrom('metric').select(['id', 'name', 'resource_id', 'status'])
      .where('resource_id', 'in', chunk).orderBy('name').execute();
    for (const m of rows) {
      if (m.status !== 'active' || m.name === null || m.resource_id === null) continue;
      for (const r of byId.get(m.resource_id) ?? []) r.metrics[m.name] = m.id;
    }
  }
}

/**
 * `details`: resources of other types than the searched one get their own attributes;
 * those whose type vanished or is not active are dropped, as Gnocchi does.
 */
async function loadDetails(ctx: Ctx, searched: TypeInfo, resources: Resource[]): Promise<Resource[]> {
  const others = new Set(resources.filter((r) => r.type !== searched.name && r.type !== 'generic').map((r) => r.type));
  const dropped = new Set<string>();
  for (const type of others) {
    const info = await loadType(ctx.db, ctx.dialect, type);
    if (info === undefined || info.state !== 'active') { dropped.add(type); continue; }
    await loadTypeAttributes(ctx.db, info, resources.filter((r) => r.type === type));
  }
  return resources.filter((r) => !dropped.has(r.type));
}

async function loadTypeAttributes(q: Kysely<Database>, info: TypeInfo, resources: Resource[]): Promise<void> {
  const current = resources.filter((r) => r.revision === -1);
  const old = resources.filter((r) => r.revision !== -1);
  const cols = info.attributes.map((a) => sql.ref(a.column));
  for (const chunk of chunks(current, IN_CHUNK)) {
    const { rows } = await sql<Row>`select ${sql.join([sql.ref('id'), ...cols])} from ${sql.table(info.tablename)}
      where id in (${sql.join(chunk.map((r) => r.id))})`.execute(q);
    const byKey = new Map(rows.map((row) => [row.id as string, row]));
    for (const r of chunk) { const row = byKey.get(r.id); if (row) r.attributes = rowAttributes(info, row); }
  }
  for (const chunk of chunks(old, IN_CHUNK)) {
    const { rows } = await sql<Row>`select ${sql.join([sql.ref('revision'), ...cols])} from ${sql.table(`${info.tablename}_history`)}
      where revision in (${sql.join(chunk.map((r) => r.revision))})`.execute(q);
    const byKey = new Map(rows.map((row) => [Number(row.revision), row]));
    for (const r of chunk) { const row = byKey.get(r.revision); if (row) r.attributes = rowAttributes(info, row); }
  }
}

export async function listResources(ctx: Ctx, options: ListResourcesOptions = {}): Promise<Resource[]> {
  // Gnocchi's order of checks: type, filter, marker, then sort keys and limit.
  const info = await activeType(ctx.db, ctx.dialect, options.type ?? 'generic');
  const target = buildTarget(info, options.history === true);
  const where = filterSql(ctx, target, options.filter);
  let sorts: Sort[] | undefined;
  let marker: unknown[] | undefined;
  if (options.marker !== undefined) {
    // The marker lookup needs the sort expressions; a bad sort key still wins over it below.
    sorts = parseSorts(target, options.sort);
    marker = await markerValues(ctx.db, target, sorts, options.marker);
  }
  sorts ??= parseSorts(target, options.sort);
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
    throw new InvalidPagination(`Invalid limit: ${options.limit}`);
  }
  const after = marker === undefined ? sql<SqlBool>`1 = 1` : afterMarker(sorts, marker);
  const limit = options.limit === undefined ? sql`` : sql` limit ${options.limit}`;
  const { rows } = await sql<Row>`select ${target.select} from ${target.from}
    where ${where} and ${after} order by ${orderBy(sorts)}${limit}`.execute(ctx.db);
  let resources = rows.map((row) => rowToResource(info, row, target.history));
  if (options.details === true) resources = await loadDetails(ctx, info, resources);
  await attachMetrics(ctx.db, resources);
  return resources;
}
