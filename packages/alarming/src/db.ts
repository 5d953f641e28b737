// The alarming service keeps its tables in the index database, beside the indexer's, and
// versions them in its own table (alarming_schema_version): each role (alarm store,
// notifier) brings its own list of steps under its own module name.
import type { Kysely } from 'kysely';
import { migrateModules, openSqlDatabase, type ModuleMigration } from '@tally/indexer';

export type Dialect = 'sqlite' | 'postgres';

export type Migration = ModuleMigration;

export interface AlarmDatabase {
  db: Kysely<unknown>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** Opens the index database named by `url` (sqlite path or URL, postgresql://...). */
export async function openAlarmDatabase(url: string): Promise<AlarmDatabase> {
  const { db, dialect } = await openSqlDatabase<unknown>(url);
  return { db, dialect, close: () => db.destroy() };
}

/** Applies the pending steps of every module in `migrations`; returns how many ran. */
export async function migrate(database: AlarmDatabase, migrations: readonly Migration[]): Promise<number> {
  return migrateModules(database.db, database.dialect, 'alarming_schema_version', migrations);
}
