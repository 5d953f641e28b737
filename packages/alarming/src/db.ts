// The alarming service keeps its tables in the index database, beside the indexer's, and
// versions them itself: each role (alarm store, notifier) brings its own list of steps under
// its own module name, so roles can evolve their tables independently.
import { sql, type Kysely } from 'kysely';
import { inWriteTx, openSqlDatabase } from '@tally/indexer';

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  /** The role that owns the tables ('alarms', 'notifier'). */
  module: string;
  /** 1, 2, ... within the module. */
  version: number;
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

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

/** Serialises concurrent upgrades on PostgreSQL (SQLite's BEGIN IMMEDIATE already does). */
const PG_UPGRADE_LOCK_KEY = 0x616c61726dn; // "alarm"

/** Applies the pending steps of every module in `migrations`; returns how many ran. */
export async function migrate(database: AlarmDatabase, migrations: readonly Migration[]): Promise<number> {
  const { db, dialect } = database;
  return inWriteTx(db, dialect, async (tx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${PG_UPGRADE_LOCK_KEY})`.execute(tx);
    await tx.schema
      .createTable('alarming_schema_version')
      .ifNotExists()
      .addColumn('module', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addPrimaryKeyConstraint('alarming_schema_version_pk', ['module', 'version'])
      .execute();
    const applied = await sql<{ module: string; version: number | bigint }>`select module, version from alarming_schema_version`.execute(tx);
    const done = new Set(applied.rows.map((r) => `${r.module}/${Number(r.version)}`));
    const pending = [...migrations]
      .filter((m) => !done.has(`${m.module}/${m.version}`))
      .sort((a, b) => a.module.localeCompare(b.module) || a.version - b.version);
    for (const m of pending) {
      await m.up(tx, dialect);
      await sql`insert into alarming_schema_version (module, version, name) values (${m.module}, ${m.version}, ${m.name})`.execute(tx);
    }
    return pending.length;
  });
}
