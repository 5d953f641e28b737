// The alarming service keeps its tables in the index database, beside the indexer's, and
// versions them in its own table (alarming_schema_version): each role (alarm store,
// notifier) brings its own list of steps under its own module name.
import { migrateModules, openServiceDatabase, type ModuleMigration, type ServiceDatabase } from '@tally/indexer';

export type Dialect = 'sqlite' | 'postgres';

export type Migration = ModuleMigration;

export type AlarmDatabase = ServiceDatabase;

/** Opens the index database named by `url` (sqlite path or URL, postgresql://...). */
export const openAlarmDatabase = openServiceDatabase;

/** Applies the pending steps of every module in `migrations`; returns how many ran. */
export async function migrate(database: AlarmDatabase, migrations: readonly Migration[]): Promise<number> {
  return migrateModules(database.db, database.dialect, 'alarming_schema_version', migrations);
}
