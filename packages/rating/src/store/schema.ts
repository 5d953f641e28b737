// The rating store's tables, as steps of the 'rating' module of the index database.
// CloudKitty's hashmap tables keyed by its UUIDs, with its uniqueness rules (NULLs distinct,
// as in CloudKitty's own database: two service mappings of one service may coexist) and its
// cascades (a service takes its fields, mappings and thresholds with it; a group's deletion
// takes its rules, the store does that itself as CloudKitty's API does). Storage choices
// that keep one code path on both dialects: booleans are 0/1 integers, JSON is text, money
// and quantities are decimal text (exact), instants are microseconds since the epoch in a
// bigint (exact in a JS number until the year 2255; rating periods are whole seconds).
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Dialect, Migration } from '../db.js';

export interface ServiceRow { service_id: string; name: string }
export interface FieldRow { field_id: string; service_id: string; name: string }
export interface GroupRow { group_id: string; name: string }
export interface MappingRow {
  mapping_id: string; value: string | null; cost: string; map_type: string;
  service_id: string | null; field_id: string | null; group_id: string | null; tenant_id: string | null;
  /** Tally's addition (step 2): the pricing entry whose price in force is the cost; null for a literal cost. */
  pricing_key?: string | null;
}
export interface ThresholdRow {
  threshold_id: string; level: string; cost: string; map_type: string;
  service_id: string | null; field_id: string | null; group_id: string | null; tenant_id: string | null;
}
export interface ModuleRow { module_id: string; enabled: number; priority: number }
/**
 * A rated point. Its groupby and metadata (JSON) are a row of rating_attributes: a resource's
 * attributes repeat in every period and metric, and as text they were half of each row's
 * bytes and of the time to insert it.
 */
export interface RatedRow {
  id?: number;
  scope_id: string;
  begin_us: number | string;
  end_us: number | string;
  type: string;
  unit: string;
  qty: string;
  price: string;
  currency: string;
  project_id: string | null;
  attributes_id: number | string;
}
/** A distinct pair of groupby and metadata (JSON), found by the digest of both (attributesDigest). */
export interface AttributesRow {
  id?: number;
  digest: string;
  groupby: string;
  metadata: string;
}
/** The rated rows as stored before attributes had their own table (read by the migration only). */
interface RatedRowV1 { id: number | string; scope_id: string; begin_us: number | string; end_us: number | string; type: string; unit: string; qty: string; price: string; currency: string; project_id: string | null; groupby: string; metadata: string }
export interface ScopeRow {
  scope_id: string;
  scope_key: string;
  collector: string;
  fetcher: string;
  last_processed_us: number | string | null;
  active: number;
  toggled_us: number | string;
}

export interface RatingTables {
  rating_hashmap_services: ServiceRow;
  rating_hashmap_fields: FieldRow;
  rating_hashmap_groups: GroupRow;
  rating_hashmap_mappings: MappingRow;
  rating_hashmap_thresholds: ThresholdRow;
  rating_modules: ModuleRow;
  rating_dataframes: RatedRow;
  rating_attributes: AttributesRow;
  rating_scopes: ScopeRow;
}

/**
 * The key of a groupby and metadata pair: unique in rating_attributes. A digest rather than
 * the texts themselves because a unique index on long texts fails on PostgreSQL (a btree
 * entry holds at most a third of a page). JSON text never holds a raw newline.
 */
export function attributesDigest(groupby: string, metadata: string): string {
  return createHash('sha256').update(groupby).update('\n').update(metadata).digest('base64url');
}

export const RATING_STORE_MODULE = 'rating';

/** Same width as CloudKitty's Numeric(40, 28) costs and levels, but exact text. */
const DECIMAL_TEXT = 'varchar(80)';

