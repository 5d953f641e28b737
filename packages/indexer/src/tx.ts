// Write transactions that behave the same on both dialects.
import { retry } from '@tally/retry';
import { sql, type Kysely } from 'kysely';
import { classifyDbError } from './db-errors.js';
import type { Database } from './schema.js';
import type { DialectName } from './types.js';

const MAX_ATTEMPTS = 5;

async function rollbackQuietly<DB>(conn: Kysely<DB>): Promise<void> {
  try {
    await sql.raw('rollback').execute(conn);
  } catch {
    // The original error is the one worth reporting; a failed rollback means the
    // connection is gone, which also discards the transaction.
  }
}

/**
 * Runs `fn` in a transaction on one connection; `fn` must only use the handle it is given.
 *
 * SQLite: BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout).
 * A deferred BEGIN that reads and then writes can fail with SQLITE_BUSY_SNAPSHOT when the
 * other process committed in between, and busy_timeout does not help there.
 * Both dialects: lock/deadlock/serialization failures retry the whole transaction, like
 * Gnocchi's retry_on_deadlock; `fn` must therefore be safe to re-run.
 */
export async function inWriteTx<T, DB = Database>(
  db: Kysely<DB>,
  dialect: DialectName,
  fn: (tx: Kysely<DB>) => Promise<T>,
): Promise<T> {
  const once = (): Promise<T> => db.connection().execute(async (conn) => {
    await sql.raw(dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(conn);
    let result: T;
    try {
      result = await fn(conn);
      await sql.raw('commit').execute(conn);
    } catch (e) {
      await rollbackQuietly(conn);
      throw e;
    }
    return result;
  });
  // Between tries, full-jitter waits under 80, 160, 320 and 640 ms: at most 1.2 s in all,
  // which an API request can afford.
  return retry(once, { attempts: MAX_ATTEMPTS, baseMs: 80, maxMs: 640, retryable: (e) => classifyDbError(e) === 'busy' });
}
