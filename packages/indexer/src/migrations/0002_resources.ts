// Resource types and resource history.
//
// Storage design (Gnocchi's, with typed columns): `resource` holds the columns every
// resource has, `resource_history` one row per superseded revision; each resource type
// other than generic owns two tables, rt_<hex> (current attributes, keyed by resource id)
// and rt_<hex>_history (keyed by history revision), created at runtime by
// createResourceType with one typed, indexed column per attribute. Filters on type
// attributes are therefore plain indexed column comparisons on both dialects.
//
// `resource.type` has no foreign key to resource_type: SQLite cannot add one to the
// existing table without a rebuild, and the indexer checks the type under a lock instead
// (FOR SHARE on PostgreSQL, the single writer on SQLite).
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../types.js';
import type { Migration } from './migration.js';

async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // `attributes` is JSON: an array of {name, column, type, required, ...} where `column`
  // is the physical column (a1, a2, ...) in the type's tables. Physical names are
  // decoupled from attribute names because attribute names may differ only by case
  // (distinct in Gnocchi, one column in SQLite) and may be longer than PostgreSQL's
  // identifier limit once prefixed.
  await db.schema
    .createTable('resource_type')
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('tablename', 'varchar(35)', (c) => c.notNull().unique())
    .addColumn('attributes', 'text', (c) => c.notNull())
    .addColumn('next_column', 'integer', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint('ck_resource_type_state', sql`state in ('active', 'creating', 'creation_error',
      'deleting', 'deletion_error', 'updating', 'updating_error')`)
    .execute();

  await db.schema
    .createTable('resource_history')
    .addColumn('revision', 'integer', (c) => (dialect === 'sqlite'
      // AUTOINCREMENT: revision numbers appear in pagination markers, never reuse one.
      ? c.primaryKey().autoIncrement()
      : c.primaryKey().generatedByDefaultAsIdentity()))
    .addColumn('id', 'varchar(36)', (c) => c.notNull())
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('creator', 'varchar(255)')
    .addColumn('user_id', 'varchar(255)')
    .addColumn('project_id', 'varchar(255)')
    .addColumn('original_resource_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('revision_start', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('revision_end', 'bigint', (c) => c.notNull())
    .addForeignKeyConstraint('fk_rh_id_resource_id', ['id'], 'resource', ['id'], (fk) => fk.onDelete('cascade'))
    .addCheckConstraint('ck_resource_history_started_before_ended', sql`started_at <= ended_at`)
    .execute();
  await db.schema.createIndex('ix_resource_history_id').on('resource_history').column('id').execute();

  // Type filter of typed searches on generic, and the default sort (revision_start,
  // started_at, id) of resource listings.
  await db.schema.createIndex('ix_resource_type').on('resource').column('type').execute();
  await db.schema.createIndex('ix_resource_default_order').on('resource')
    .columns(['revision_start', 'started_at', 'id']).execute();
  // Metrics of a page of resources are fetched by resource_id.
  await db.schema.createIndex('ix_metric_resource_id').on('metric').column('resource_id').execute();

  // `generic` always exists and has no tables of its own.
  await sql`insert into resource_type (name, tablename, attributes, next_column, state, updated_at)
    values ('generic', 'generic', '[]', 1, 'active', ${BigInt(Date.now()) * 1_000_000n})`.execute(db);
}

export const migration0002: Migration = { version: 2, name: 'resources', up };
