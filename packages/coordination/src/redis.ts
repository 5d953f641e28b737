// Locks and group membership in Redis, for processes on several hosts. URL forms and
// common parameters: @tally/redis (redis://host:port/db, rediss://...,
// redis+unix:///path.sock?db=N); keys start with `prefix` (default "tally:coordination:").
// `lock_timeout` (seconds, default 30) is how long a lock outlives a holder that stopped
// refreshing it: the time a crashed process keeps its sacks from other workers.
//
//   <prefix>lock:<name>            the holder's random token, with the lock's TTL
//   <prefix>group:<group>          sorted set: member -> expiry (ms, Redis' own clock)
//   <prefix>group:<group>:tokens   hash: member -> token of the handle that joined
//
// Redis cannot tell that a client died, so both roles work by expiry: a holder refreshes
// its locks every third of their TTL and a member heartbeats; a process that stops doing
// so (killed, hung, cut off) loses its locks after `lock_timeout` and drops out of its
// groups after its `timeoutMs`. Every change is a Lua script that checks the caller's
// token first (fencing), so a late or repeated call never releases or renews a lock or a
// membership someone else has taken since; scripts are thus safe to retry after a lost
// answer. Expiry is measured by Redis' clock (TIME), never by the clocks of the clients.
import { randomBytes } from 'node:crypto';
import {
  LuaScript, connectReady, disconnect, parseRedisUrl, seconds, withRetry, type Redis, type RedisTarget,
} from '@tally/redis';
import { CoordinationConfigError, CoordinationUnavailableError, CoordinatorClosedError, LockLostError } from './errors.js';
import {
  PollingWatches, HeartbeatMember, checkJoinOptions, MemberExistsError, MembershipClosedError,
  type GroupMember, type JoinOptions, type Membership, type MembershipChange, type MembershipWatch,
} from './membership.js';
import type { Coordinator, Lock, LockOptions } from './types.js';
import { waitForLock } from './lock-wait.js';
import type { CoordinatorDriver } from './drivers.js';
import type { MembershipDriver } from './membership-drivers.js';

const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** Lock polling, as the file driver's: a sack round is often a few milliseconds. */

/** KEYS: lock. ARGV: token, ttl (ms). 1 when the token holds the lock (taken now, or already). */
const ACQUIRE = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`);

/** KEYS: lock. ARGV: token, ttl (ms). 1 when the token still held it and its TTL was renewed. */
const REFRESH = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`);

/** KEYS: lock. ARGV: token. Deletes the lock only if the token holds it. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`);

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: group, tokens. ARGV: member, token, timeout (ms). Joins or renews unless a live
 * member of another handle has the id; forgets the members that expired. 1 when held.
 */
const CLAIM = new LuaScript(`${NOW}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expiry and tonumber(expiry) > now and redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
end
return 1`);

/** KEYS: group, tokens. ARGV: member, token. Leaves if the token still holds the id. */
const LEAVE = new LuaScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1`);

/** KEYS: group. The members whose expiry is still ahead. */
const LIVE = new LuaScript(`${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`);

function unavailable(what: string): (err: unknown) => Error {
  return (err) => new CoordinationUnavailableError(`${what}: Redis unavailable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
}

function token(): string {
  return randomBytes(16).toString('hex');
}

function parseTarget(url: string): RedisTarget {
  return parseRedisUrl(url, { prefix: 'tally:coordination:', extra: ['lock_timeout'] },
    (m) => new CoordinationConfigError(`coordination URL ${m}`));
}

function open(target: RedisTarget): Promise<Redis> {
  return connectReady(target, (m) => new CoordinationUnavailableError(`coordination ${m}`));
}

export class RedisCoordinator implements Coordinator {
  readonly url: string;
  /** How long a lock outlives a holder that stopped refreshing it (ms). */
  readonly lockTimeoutMs: number;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #held = new Set<RedisLock>();
  #closed = false;

  private constructor(url: string, prefix: string, redis: Redis, lockTimeoutMs: number) {
    this.url = url;
    this.#redis = redis;
    this.#prefix = prefix;
    this.lockTimeoutMs = lockTimeoutMs;
  }

