// @tally/indexer: archive policies and their rules, metrics, resource types and resources
// in SQL, SQLite or PostgreSQL through one Kysely code path.
import { connect, parseIndexerUrl } from './connect.js';
import { SqlIndexer } from './sql-indexer.js';
import type { Kysely } from 'kysely';
import type { DialectName, Indexer, IndexerOptions } from './types.js';

export * from './errors.js';
export type * from './types.js';
export { SqlIndexer } from './sql-indexer.js';
export { splitCreator } from './sql-indexer-helpers.js';
export { parseIndexerUrl, SQLITE_BUSY_TIMEOUT_MS, type IndexerTarget } from './connect.js';
export { inWriteTx } from './tx.js';
export { migrateModules, openServiceDatabase, type ModuleMigration, type ServiceDatabase } from './module-migrations.js';
export { classifyDbError } from './db-errors.js';
export { LATEST_SCHEMA_VERSION } from './migrations/index.js';
export { resourceUuid, parseUuid } from './resource-id.js';
export { parseFilterString } from './filter-string.js';
export { validateResourceTypeDefinition, resourceTypePatchToChange } from './resource-type-schema.js';
export {
  MAX_NAME_LENGTH, MAX_UNIT_LENGTH, MAX_RESOURCE_TYPE_COLUMNS, DEFAULT_MAX_RESOURCE_TYPE_ATTRIBUTES, PROTOTYPE_KEYS,
  DEFAULT_INDEXER_LIMITS, type IndexerLimits,
} from './limits.js';

/**
 * Opens the indexer named by `url` (`sqlite:///abs/path.db`, a plain path, `:memory:` or
 * `postgresql://...`). The schema is not touched: call `upgrade()` (`tally upgrade`).
 * PostgreSQL needs the optional `pg` package.
 */
export async function openIndexer(url: string, options: IndexerOptions = {}): Promise<Indexer> {
  const { db, dialect, dataVersion, changes } = await connect(parseIndexerUrl(url));
  return new SqlIndexer(db, dialect, options, { dataVersion, changes });
}

/**
 * A Kysely handle on the index database named by `url`, with the indexer's connection
 * settings (WAL, durable commits, busy timeout, statement cache, pool error handling), for
 * services that keep their own tables beside the indexer's (the alarming service).
 */
export async function openSqlDatabase<DB>(url: string): Promise<{ db: Kysely<DB>; dialect: DialectName }> {
  const { db, dialect } = await connect(parseIndexerUrl(url));
  return { db: db as unknown as Kysely<DB>, dialect };
}