async function createTables(raw: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const db = raw as Kysely<RatingTables>;
  await db.schema.createTable('rating_hashmap_services')
    .addColumn('service_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .execute();
  await db.schema.createTable('rating_hashmap_fields')
    .addColumn('field_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('service_id', 'varchar(36)', (c) => c.notNull().references('rating_hashmap_services.service_id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addUniqueConstraint('rating_uniq_field_per_service', ['service_id', 'name'])
    .execute();
  await db.schema.createTable('rating_hashmap_groups')
    .addColumn('group_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .execute();
  for (const [table, id, key] of [
    ['rating_hashmap_mappings', 'mapping_id', 'value'],
    ['rating_hashmap_thresholds', 'threshold_id', 'level'],
  ] as const) {
    const kind = table === 'rating_hashmap_mappings' ? 'mapping' : 'threshold';
    await db.schema.createTable(table)
      .addColumn(id, 'varchar(36)', (c) => c.primaryKey())
      .addColumn(key, key === 'value' ? 'varchar(255)' : DECIMAL_TEXT, (c) => (key === 'level' ? c.notNull() : c))
      .addColumn('cost', DECIMAL_TEXT, (c) => c.notNull())
      .addColumn('map_type', 'varchar(4)', (c) => c.notNull().check(sql`map_type in ('flat', 'rate')`))
      .addColumn('service_id', 'varchar(36)', (c) => c.references('rating_hashmap_services.service_id').onDelete('cascade'))
      .addColumn('field_id', 'varchar(36)', (c) => c.references('rating_hashmap_fields.field_id').onDelete('cascade'))
      .addColumn('group_id', 'varchar(36)', (c) => c.references('rating_hashmap_groups.group_id').onDelete('set null'))
      .addColumn('tenant_id', 'varchar(255)')
      .addUniqueConstraint(`rating_uniq_field_${kind}`, [key, 'field_id', 'tenant_id'])
      .addUniqueConstraint(`rating_uniq_service_${kind}`, [key, 'service_id', 'tenant_id'])
      .execute();
  }
  await db.schema.createTable('rating_modules')
    .addColumn('module_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .execute();
  await ratedTable(raw, dialect, 'rating_dataframes', (t) => t.addColumn('groupby', 'text', (c) => c.notNull()).addColumn('metadata', 'text', (c) => c.notNull()));
  await ratedIndexes(raw);
  await db.schema.createTable('rating_scopes')
    .addColumn('scope_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('scope_key', 'varchar(255)', (c) => c.notNull())
    .addColumn('collector', 'varchar(255)', (c) => c.notNull())
    .addColumn('fetcher', 'varchar(255)', (c) => c.notNull())
    .addColumn('last_processed_us', 'bigint')
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('toggled_us', 'bigint', (c) => c.notNull())
    .execute();
}

type RatedTableBuilder = ReturnType<Kysely<unknown>['schema']['createTable']>;

/** The rated rows' table with the columns every version has, then `more`. */
async function ratedTable(db: Kysely<unknown>, dialect: Dialect, name: string, more: (t: RatedTableBuilder) => RatedTableBuilder): Promise<void> {
  await more(db.schema.createTable(name)
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('scope_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('begin_us', 'bigint', (c) => c.notNull())
    .addColumn('end_us', 'bigint', (c) => c.notNull())
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('unit', 'varchar(255)', (c) => c.notNull())
    .addColumn('qty', DECIMAL_TEXT, (c) => c.notNull())
    .addColumn('price', DECIMAL_TEXT, (c) => c.notNull())
    .addColumn('currency', 'varchar(16)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(255)')).execute();
}

async function ratedIndexes(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('rating_dataframes_scope_begin').on('rating_dataframes').columns(['scope_id', 'begin_us']).execute();
  await db.schema.createIndex('rating_dataframes_begin').on('rating_dataframes').columns(['begin_us']).execute();
  await db.schema.createIndex('rating_dataframes_project').on('rating_dataframes').columns(['project_id', 'begin_us']).execute();
}

/** Rows the attributes migration copies per statement. */
const MIGRATE_ROWS = 2000;

/**
 * Rated rows name their groupby and metadata in rating_attributes. The rows are copied in id
 * order (so the new ids keep their order) a page at a time into a new table, which then
 * takes the old one's name and indexes.
 */
async function attributesTable(raw: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const db = raw as Kysely<RatingTables & { rating_dataframes_old: RatedRowV1; rating_dataframes_new: RatedRow }>;
  await db.schema.createTable('rating_attributes')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('digest', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('groupby', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('rating_dataframes').renameTo('rating_dataframes_old').execute();
  for (const ix of ['rating_dataframes_scope_begin', 'rating_dataframes_begin', 'rating_dataframes_project']) await db.schema.dropIndex(ix).execute();
  await ratedTable(raw, dialect, 'rating_dataframes_new', (t) => t.addColumn('attributes_id', 'bigint', (c) => c.notNull()));
  const ids = new Map<string, number>();
  let after: number | string = -1;
  for (;;) {
    const page = await db.selectFrom('rating_dataframes_old').selectAll().where('id', '>', after).orderBy('id').limit(MIGRATE_ROWS).execute();
    if (page.length === 0) break;
    after = page[page.length - 1].id;
    const rows: RatedRow[] = [];
    for (const { id: _id, groupby, metadata, ...rest } of page) {
      const digest = attributesDigest(groupby, metadata);
      let id = ids.get(digest);
      if (id === undefined) {
        const made = await db.insertInto('rating_attributes').values({ digest, groupby, metadata }).returning('id').executeTakeFirstOrThrow();
        ids.set(digest, (id = Number(made.id)));
      }
      rows.push({ ...rest, attributes_id: id });
    }
    await db.insertInto('rating_dataframes_new').values(rows).execute();
  }
  await db.schema.dropTable('rating_dataframes_old').execute();
  await db.schema.alterTable('rating_dataframes_new').renameTo('rating_dataframes').execute();
  await ratedIndexes(raw);
}

/** A mapping may take its cost from the pricing data (see pricing/mapping.ts). */
async function addPricingKey(raw: Kysely<unknown>): Promise<void> {
  await (raw as Kysely<RatingTables>).schema.alterTable('rating_hashmap_mappings').addColumn('pricing_key', 'varchar(255)').execute();
}

export const RATING_STORE_MIGRATIONS: readonly Migration[] = [
  { module: RATING_STORE_MODULE, version: 1, name: 'hashmap rules, modules, rated data, scopes', up: createTables },
  { module: RATING_STORE_MODULE, version: 2, name: 'priced mappings (pricing_key)', up: addPricingKey },
  { module: RATING_STORE_MODULE, version: 3, name: 'rated rows name their attributes (rating_attributes)', up: attributesTable },
];
