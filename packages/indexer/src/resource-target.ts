// The SQL "table" a resource query runs on: the resource table joined with the type's
// table, or (history) the union of superseded revisions and current rows. Every column is
// reachable as r.<name> (base columns) or t.<aN> / r.<aN> (type attributes).
import { sql, type RawBuilder } from 'kysely';
import { toBigInt, toBigIntOrNull, toNumber } from './rows.js';
import type { QueryColumn, ColumnKind } from './query.js';
import { fromDb, type TypeInfo } from './rt-store.js';
import type { AttributeValue, Resource } from './types.js';
import { splitCreator } from './sql-indexer-helpers.js';

export const BASE_COLUMNS: ReadonlyArray<readonly [string, ColumnKind]> = [
  ['id', 'uuid'], ['type', 'string'], ['creator', 'string'], ['started_at', 'datetime'],
  ['revision_start', 'datetime'], ['ended_at', 'datetime'], ['user_id', 'string'],
  ['project_id', 'string'], ['original_resource_id', 'string'],
];
const HISTORY_COLUMNS: ReadonlyArray<readonly [string, ColumnKind]> = [['revision', 'integer'], ['revision_end', 'datetime']];

export interface Target {
  info: TypeInfo;
  history: boolean;
  from: RawBuilder<unknown>;
  select: RawBuilder<unknown>;
  /** Filterable columns by Gnocchi name (plus `lifespan`). */
  columns: Map<string, QueryColumn>;
  creator: RawBuilder<unknown>;
}

export type Row = Record<string, unknown>;

function baseList(alias: string): RawBuilder<unknown>[] {
  return BASE_COLUMNS.map(([c]) => sql.ref(`${alias}.${c}`));
}

function historyUnion(info: TypeInfo): RawBuilder<unknown> {
  const typed = info.name !== 'generic';
  const th = sql.table(`${info.tablename}_history`);
  const t = sql.table(info.tablename);
  const hAttrs = info.attributes.map((a) => sql.ref(`th.${a.column}`));
  const cAttrs = info.attributes.map((a) => sql.ref(`t.${a.column}`));
  const old = sql.join([sql.ref('h.revision'), ...baseList('h'), sql.ref('h.revision_end'), ...hAttrs]);
  const cur = sql.join([sql.raw('-1'), ...baseList('c'), sql.raw('cast(null as bigint)'), ...cAttrs]);
  const oldFrom = typed ? sql`resource_history h join ${th} th on th.revision = h.revision` : sql`resource_history h`;
  const curFrom = typed ? sql`resource c join ${t} t on t.id = c.id` : sql`resource c`;
  return sql`(select ${old} from ${oldFrom} union all select ${cur} from ${curFrom}) r`;
}

export function buildTarget(info: TypeInfo, history: boolean): Target {
  const typed = info.name !== 'generic';
  const attrAlias = history ? 'r' : 't';
  const columns = new Map<string, QueryColumn>();
  for (const [c, kind] of BASE_COLUMNS) columns.set(c, { expr: sql.ref(`r.${c}`), kind });
  if (history) for (const [c, kind] of HISTORY_COLUMNS) columns.set(c, { expr: sql.ref(`r.${c}`), kind });
  for (const a of info.attributes) columns.set(a.name, { expr: sql.ref(`${attrAlias}.${a.column}`), kind: a.schema.type });
  columns.set('lifespan', { expr: sql`(${sql.ref('r.ended_at')} - ${sql.ref('r.started_at')})`, kind: 'timespan' });
  const attrCols = info.attributes.map((a) => sql.ref(`${attrAlias}.${a.column}`));
  const extra = history ? [sql.ref('r.revision'), sql.ref('r.revision_end')] : [];
  const from = history ? historyUnion(info)
    : typed ? sql`resource r join ${sql.table(info.tablename)} t on t.id = r.id` : sql`resource r`;
  return { info, history, from, select: sql.join([...baseList('r'), ...extra, ...attrCols]), columns, creator: sql.ref('r.creator') };
}

/** Attribute values of `info` found in a row (columns a1, a2, ... as selected). */
export function rowAttributes(info: TypeInfo, row: Row): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const a of info.attributes) out[a.name] = fromDb(a.schema, row[a.column]);
  return out;
}

export function rowToResource(info: TypeInfo, row: Row, history: boolean): Resource {
  const creator = row.creator as string | null;
  const { userId, projectId } = splitCreator(creator);
  return {
    id: row.id as string,
    type: row.type as string,
    originalResourceId: row.original_resource_id as string,
    creator,
    createdByUserId: userId,
    createdByProjectId: projectId,
    userId: row.user_id as string | null,
    projectId: row.project_id as string | null,
    startedAt: toBigInt(row.started_at as bigint),
    endedAt: toBigIntOrNull(row.ended_at as bigint | null),
    revisionStart: toBigInt(row.revision_start as bigint),
    revisionEnd: history ? toBigIntOrNull(row.revision_end as bigint | null) : null,
    revision: history ? toNumber(row.revision as bigint) : -1,
    // Keyed by metric names, which users choose ("__proto__" included): no prototype.
    metrics: Object.create(null) as Record<string, string>,
    attributes: rowAttributes(info, row),
  };
}
