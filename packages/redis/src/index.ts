// What the Redis drivers (incoming, coordination) share: the URL forms, one connection
// configured for bounded failures, the test of "Redis is unavailable", and Lua scripts run
// by digest. Each driver turns failures into its own package's errors.
//
// URL forms:
//   redis://[[user]:password@]host[:port][/db][?param=value...]
//   rediss://...                                  the same over TLS
//   redis+unix:///path/to/redis.sock[?db=N&password=...&param=value...]
// Parameters every driver reads: db (the database number, also the path of redis://),
// password and user (for redis+unix://, which has no authority part), timeout (seconds a
// command may take before it counts as failed, default 10), prefix (of every key; each
// driver has its own default so that roles can share one database). A driver may accept
// more; any other parameter is refused, so that a misspelt one is not silently ignored.
import { createHash } from 'node:crypto';
import { Redis, type RedisKey, type RedisOptions } from 'ioredis';
import { Backoff, retry } from '@tally/retry';

export type { Redis } from 'ioredis';

export const REDIS_SCHEMES = ['redis:', 'rediss:', 'redis+unix:'] as const;

const COMMON_PARAMS = ['db', 'password', 'user', 'timeout', 'prefix'];

export interface RedisTarget {
  /** ioredis options: where to connect and how to fail (see connect()). */
  options: RedisOptions;
  /** Prefix of every key of the driver. */
  prefix: string;
  /** The driver's own parameters, as given. */
  params: Map<string, string>;
  /** The URL without its password, for messages. */
  display: string;
}

/**
 * Reads a Redis URL. `extra` lists the parameters the driver accepts beside the common
 * ones; `configError` builds the driver's configuration error.
 */
export function parseRedisUrl(url: string, defaults: { prefix: string; extra?: readonly string[] },
                              configError: (message: string) => Error): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw configError(`${JSON.stringify(url)} is not a URL`);
  }
  const fail = (why: string): Error => configError(`${redact(u)}: ${why}`);
  const allowed = new Set([...COMMON_PARAMS, ...(defaults.extra ?? [])]);
  const params = new Map<string, string>();
  for (const [k, v] of u.searchParams) {
    if (!allowed.has(k)) throw fail(`unknown parameter ${k} (known: ${[...allowed].join(', ')})`);
    params.set(k, v);
  }
  const options: RedisOptions = {};
  if (u.protocol === 'redis+unix:') {
    if (u.host !== '' || !u.pathname.startsWith('/') || u.pathname === '/') throw fail('expected redis+unix:///absolute/path/of/the.sock');
    options.path = decodeURIComponent(u.pathname);
  } else if (u.protocol === 'redis:' || u.protocol === 'rediss:') {
    if (u.hostname === '') throw fail('no host');
    options.host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    options.port = u.port === '' ? 6379 : Number(u.port);
    if (u.username !== '') options.username = decodeURIComponent(u.username);
    if (u.password !== '') options.password = decodeURIComponent(u.password);
    const path = u.pathname.replace(/^\//, '');
    if (path !== '') {
      if (params.has('db')) throw fail('the database is named twice (path and db=)');
      params.set('db', path);
    }
    if (u.protocol === 'rediss:') options.tls = { servername: options.host };
  } else {
    throw fail(`not a Redis URL (schemes: ${REDIS_SCHEMES.join(', ')})`);
  }
  const db = params.get('db');
  if (db !== undefined) {
    if (!/^\d+$/.test(db)) throw fail(`db must be a database number, got ${JSON.stringify(db)}`);
    options.db = Number(db);
  }
  if (params.has('password')) options.password = params.get('password');
  if (params.has('user')) options.username = params.get('user');
  options.commandTimeout = seconds(params.get('timeout') ?? '10', 'timeout', fail);
  const prefix = params.get('prefix') ?? defaults.prefix;
  for (const k of COMMON_PARAMS) params.delete(k);
  return { options, prefix, params, display: redact(u) };
}

/** A positive number of seconds given in a URL parameter, in milliseconds. */
export function seconds(text: string, name: string, fail: (why: string) => Error): number {
  const s = Number(text);
  if (text.trim() === '' || !Number.isFinite(s) || s <= 0) throw fail(`${name} must be a positive number of seconds, got ${JSON.stringify(text)}`);
  return Math.round(s * 1000);
}

function redact(u: URL): string {
  if (u.password === '' && !u.searchParams.has('password')) return u.href;
  const copy = new URL(u.href);
  if (copy.password !== '') copy.password = '***';
  if (copy.searchParams.has('password')) copy.searchParams.set('password', '***');
  return copy.href;
}

