// Turning an indexer URL into a Kysely instance.
import { resolve } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, type PostgresPool, type SqliteDatabase } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './schema.js';
import type { DialectName } from './types.js';

export type IndexerTarget =
  | { dialect: 'sqlite'; path: string }
  | { dialect: 'postgres'; connectionString: string };

/**
 * Accepted forms:
 *   sqlite:///abs/path.db   (also sqlite:////abs/path.db, SQLAlchemy's absolute spelling)
 *   sqlite://:memory:, :memory:
 *   /abs/path.db, rel/path.db   (a plain path is a SQLite file)
 *   postgresql://..., postgres://..., postgresql+psycopg2://... (Gnocchi-style driver suffix)
 */
export function parseIndexerUrl(url: string): IndexerTarget {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (scheme === null) {
    if (url === '') throw new Error('empty indexer URL');
    return { dialect: 'sqlite', path: url === ':memory:' ? url : resolve(url) };
  }
  const base = scheme[1].toLowerCase().split('+')[0];
  const rest = url.slice(scheme[0].length);
  if (base === 'sqlite') {
    if (rest === '' || rest === ':memory:' || rest === '/:memory:') return { dialect: 'sqlite', path: ':memory:' };
    if (!rest.startsWith('/')) throw new Error(`sqlite URL must hold an absolute path: ${url}`);
    // Collapse the extra slash of the four-slash form.
    return { dialect: 'sqlite', path: rest.replace(/^\/+/, '/') };
  }
  if (base === 'postgresql' || base === 'postgres') {
    // node-postgres understands only the plain schemes.
    return { dialect: 'postgres', connectionString: `postgresql://${rest}` };
  }
  throw new Error(`unsupported indexer URL scheme: ${scheme[1]}`);
}

/** How long a writer waits for the other process's lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export interface Connected {
  db: Kysely<Database>;
  dialect: DialectName;
  /**
   * SQLite only: PRAGMA data_version of this connection, which changes whenever another
   * connection (this or another process) commits. Read on the raw handle with a prepared
   * statement (a few microseconds), it lets the indexer keep caches that other writers
   * invalidate.
   */
  dataVersion?: () => number;
  /**
   * SQLite only: a stamp that moves whenever another connection commits (data_version) or
   * this one inserts, updates or deletes a row (total_changes()), read the same way.
   */
  changes?: () => string;
}

export async function connect(target: IndexerTarget): Promise<Connected> {
  if (target.dialect === 'sqlite') {
    const { db, dataVersion, changes } = await connectSqlite(target.path);
    return { db, dialect: 'sqlite', dataVersion, changes };
  }
  return { db: await connectPostgres(target.connectionString), dialect: 'postgres' };
}

async function connectSqlite(path: string): Promise<{ db: Kysely<Database>; dataVersion: () => number; changes: () => string }> {
  // Loaded lazily so PostgreSQL deployments never load the native module.
  const { default: Sqlite } = await import('better-sqlite3');
  const database: BetterSqlite3.Database = new Sqlite(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    // BIGINT columns hold nanoseconds beyond 2^53: read every integer as bigint.
    database.defaultSafeIntegers(true);
    // WAL lets the API read while metricd writes; FULL makes each commit durable on
    // power loss, not just on process crash.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // SQLite ignores declared foreign keys unless asked, per connection.
    database.pragma('foreign_keys = ON');
  } catch (e) {
    database.close();
    throw e;
  }
  const version = database.prepare('PRAGMA data_version').pluck();
  const dataVersion = (): number => Number(version.get());
  const total = database.prepare('select total_changes()').pluck();
  const changes = (): string => `${String(version.get())}:${String(total.get())}`;
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) }), dataVersion, changes };
}

/** Distinct SQL texts whose prepared statements are kept (queries are built from a few shapes). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query it runs; better-sqlite3 statements can be run again, so the
 * same text reuses its statement. Uncached, preparing costs 3 % of the API thread while
 * creating metrics.
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => database.close(),
    prepare: (text: string) => {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = database.prepare(text);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

/** The part of node-postgres we use; declared here because `pg` is an optional dependency. */
interface PgEvents {
  on(event: 'error', listener: (e: Error) => void): unknown;
}
type PgPool = PostgresPool & PgEvents & { on(event: 'connect', listener: (client: PgEvents) => void): unknown };
interface PgModule {
  Pool: new (config: { connectionString: string; max?: number }) => PgPool;
}

async function connectPostgres(connectionString: string): Promise<Kysely<Database>> {
  // A variable specifier keeps TypeScript (and bundlers) from requiring `pg` at build time.
  const specifier = 'pg';
  let mod: { default?: PgModule } & Partial<PgModule>;
  try {
    mod = (await import(specifier)) as { default?: PgModule } & Partial<PgModule>;
  } catch (e) {
    throw new Error('PostgreSQL indexer requires the "pg" package (npm install pg)', { cause: e });
  }
  const Pool = mod.Pool ?? mod.default?.Pool;
  if (Pool === undefined) throw new Error('the "pg" module does not export Pool');
  const pool = new Pool({ connectionString, max: 10 });
  // node-postgres emits 'error' on idle clients the server terminates (a restart, a
  // failover, pg_terminate_backend), and on clients the pool already released while their
  // socket is still closing. Unhandled, that event would kill the process; handled, the
  // pool drops the client and the next query opens a new connection (a query that was
  // running gets its own error and becomes a 503).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
