// Turning an indexer URL into a Kysely instance.
import { resolve } from 'node:path';
import { close as closeCallback, fdatasync as fdatasyncCallback, open as openCallback } from 'node:fs';
import { promisify } from 'node:util';
import {
  Kysely, PostgresDialect, SqliteDialect, type DatabaseConnection, type Driver, type PostgresPool, type QueryCompiler,
  type SqliteDatabase, type TransactionSettings,
} from 'kysely';
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
  /** SQLite only: fdatasyncs of the WAL completed so far (each write waits for one). */
  walSyncs?: () => number;
}

export async function connect(target: IndexerTarget): Promise<Connected> {
  if (target.dialect === 'sqlite') {
    const { db, dataVersion, walSyncs } = await connectSqlite(target.path);
    return { db, dialect: 'sqlite', dataVersion, walSyncs };
  }
  return { db: await connectPostgres(target.connectionString), dialect: 'postgres' };
}

async function connectSqlite(path: string): Promise<{ db: Kysely<Database>; dataVersion: () => number; walSyncs: () => number }> {
  // Loaded lazily so PostgreSQL deployments never load the native module.
  const { default: Sqlite } = await import('better-sqlite3');
  const database: BetterSqlite3.Database = new Sqlite(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    // BIGINT columns hold nanoseconds beyond 2^53: read every integer as bigint.
    database.defaultSafeIntegers(true);
    // WAL lets the API read while metricd writes. Every commit is made durable on power
    // loss, not just on process crash, by DurableSqliteDriver below rather than by
    // synchronous = FULL: FULL fsyncs inside the COMMIT, and better-sqlite3 runs statements
    // on the calling thread, so the API's event loop stood still for every fsync (65 % of
    // its time while creating metrics from 8 clients).
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // SQLite ignores declared foreign keys unless asked, per connection.
    database.pragma('foreign_keys = ON');
  } catch (e) {
    database.close();
    throw e;
  }
  const version = database.prepare('PRAGMA data_version').pluck();
  const dataVersion = (): number => Number(version.get());
  const writes = { pending: false };
  const wal = walSyncer(`${path}-wal`);
  const dialect = new DurableSqliteDialect({ database: withStatementCache(database, writes) }, database, writes, wal.sync);
  return { db: new Kysely<Database>({ dialect }), dataVersion, walSyncs: wal.count };
}

const openFd = promisify(openCallback);
const closeFd = promisify(closeCallback);
const fdatasyncFd = promisify(fdatasyncCallback);

/**
 * fdatasync of the WAL file on libuv's thread pool, shared by the callers that ask while
 * one is under way: a caller is served by a sync that started after it asked (one that
 * was already running may have missed its frames). An in-memory database has no file.
 */
function walSyncer(walPath: string): { sync: () => Promise<void>; count: () => number } {
  let done = 0;
  if (walPath.startsWith(':memory:')) return { sync: () => Promise.resolve(), count: () => done };
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const once = async (): Promise<void> => {
    // Opened each time: the WAL file is removed when the last connection to the database
    // closes (another process's), and a kept descriptor would then sync a dead file.
    const fd = await openFd(walPath, 'r');
    try {
      await fdatasyncFd(fd);
      done++;
    } finally {
      await closeFd(fd);
    }
  };
  const sync = (): Promise<void> => {
    if (running === null) {
      running = once().finally(() => {
        running = null;
      });
      return running;
    }
    next ??= running.catch(() => undefined).then(() => {
      next = null;
      return sync();
    });
    return next;
  };
  return { sync, count: () => done };
}

/** SqliteDialect whose driver makes each write transaction durable before it answers. */
class DurableSqliteDialect extends SqliteDialect {
  constructor(
    config: ConstructorParameters<typeof SqliteDialect>[0],
    private readonly database: BetterSqlite3.Database,
    private readonly writes: { pending: boolean },
    private readonly sync: () => Promise<void>,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new DurableSqliteDriver(super.createDriver(), this.database, this.writes, this.sync);
  }
}

/**
 * Kysely's SQLite driver, with synchronous = NORMAL made as durable as FULL: when a
 * connection is released after a statement that may have written (any statement that is
 * not a reader: an INSERT, a COMMIT...) and no transaction is open any more, the release
 * waits for an fdatasync of the WAL file, which holds every frame committed so far. The
 * connection is handed back first, so other queries run while the disk works; the caller
 * gets its answer only once its commit is durable. (A checkpoint in NORMAL syncs the WAL
 * before copying it into the database and the database after, so frames a checkpoint has
 * moved are durable too.)
 */
class DurableSqliteDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly database: BetterSqlite3.Database,
    private readonly writes: { pending: boolean },
    private readonly sync: () => Promise<void>,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.inner.acquireConnection();
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.savepoint?.(connection, name, compile);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.rollbackToSavepoint?.(connection, name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.releaseSavepoint?.(connection, name, compile);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const durable = this.writes.pending && !this.database.inTransaction;
    if (durable) this.writes.pending = false;
    await this.inner.releaseConnection(connection);
    if (durable) await this.sync();
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Distinct SQL texts whose prepared statements are kept (queries are built from a few shapes). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query it runs; better-sqlite3 statements can be run again, so the
 * same text reuses its statement. Uncached, preparing costs 3 % of the API thread while
 * creating metrics.
 */
function withStatementCache(database: BetterSqlite3.Database, writes: { pending: boolean }): SqliteDatabase {
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
      // Kysely prepares each statement right before running it: one that is not a reader
      // may write, and its transaction must be made durable when it ends.
      if (!statement.reader) writes.pending = true;
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
