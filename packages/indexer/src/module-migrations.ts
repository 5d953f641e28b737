// Services that keep their own tables in the index database (alarming, rating) version
// them apart from the indexer's schema: each names its version table, and each role within
// it brings its own list of steps under its own module name, so roles evolve independently.
import { sql, type Kysely } from 'kysely';
import { connect, parseIndexerUrl } from './connect.js';
import { inWriteTx } from './tx.js';
import type { DialectName } from './types.js';

/** A service's handle on the index database its tables live in. */
export interface ServiceDatabase {
  db: Kysely<unknown>;
  dialect: DialectName;
  close(): Promise<void>;
}

/** Opens the index database named by `url` (sqlite path or URL, postgresql://...). */
export async function openServiceDatabase(url: string): Promise<ServiceDatabase> {
  const { db, dialect } = await connect(parseIndexerUrl(url));
  const handle = db as unknown as Kysely<unknown>;
  return { db: handle, dialect, close: () => handle.destroy() };
}

export interface ModuleMigration {
  /** The role that owns the tables ('alarms', 'notifier', 'rating'). */
  module: string;
  /** 1, 2, ... within the module. */
  version: number;
  name: string;
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Applies the steps of `migrations` not yet recorded in `versionTable` (created when
 * missing), module by module in version order, in one transaction; returns how many ran.
 */
export async function migrateModules(
  db: Kysely<unknown>, dialect: DialectName, versionTable: string, migrations: readonly ModuleMigration[],
): Promise<number> {
  if (!TABLE_NAME.test(versionTable)) throw new Error(`invalid version table name: ${versionTable}`);
  const table = sql.table(versionTable);
  return inWriteTx(db, dialect, async (tx) => {
    // Serialises concurrent upgrades on PostgreSQL (SQLite's BEGIN IMMEDIATE already does);
    // one lock per version table, so two services upgrade independently.
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${versionTable}))`.execute(tx);
    await tx.schema
      .createTable(versionTable)
      .ifNotExists()
      .addColumn('module', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${versionTable}_pk`, ['module', 'version'])
      .execute();
    const applied = await sql<{ module: string; version: number | bigint }>`select module, version from ${table}`.execute(tx);
    const done = new Set(applied.rows.map((r) => `${r.module}/${Number(r.version)}`));
    const pending = [...migrations]
      .filter((m) => !done.has(`${m.module}/${m.version}`))
      .sort((a, b) => a.module.localeCompare(b.module) || a.version - b.version);
    for (const m of pending) {
      await m.up(tx, dialect);
      await sql`insert into ${table} (module, version, name) values (${m.module}, ${m.version}, ${m.name})`.execute(tx);
    }
    return pending.length;
  });
}
