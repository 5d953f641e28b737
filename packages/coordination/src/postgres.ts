// Coordination on PostgreSQL, for deployments whose index already lives there.
//
// URL: the indexer's own, postgresql://user@host:port/db (or postgres://), with an optional
// `namespace` parameter (default `tally`) that keeps deployments sharing a database apart;
// it is removed before the URL reaches the PostgreSQL client.
//
// Locks: session-level advisory locks (pg_try_advisory_lock) on a 64-bit hash of
// namespace and name, taken on one dedicated connection per coordinator. PostgreSQL drops a
// session's advisory locks when its connection ends, so a process that dies (even by
// SIGKILL) frees its locks as soon as the server notices the closed socket, which for a
// local kill is at once. When the connection is lost (server restart, network cut), every
// lock held through it is gone on the server too: the coordinator aborts their `signal`s
// and opens a new connection for the next locks. Locks are never carried over an outage.
//
// Membership: a table of members with the time each one's presence expires, written and
// compared on the server's clock (now()), so the clocks of the members' machines do not
// matter. A heartbeat pushes the expiry forward; listings skip expired rows.
import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { CoordinationConfigError, CoordinatorClosedError } from './errors.js';
import {
  PollingWatches, HeartbeatMember, checkJoinOptions, MemberExistsError, MembershipClosedError,
  type GroupMember, type JoinOptions, type Membership, type MembershipChange, type MembershipWatch,
} from './membership.js';
import { serverCall, ServerLock } from './server-driver.js';
import { waitForLock } from './lock-wait.js';
import type { CoordinatorDriver } from './drivers.js';
import type { MembershipDriver } from './membership-drivers.js';
import type { Coordinator, Lock, LockOptions } from './types.js';

export interface PostgresOptions {
  /** The connection string given to node-postgres (the URL without `namespace`). */
  connectionString: string;
  namespace: string;
}

const DEFAULT_NAMESPACE = 'tally';
const CONNECT_TIMEOUT_MS = 2_000;
export const MEMBERS_TABLE = 'tally_coordination_members';

