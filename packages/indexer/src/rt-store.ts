// Resource types in SQL: their catalogue row and their per-type tables.
//
// Each type but generic has rt_<hex> (current attributes, PK id -> resource.id) and
// rt_<hex>_history (PK revision -> resource_history.revision), both cascading, with one
// typed column per attribute named a1, a2, ... (see migration 0002 for why). All DDL runs
// inside the caller's transaction (transactional on SQLite and PostgreSQL), so a type is
// never observed half-built: the transient states creating/updating/deleting of Gnocchi
// exist only inside that transaction and the *_error states are never produced.
import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { NoSuchResourceType, UnexpectedResourceTypeState } from './errors.js';
import { toBigInt, toNumber } from './rows.js';
import type { Database } from './schema.js';
import type { AttributeValue, DialectName, ResourceAttributeSchema, ResourceType, ResourceTypeState } from './types.js';

/** One attribute as stored in resource_type.attributes. */
export interface StoredAttribute {
  name: string;
  column: string;
  schema: ResourceAttributeSchema;
}

export interface TypeInfo {
  name: string;
  tablename: string;
  state: ResourceTypeState;
  attributes: StoredAttribute[];
  nextColumn: number;
}

type TypeRow = { name: string; tablename: string; attributes: string; next_column: bigint | string | number; state: string };

function rowToInfo(r: TypeRow): TypeInfo {
  return {
    name: r.name,
    tablename: r.tablename,
    state: r.state as ResourceTypeState,
    attributes: JSON.parse(r.attributes) as StoredAttribute[],
    nextColumn: toNumber(r.next_column),
  };
}

export function toPublicType(info: TypeInfo): ResourceType {
  const attributes: Record<string, ResourceAttributeSchema> = {};
  for (const a of info.attributes) attributes[a.name] = { ...a.schema };
  return { name: info.name, attributes, state: info.state };
}

/**
 * Reads a type. `lock` 'share' keeps it from being altered or deleted until the
 * transaction ends (PostgreSQL; SQLite's single writer gives the same guarantee).
 */
export async function loadType(q: Kysely<Database>, dialect: DialectName, name: string, lock?: 'share' | 'update'): Promise<TypeInfo | undefined> {
  let query = q.selectFrom('resource_type').select(['name', 'tablename', 'attributes', 'next_column', 'state']).where('name', '=', name);
  if (dialect === 'postgres' && lock === 'share') query = query.forShare();
  if (dialect === 'postgres' && lock === 'update') query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : rowToInfo(row);
}

/** The type, which must exist and be active (Gnocchi's _resource_type_to_mappers). */
export async function activeType(q: Kysely<Database>, dialect: DialectName, name: string, lock?: 'share'): Promise<TypeInfo> {
  const info = await loadType(q, dialect, name, lock);
  if (info === undefined) throw new NoSuchResourceType(name);
  if (info.state !== 'active') throw new UnexpectedResourceTypeState(name, 'active', info.state);
  return info;
}

export async function listTypes(q: Kysely<Database>): Promise<TypeInfo[]> {
  const rows = await q.selectFrom('resource_type').select(['name', 'tablename', 'attributes', 'next_column', 'state'])
    .orderBy('name').execute();
  return rows.map(rowToInfo);
}

export function newTablename(): string {
  return `rt_${randomUUID().replace(/-/g, '')}`;
}

function columnType(dialect: DialectName, s: ResourceAttributeSchema): RawBuilder<unknown> {
  switch (s.type) {
    case 'string': return sql.raw(`varchar(${s.maxLength})`);
    case 'uuid': return sql.raw('varchar(36)');
    case 'number': return sql.raw('double precision');
    // SQLite has no boolean storage class; 0/1 integers compare and sort the same way.
    case 'bool': return sql.raw(dialect === 'postgres' ? 'boolean' : 'integer');
    case 'datetime': return sql.raw('bigint');
  }
}

/** The value as bound to a statement: better-sqlite3 cannot bind booleans. */
export function dbValue(dialect: DialectName, v: AttributeValue): AttributeValue {
  if (typeof v === 'boolean' && dialect === 'sqlite') return v ? 1 : 0;
  return v;
}

/** A stored attribute value read back from either driver. */
export function fromDb(s: ResourceAttributeSchema, v: unknown): AttributeValue {
  if (v === null || v === undefined) return null;
  switch (s.type) {
    case 'string': case 'uuid': return String(v);
    case 'number': return Number(v);
    case 'bool': return typeof v === 'boolean' ? v : Number(v) !== 0;
    case 'datetime': return toBigInt(v as bigint | string | number);
  }
}

