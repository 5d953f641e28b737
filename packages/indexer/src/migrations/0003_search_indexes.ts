// Indexes for the searches every multi-tenant deployment runs: resources of a project or of
// a user (Aodh, Ceilometer and dashboards filter on them; non-admin searches are limited to
// the caller's project). Without them such a search scanned every resource: p50 30 ms among
// 100 000 resources on SQLite (bench, 2026-11-25), where the index finds the few matches.
import type { Kysely } from 'kysely';
import type { Migration } from './migration.js';

async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of ['resource', 'resource_history']) {
    for (const column of ['project_id', 'user_id']) {
      await db.schema.createIndex(`ix_${table}_${column}`).on(table).column(column).execute();
    }
  }
}

export const migration0003: Migration = { version: 3, name: 'search indexes', up };
