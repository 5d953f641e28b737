// The rating service keeps its tables in the index database, beside the indexer's, and
// versions them in its own table (rating_schema_version), as the alarming service does.
import { migrateModules, openServiceDatabase, type DialectName, type ModuleMigration, type ServiceDatabase } from '@tally/indexer';

export type Dialect = DialectName;
export type Migration = ModuleMigration;

export const RATING_SCHEMA_VERSION_TABLE = 'rating_schema_version';

export type RatingDatabase = ServiceDatabase;

/** Opens the index database named by `url` (sqlite path or URL, postgresql://...). */
export const openRatingDatabase = openServiceDatabase;

/** Applies the pending steps of every module in `migrations`; returns how many ran. */
export async function migrateRating(database: RatingDatabase, migrations: readonly Migration[]): Promise<number> {
  return migrateModules(database.db, database.dialect, RATING_SCHEMA_VERSION_TABLE, migrations);
}