/** SQL literal for DDL defaults (parameters are not allowed there). */
function literal(v: AttributeValue): RawBuilder<unknown> {
  if (v === null) return sql.raw('null');
  if (typeof v === 'string') return sql.lit(v);
  if (typeof v === 'boolean') return sql.raw(v ? 'true' : 'false');
  return sql.raw(String(v));
}

/** Index names derive from the table and column so they stay under 63 characters. */
function indexName(tablename: string, column: string): string {
  return `ix_${tablename}_${column}`;
}

function columnDef(dialect: DialectName, a: StoredAttribute, fill?: AttributeValue): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [sql.ref(a.column), columnType(dialect, a.schema)];
  if (fill !== undefined && fill !== null) parts.push(sql`default ${literal(dbValue(dialect, fill))}`);
  if (a.schema.required) parts.push(sql.raw('not null'));
  return sql.join(parts, sql.raw(' '));
}

export async function createTypeTables(tx: Kysely<Database>, dialect: DialectName, info: TypeInfo): Promise<void> {
  const t = info.tablename;
  const cols = info.attributes.map((a) => columnDef(dialect, a));
  const extra = cols.length === 0 ? sql`` : sql`, ${sql.join(cols)}`;
  await sql`create table ${sql.table(t)} (id varchar(36) not null primary key${extra},
    constraint ${sql.ref(`fk_${t}_id_resource_id`)} foreign key (id) references resource (id) on delete cascade)`.execute(tx);
  await sql`create table ${sql.table(`${t}_history`)} (revision integer not null primary key${extra},
    constraint ${sql.ref(`fk_${t}_revision_rh_revision`)} foreign key (revision) references resource_history (revision) on delete cascade)`.execute(tx);
  for (const a of info.attributes) await createAttributeIndex(tx, t, a);
}

/** Current rows only: searches on history are rarer and pay a scan. */
async function createAttributeIndex(tx: Kysely<Database>, tablename: string, a: StoredAttribute): Promise<void> {
  await sql`create index ${sql.ref(indexName(tablename, a.column))} on ${sql.table(tablename)} (${sql.ref(a.column)})`.execute(tx);
}

export async function dropTypeTables(tx: Kysely<Database>, info: TypeInfo): Promise<void> {
  await sql`drop table if exists ${sql.table(`${info.tablename}_history`)}`.execute(tx);
  await sql`drop table if exists ${sql.table(info.tablename)}`.execute(tx);
}

/**
 * Adds a column to both tables. Existing rows (and revisions) receive `fill` through a
 * column default, which PostgreSQL then drops; SQLite cannot drop a default, which is
 * harmless because the indexer always writes every column explicitly.
 */
export async function addAttributeColumn(tx: Kysely<Database>, dialect: DialectName, info: TypeInfo, a: StoredAttribute, fill?: AttributeValue): Promise<void> {
  for (const table of [info.tablename, `${info.tablename}_history`]) {
    await sql`alter table ${sql.table(table)} add column ${columnDef(dialect, a, fill)}`.execute(tx);
    if (dialect === 'postgres' && fill !== undefined && fill !== null) {
      await sql`alter table ${sql.table(table)} alter column ${sql.ref(a.column)} drop default`.execute(tx);
    }
  }
  await createAttributeIndex(tx, info.tablename, a);
}

export async function dropAttributeColumn(tx: Kysely<Database>, info: TypeInfo, a: StoredAttribute): Promise<void> {
  // SQLite refuses to drop an indexed column.
  await sql`drop index if exists ${sql.ref(indexName(info.tablename, a.column))}`.execute(tx);
  for (const table of [info.tablename, `${info.tablename}_history`]) {
    await sql`alter table ${sql.table(table)} drop column ${sql.ref(a.column)}`.execute(tx);
  }
}

export async function saveType(tx: Kysely<Database>, info: TypeInfo, now: bigint, insert: boolean): Promise<void> {
  const values = {
    name: info.name,
    tablename: info.tablename,
    attributes: JSON.stringify(info.attributes),
    next_column: info.nextColumn,
    state: info.state,
    updated_at: now,
  };
  if (insert) await tx.insertInto('resource_type').values(values).execute();
  else await tx.updateTable('resource_type').set(values).where('name', '=', info.name).execute();
}

/** Stable short digest, e.g. for lock keys. */
export function digest(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}
