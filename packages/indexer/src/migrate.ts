// Versioned schema migrations recorded in schema_version (one row per applied step).
import { sql, type Kysely } from 'kysely';
import { SchemaTooNew } from './errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.js';
import { toNumber } from './rows.js';
import type { Database } from './schema.js';
import { inWriteTx } from './tx.js';
import type { DialectName, UpgradeResult } from './types.js';

/** Serialises concurrent upgrades on PostgreSQL (SQLite's BEGIN IMMEDIATE already does). */
const PG_UPGRADE_LOCK_KEY = 0x74616c6c79n; // "tally"

async function currentVersion(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('schema_version')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  return row === undefined || row.v === null ? 0 : toNumber(row.v);
}

export async function schemaVersion(db: Kysely<Database>): Promise<number> {
  const tables = await db.introspection.getTables();
  if (!tables.some((t) => t.name === 'schema_version')) return 0;
  return currentVersion(db);
}

export async function upgrade(db: Kysely<Database>, dialect: DialectName): Promise<UpgradeResult> {
  return inWriteTx(db, dialect, async (tx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${PG_UPGRADE_LOCK_KEY})`.execute(tx);
    // Created here, inside the lock, rather than by a migration: it must exist before we
    // can tell which migrations are pending.
    await tx.schema
      .createTable('schema_version')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .execute();
    const from = await currentVersion(tx);
    if (from > LATEST_SCHEMA_VERSION) throw new SchemaTooNew(from, LATEST_SCHEMA_VERSION);
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await m.up(tx as unknown as Kysely<unknown>, dialect);
      await tx.insertInto('schema_version')
        .values({ version: m.version, name: m.name, applied_at: BigInt(Date.now()) * 1_000_000n })
        .execute();
    }
    return { from, to: LATEST_SCHEMA_VERSION };
  });
}