  static async open(url: string): Promise<RedisCoordinator> {
    const target = parseTarget(url);
    const ttl = target.params.get('lock_timeout');
    const lockTimeoutMs = ttl === undefined ? DEFAULT_LOCK_TIMEOUT_MS
      : seconds(ttl, 'lock_timeout', (why) => new CoordinationConfigError(`coordination URL ${target.display}: ${why}`));
    return new RedisCoordinator(url, target.prefix, await open(target), lockTimeoutMs);
  }

  async tryLock(name: string): Promise<Lock | null> {
    this.#checkOpen();
    const key = this.#key(name);
    // One token for every try: an answer lost with the connection is then recognised as ours.
    const mine = token();
    // The TTL runs from when Redis saw the request: counting from before it was sent errs on the safe side.
    const sentAt = performance.now();
    const got = await withRetry(() => ACQUIRE.run(this.#redis, [key], [mine, this.lockTimeoutMs]), unavailable(`taking lock ${name}`));
    if (got !== 1) return null;
    if (this.#closed) {
      await this.#release(key, mine).catch(() => undefined);
      throw new CoordinatorClosedError();
    }
    const lock = new RedisLock(name, this.lockTimeoutMs, sentAt, {
      refresh: () => REFRESH.run(this.#redis, [key], [mine, this.lockTimeoutMs]).then((r) => r === 1),
      release: () => this.#release(key, mine),
      forget: () => this.#held.delete(lock),
    });
    this.#held.add(lock);
    return lock;
  }

  lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    return waitForLock((n) => this.tryLock(n), name, opts);
  }

  /** Releases every lock held through this coordinator, then closes its connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#held].map((l) => l.release()));
    await disconnect(this.#redis);
  }

  /**
   * Stops refreshing and closes the connection without releasing anything, as a process
   * that crashed would: its locks stay taken until their TTL runs out. For tests.
   */
  abandon(): void {
    for (const l of this.#held) l.stopRefreshing();
    this.#held.clear();
    this.#closed = true;
    this.#redis.disconnect(false);
  }

  async #release(key: string, mine: string): Promise<void> {
    await withRetry(() => RELEASE.run(this.#redis, [key], [mine]), unavailable('releasing a lock'));
  }

  #key(name: string): string {
    return `${this.#prefix}lock:${name}`;
  }

  #checkOpen(): void {
    if (this.#closed) throw new CoordinatorClosedError();
  }
}

interface LockOps {
  refresh(): Promise<boolean>;
  release(): Promise<void>;
  forget(): void;
}

class RedisLock implements Lock {
  readonly #ops: LockOps;
  readonly #timer: NodeJS.Timeout;
  readonly #controller = new AbortController();
  readonly #ttlMs: number;
  readonly #marginMs: number;
  #deadline: NodeJS.Timeout | null = null;
  #released = false;
  /** When the last refresh Redis confirmed was sent (monotonic ms): the key lives a TTL from then at least. */
  #confirmedAt: number;

  constructor(readonly name: string, ttlMs: number, sentAt: number, ops: LockOps) {
    this.#ops = ops;
    this.#ttlMs = ttlMs;
    // Given up before the key can expire: a quarter of the TTL (at most a second) early, for
    // a late timer and the time a caller takes between two looks at the signal.
    this.#marginMs = Math.min(1000, ttlMs / 4);
    this.#confirmedAt = sentAt;
    this.#arm();
    // A failed refresh (Redis unreachable for a moment) is retried at the next tick; the
    // TTL spans three of them. A refresh that finds another token has the lock (this
    // process stalled past the TTL) loses it: the lock is someone else's now.
    this.#timer = setInterval(() => {
      const sent = performance.now();
      ops.refresh().then((held) => {
        if (!held) {
          this.#lose('another holder has it (this process stalled past its TTL)');
        } else if (sent > this.#confirmedAt) {
          this.#confirmedAt = sent;
          this.#arm();
        }
      }, () => undefined);
    }, Math.max(1, Math.floor(ttlMs / 3)));
    this.#timer.unref();
  }

  /** (Re)sets the moment the lock counts as lost unless a refresh is confirmed before. */
  #arm(): void {
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    const at = this.#confirmedAt + this.#ttlMs - this.#marginMs;
    this.#deadline = setTimeout(() => this.#lose('not refreshed within its TTL (Redis unreachable)'), Math.max(0, at - performance.now()));
    this.#deadline.unref();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #lose(why: string): void {
    this.stopRefreshing();
    if (!this.#released && !this.#controller.signal.aborted) this.#controller.abort(new LockLostError(this.name, why));
  }

  stopRefreshing(): void {
    clearInterval(this.#timer);
    if (this.#deadline !== null) clearTimeout(this.#deadline);
  }

  /**
   * Idempotent. When Redis cannot be reached the release still resolves: refreshing has
   * stopped, so the lock frees itself when its TTL runs out, and failing the caller's
   * cleanup would add nothing.
   */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.stopRefreshing();
    this.#ops.forget();
    try {
      await this.#ops.release();
    } catch (err) {
      if (!(err instanceof CoordinationUnavailableError)) throw err;
    }
  }
}

export class RedisMembership implements Membership {
  readonly url: string;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #joined = new Set<HeartbeatMember>();
  readonly #watches = new PollingWatches();
  #closed = false;

  private constructor(url: string, target: RedisTarget, redis: Redis) {
    this.url = url;
    this.#redis = redis;
    this.#prefix = target.prefix;
  }

  static async open(url: string): Promise<RedisMembership> {
    const target = parseTarget(url);
    return new RedisMembership(url, target, await open(target));
  }

  async join(group: string, memberId: string, options: JoinOptions): Promise<GroupMember> {
    this.#checkOpen();
    checkJoinOptions(options);
    const keys = this.#keys(group);
    const mine = token();
    const claim = (): Promise<boolean> => withRetry(
      () => CLAIM.run(this.#redis, keys, [memberId, mine, options.timeoutMs]), unavailable(`joining ${group}`)).then((r) => r === 1);
    if (!(await claim())) throw new MemberExistsError(group, memberId);
    // A beat that finds the id taken by a live newcomer leaves it to the newcomer.
    const member = new HeartbeatMember(group, memberId, options.heartbeatMs, {
      beat: claim,
      remove: async () => {
        await withRetry(() => LEAVE.run(this.#redis, keys, [memberId, mine]), unavailable(`leaving ${group}`));
      },
      forget: () => this.#joined.delete(member),
    });
    this.#joined.add(member);
    return member;
  }

  async members(group: string): Promise<string[]> {
    this.#checkOpen();
    const [key] = this.#keys(group);
    const live = await withRetry(() => LIVE.run(this.#redis, [key], []), unavailable(`listing ${group}`)) as string[];
    return live.sort();
  }

  watch(group: string, onChange: (change: MembershipChange) => void,
        options: { pollMs?: number; onError?: (err: unknown) => void } = {}): MembershipWatch {
    this.#checkOpen();
    return this.#watches.add(() => this.members(group), group, onChange, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#watches.stopAll();
    await Promise.all([...this.#joined].map((m) => m.leave().catch(() => undefined)));
    this.#closed = true;
    await disconnect(this.#redis);
  }

  /** Stops heartbeating and disconnects without leaving, as a process that crashed would. For tests. */
  abandon(): void {
    this.#watches.stopAll();
    for (const m of this.#joined) m.stopBeating();
    this.#joined.clear();
    this.#closed = true;
    this.#redis.disconnect(false);
  }

  #keys(group: string): [string, string] {
    const key = `${this.#prefix}group:${group}`;
    return [key, `${key}:tokens`];
  }

  #checkOpen(): void {
    if (this.#closed) throw new MembershipClosedError();
  }
}

/** `redis://`, `rediss://`, `redis+unix://`: RedisCoordinator. */
export const redisCoordinatorDriver: CoordinatorDriver = {
  open: (url) => RedisCoordinator.open(url),
};

/** `redis://`, `rediss://`, `redis+unix://`: RedisMembership. */
export const redisMembershipDriver: MembershipDriver = {
  open: (url) => RedisMembership.open(url),
};