/** Reconnection: jittered backoff up to 2 s, forever, so that a client recovers whenever Redis returns. */
const RECONNECT = { baseMs: 50, maxMs: 2000 };
/**
 * Retries of one operation: about 1.5 s at most before the caller hears the backend is
 * unavailable (its API answers 503, metricd retries the sack at its next scan).
 */
export const OPERATION_RETRY = { attempts: 6, baseMs: 50, maxMs: 800 };

/**
 * A client that fails fast instead of queueing: commands issued while disconnected are
 * refused at once, commands in flight when the connection drops fail rather than being
 * sent again behind the caller's back (the callers retry, with operations written to be
 * repeated safely), while the client itself reconnects in the background.
 */
export function connect(target: RedisTarget, opts: { subscriber?: boolean } = {}): Redis {
  const backoff = new Backoff(RECONNECT);
  const redis = new Redis({
    ...target.options,
    // RESP2: understood by every Redis version; the drivers need nothing RESP3 adds.
    protocol: 2,
    lazyConnect: false,
    // A subscriber connection must queue its SUBSCRIBE until connected and resubscribe
    // after a reconnection; it runs no operation a caller waits for.
    enableOfflineQueue: opts.subscriber === true,
    maxRetriesPerRequest: opts.subscriber === true ? null : 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => {
      if (times === 1) backoff.reset();
      return Math.max(1, Math.round(backoff.next()));
    },
  });
  // Connection errors surface through the failed commands; an unhandled 'error' event
  // would end the process.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Waits until the client is ready (connected, data loaded). Null once it is; after
 * `timeoutMs`, why it is not (the last connection error, if any).
 */
export function whenReady(redis: Redis, timeoutMs: number): Promise<string | null> {
  if (redis.status === 'ready') return Promise.resolve(null);
  return new Promise((resolve) => {
    let last = 'no answer';
    const onError = (err: Error): void => {
      last = err.message;
    };
    const done = (why: string | null): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      resolve(why);
    };
    const onReady = (): void => done(null);
    const timer = setTimeout(() => done(`not ready after ${timeoutMs} ms: ${last}`), timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/**
 * A client (see connect()) once Redis answers; `unavailable(message)` (the driver's error)
 * when it does not within the command timeout.
 */
export async function connectReady(target: RedisTarget, unavailable: (message: string) => Error): Promise<Redis> {
  const redis = connect(target);
  const notReady = await whenReady(redis, target.options.commandTimeout ?? 10_000);
  if (notReady !== null) {
    redis.disconnect(false);
    throw unavailable(`${target.display}: Redis ${notReady}`);
  }
  return redis;
}

/** Replies meaning the server cannot serve now, as opposed to a wrong command. */
const UNAVAILABLE_REPLY = /^(LOADING|MISCONF|READONLY|BUSY|TRYAGAIN|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|OOM)\b/;
/** Client-side failures of ioredis that are about the connection, not the command. */
const CONNECTION_FAILURE = /Connection is closed|Stream isn't writeable|Command timed out|connect ETIMEDOUT|Reached the max retries/;

/** True when `err` says Redis is unreachable or cannot serve now: worth another try later. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message);
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return CONNECTION_FAILURE.test(err.message);
}

/**
 * Runs `fn` with bounded retries (backoff with jitter) while Redis is unavailable; then
 * throws `unavailable(err)`, the driver's domain error. Other errors are thrown as they are.
 * `fn` must be safe to repeat: a command whose answer was lost may have been applied.
 */
export async function withRetry<T>(fn: () => Promise<T>, unavailable: (err: unknown) => Error): Promise<T> {
  try {
    return await retry(fn, { ...OPERATION_RETRY, retryable: isRedisUnavailable });
  } catch (err) {
    throw isRedisUnavailable(err) ? unavailable(err) : err;
  }
}

/**
 * A Lua script sent by its digest (EVALSHA), and in full when the server does not know it
 * (first use, or after a restart emptied its script cache). Redis runs a script atomically:
 * no other command runs between its calls, and its writes reach the AOF as one transaction.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly RedisKey[], args: ReadonlyArray<string | Buffer | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Closes a client: QUIT when connected (its replies are flushed first), else drops it. */
export async function disconnect(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // Lost meanwhile: dropping it below is all there is left to do.
    }
  }
  redis.disconnect(false);
}