/** Parses a postgresql:// (or postgres://) URL and its `namespace` parameter. */
export function parsePostgresUrl(url: string): PostgresOptions {
  // Not WHATWG URL: it refuses libpq's forms such as postgresql://user@/db?host=/socket/dir.
  const m = /^(postgres(?:ql)?:\/\/[^?#]*)(?:\?([^#]*))?$/.exec(url);
  if (m === null) throw new CoordinationConfigError(`coordination URL ${JSON.stringify(url)}: expected postgresql://...`);
  const params = new URLSearchParams(m[2] ?? '');
  const namespace = params.get('namespace') ?? DEFAULT_NAMESPACE;
  if (namespace === '') throw new CoordinationConfigError(`coordination URL ${url}: empty namespace`);
  params.delete('namespace');
  const query = params.toString();
  return { connectionString: query === '' ? m[1] : `${m[1]}?${query}`, namespace };
}

/** The advisory lock key of a lock name: 64 bits of SHA-256 over namespace and name, as a decimal string. */
export function advisoryKey(namespace: string, name: string): string {
  return createHash('sha256').update(namespace).update('\0').update(name).digest().readBigInt64BE(0).toString();
}

const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
const TRANSIENT_SQLSTATE = new Set(['57P01', '57P02', '57P03', '53300']);

/** Failures that say the server could not be reached or the connection went, not that the query was wrong. */
export function isTransientPgError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_ERRNO.has(code) || TRANSIENT_SQLSTATE.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection error|not queryable|timeout expired/i.test(err.message);
}

async function loadPg(): Promise<typeof pg> {
  const mod = await import('pg');
  return mod.default;
}

/** One connection and the advisory locks held on it. */
interface Session {
  client: pg.Client;
  /** Keys held or being asked for on this connection: advisory locks are re-entrant, Tally's are not. */
  keys: Map<string, ServerLock | null>;
  dead: boolean;
}

export class PostgresCoordinator implements Coordinator {
  readonly options: PostgresOptions;
  readonly #pg: typeof pg;
  #session: Promise<Session> | null = null;
  #closed = false;

  private constructor(options: PostgresOptions, pgModule: typeof pg) {
    this.options = options;
    this.#pg = pgModule;
  }

  /** Opens the coordinator's connection; CoordinationUnavailableError when the server cannot be reached. */
  static async open(options: PostgresOptions): Promise<PostgresCoordinator> {
    const c = new PostgresCoordinator(options, await loadPg());
    await serverCall('postgresql connect', () => c.#currentSession(), isTransientPgError);
    return c;
  }

  async tryLock(name: string): Promise<Lock | null> {
    this.#checkOpen();
    const key = advisoryKey(this.options.namespace, name);
    return serverCall(`postgresql lock ${name}`, async () => {
      const s = await this.#currentSession();
      if (s.keys.has(key)) return null;
      s.keys.set(key, null);
      let ok: boolean;
      try {
        const r = await s.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
        ok = r.rows[0].ok;
      } catch (err) {
        s.keys.delete(key);
        // The retry must not find this connection again before its 'end' event drops it.
        if (isTransientPgError(err)) this.#kill(s, 'the connection to PostgreSQL failed');
        throw err;
      }
      if (!ok) {
        s.keys.delete(key);
        return null;
      }
      const lock = new ServerLock(name, () => this.#unlock(s, key));
      s.keys.set(key, lock);
      if (s.dead) lock.lose('the connection to PostgreSQL closed');
      return lock;
    }, isTransientPgError);
  }

  lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    return waitForLock((n) => this.tryLock(n), name, opts);
  }

  /** Ends the connection: the server drops every advisory lock of the session with it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = await this.#session?.catch(() => null);
    if (!s) return;
    for (const lock of s.keys.values()) await lock?.release();
    s.dead = true;
    await s.client.end().catch(() => undefined);
  }

  async #unlock(s: Session, key: string): Promise<void> {
    s.keys.delete(key);
    if (s.dead || this.#closed) return; // closing or a dead connection frees it
    try {
      await s.client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    } catch (err) {
      // Unlocking on another connection is impossible: drop this one, which frees the lock
      // (and, unavoidably, the other locks held on it, whose signals then abort).
      this.#kill(s, 'the connection failed while releasing a lock');
      if (!isTransientPgError(err)) throw err;
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new CoordinatorClosedError();
  }

  #currentSession(): Promise<Session> {
    if (this.#session === null) {
      const pending = this.#connect();
      this.#session = pending;
      pending.catch(() => {
        if (this.#session === pending) this.#session = null;
      });
    }
    return this.#session;
  }

  async #connect(): Promise<Session> {
    const client = new this.#pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A peer that vanished without closing (a cut network) is noticed by TCP keepalive.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
      application_name: 'tally-coordination',
    });
    const s: Session = { client, keys: new Map(), dead: false };
    client.on('error', () => this.#kill(s, 'the connection to PostgreSQL failed'));
    client.on('end', () => this.#kill(s, 'the connection to PostgreSQL closed'));
    try {
      await client.connect();
    } catch (err) {
      s.dead = true;
      await client.end().catch(() => undefined);
      throw err;
    }
    return s;
  }

  #kill(s: Session, why: string): void {
    if (s.dead) return;
    s.dead = true;
    for (const lock of s.keys.values()) lock?.lose(why);
    s.keys.clear();
    void this.#session?.then((cur) => {
      if (cur === s) this.#session = null;
    }, () => undefined);
    void s.client.end().catch(() => undefined);
  }
}

export class PostgresMembership implements Membership {
  readonly options: PostgresOptions;
  readonly #pool: pg.Pool;
  readonly #joined = new Set<HeartbeatMember>();
  readonly #watches = new PollingWatches();
  #closed = false;

  private constructor(options: PostgresOptions, pool: pg.Pool) {
    this.options = options;
    this.#pool = pool;
  }

  /** Opens a small pool and creates the members table if needed. */
  static async open(options: PostgresOptions): Promise<PostgresMembership> {
    const pgModule = await loadPg();
    const pool = new pgModule.Pool({
      connectionString: options.connectionString, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true, application_name: 'tally-membership',
    });
    // Idle clients the server terminates emit 'error'; the pool replaces them.
    pool.on('error', () => undefined);
    const m = new PostgresMembership(options, pool);
    try {
      // Two processes creating the table at once: one of them fails on the catalog's unique
      // index (23505) or finds it made (42P07); the retry then sees it.
      await serverCall('postgresql membership table', () => pool.query(`
        CREATE TABLE IF NOT EXISTS ${MEMBERS_TABLE} (
          ns TEXT NOT NULL,
          grp TEXT NOT NULL,
          member TEXT NOT NULL,
          token TEXT NOT NULL,
          expires_at TIMESTAMPTZ NOT NULL,
          PRIMARY KEY (ns, grp, member)
        )`), (err) => isTransientPgError(err) || ['23505', '42P07'].includes(String((err as { code?: unknown }).code)));
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return m;
  }

  async join(group: string, memberId: string, options: JoinOptions): Promise<GroupMember> {
    this.#checkOpen();
    checkJoinOptions(options);
    const token = randomUUID();
    const claim = (): Promise<boolean> => this.#claim(group, memberId, token, options.timeoutMs);
    if (!(await claim())) throw new MemberExistsError(group, memberId);
    const member = new HeartbeatMember(group, memberId, options.heartbeatMs, {
      beat: claim,
      remove: async () => {
        await this.#query('postgresql leave', `DELETE FROM ${MEMBERS_TABLE} WHERE ns = $1 AND grp = $2 AND member = $3 AND token = $4`,
          [this.options.namespace, group, memberId, token]);
      },
      forget: () => this.#joined.delete(member),
    });
    this.#joined.add(member);
    return member;
  }

  async members(group: string): Promise<string[]> {
    this.#checkOpen();
    const r = await this.#query<{ member: string }>('postgresql members',
      `SELECT member FROM ${MEMBERS_TABLE} WHERE ns = $1 AND grp = $2 AND expires_at > now()`, [this.options.namespace, group]);
    // Sorted here rather than by ORDER BY, whose order depends on the database's collation.
    return r.rows.map((row) => row.member).sort();
  }

  watch(group: string, onChange: (change: MembershipChange) => void,
        options: { pollMs?: number; onError?: (err: unknown) => void } = {}): MembershipWatch {
    this.#checkOpen();
    return this.#watches.add(() => this.members(group), group, onChange, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#watches.stopAll();
    for (const m of [...this.#joined]) await m.leave().catch(() => undefined);
    this.#closed = true;
    await this.#pool.end().catch(() => undefined);
  }

  /** Stops heartbeating and disconnects without leaving, as a crashed process would. For tests. */
  async abandon(): Promise<void> {
    this.#watches.stopAll();
    for (const m of this.#joined) m.stopBeating();
    this.#joined.clear();
    this.#closed = true;
    await this.#pool.end().catch(() => undefined);
  }

  /**
   * Inserts or renews the row of `memberId` unless another live holder (another token) has
   * it; expiry and liveness are both judged by the server's clock. True when `token` holds it.
   */
  async #claim(group: string, memberId: string, token: string, timeoutMs: number): Promise<boolean> {
    const r = await this.#query('postgresql join', `
      INSERT INTO ${MEMBERS_TABLE} AS m (ns, grp, member, token, expires_at)
      VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
      ON CONFLICT (ns, grp, member) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
      WHERE m.token = excluded.token OR m.expires_at <= now()`,
    [this.options.namespace, group, memberId, token, timeoutMs]);
    return (r.rowCount ?? 0) > 0;
  }

  #query<R extends pg.QueryResultRow = pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    return serverCall(what, () => {
      this.#checkOpen();
      return this.#pool.query<R>(sql, params);
    }, isTransientPgError);
  }

  #checkOpen(): void {
    if (this.#closed) throw new MembershipClosedError();
  }
}

export const postgresCoordinatorDriver: CoordinatorDriver = {
  open: (url) => PostgresCoordinator.open(parsePostgresUrl(url)),
};

export const postgresMembershipDriver: MembershipDriver = {
  open: (url) => PostgresMembership.open(parsePostgresUrl(url)),
};
