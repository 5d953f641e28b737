// Archive policies, their rules, a minimal resource table and metrics.
//
// Migrations are frozen in time: they use the untyped schema builder, never the current
// Database interface, so later schema changes cannot break them. Only portable DDL is used
// (varchar/integer/bigint/text, named constraints declared inline) so the same code builds
// SQLite and PostgreSQL schemas; SQLite cannot add constraints after the fact, hence
// everything is declared in CREATE TABLE.
import { sql, type Kysely } from 'kysely';
import type { Migration } from './migration.js';

async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('archive_policy')
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('back_window', 'integer', (c) => c.notNull())
    .addColumn('aggregation_methods', 'text', (c) => c.notNull())
    .execute();

  // Items in their own table (rather than Gnocchi's JSON column) so granularity and
  // timespan are stored as exact BIGINT nanoseconds.
  await db.schema
    .createTable('archive_policy_item')
    .addColumn('archive_policy_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('granularity', 'bigint', (c) => c.notNull())
    .addColumn('points', 'bigint')
    .addColumn('timespan', 'bigint')
    .addPrimaryKeyConstraint('pk_archive_policy_item', ['archive_policy_name', 'position'])
    .addForeignKeyConstraint('fk_api_ap_name_ap_name', ['archive_policy_name'], 'archive_policy', ['name'],
      (fk) => fk.onDelete('cascade'))
    .addCheckConstraint('ck_archive_policy_item_granularity', sql`granularity > 0`)
    .execute();

  await db.schema
    .createTable('archive_policy_rule')
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('archive_policy_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('metric_pattern', 'varchar(255)', (c) => c.notNull())
    .addForeignKeyConstraint('fk_apr_ap_name_ap_name', ['archive_policy_name'], 'archive_policy', ['name'],
      (fk) => fk.onDelete('restrict'))
    .execute();
  // Foreign keys are not indexed implicitly; deleting a policy probes this column.
  await db.schema.createIndex('ix_apr_archive_policy_name').on('archive_policy_rule')
    .column('archive_policy_name').execute();

  // Timestamps are BIGINT ns (Tally's time representation) rather than driver-specific
  // TIMESTAMP types: identical on both dialects and never rounded to microseconds.
  // resource_type/resource_history (and the FK from `type`) come with the resource work;
  // the table is never written before then, so that migration may rebuild it freely.
  await db.schema
    .createTable('resource')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('creator', 'varchar(255)')
    .addColumn('user_id', 'varchar(255)')
    .addColumn('project_id', 'varchar(255)')
    .addColumn('original_resource_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('revision_start', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addCheckConstraint('ck_resource_started_before_ended', sql`started_at <= ended_at`)
    .execute();

  // Ids are canonical lowercase UUID text: portable, and it sorts exactly like
  // PostgreSQL's uuid type, which Gnocchi's ordering and markers rely on.
  // created_by_user_id/created_by_project_id are derived from creator at insert time so
  // that policy filters on the project are exact equality instead of LIKE patterns.
  await db.schema
    .createTable('metric')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('archive_policy_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('creator', 'varchar(255)')
    .addColumn('created_by_user_id', 'varchar(255)')
    .addColumn('created_by_project_id', 'varchar(255)')
    .addColumn('resource_id', 'varchar(36)')
    .addColumn('name', 'varchar(255)')
    .addColumn('unit', 'varchar(31)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('active'))
    .addForeignKeyConstraint('fk_metric_ap_name_ap_name', ['archive_policy_name'], 'archive_policy', ['name'],
      (fk) => fk.onDelete('restrict'))
    .addForeignKeyConstraint('fk_metric_resource_id_resource_id', ['resource_id'], 'resource', ['id'],
      (fk) => fk.onDelete('set null'))
    .addUniqueConstraint('uniq_metric0resource_id0name', ['resource_id', 'name'])
    .addCheckConstraint('ck_metric_status', sql`status in ('active', 'delete')`)
    .execute();
  await db.schema.createIndex('ix_metric_status').on('metric').column('status').execute();
  await db.schema.createIndex('ix_metric_archive_policy_name').on('metric').column('archive_policy_name').execute();
}

export const migration0001: Migration = { version: 1, name: 'initial', up };
