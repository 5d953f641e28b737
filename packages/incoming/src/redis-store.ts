// Unprocessed measures in Redis, for deployments whose API and processing workers run on
// several hosts. URL forms and parameters: @tally/redis (redis://host:port/db,
// rediss://..., redis+unix:///path.sock?db=N); keys start with `prefix` (default
// "tally:incoming:").
//
// Layout, as Gnocchi's Redis driver keeps one key per sack rather than one key space:
//   <prefix>config                 hash: format, sacks
//   <prefix>sack-<n>:batches       sorted set of the sack's batch ids (all scored 0, so
//                                  listed in id order, which is time order)
//   <prefix>sack-<n>:data          hash: batch id -> the batch's entries of this sack, in the
//                                  file driver's batch format (a CRC-32 per entry)
//   <prefix>sack-<n>:meta          hash: batch id -> JSON [[metric id, measures], ...]
//   <prefix>sack-<n>:counts        hash: metric id -> measures waiting (what backlog() reads)
//   <prefix>sack-<n>:parked        hash: "<batch id>.<metric id>" -> measures parked (see
//                                  park()), in the batch format, one entry
//   <prefix>sack-<n>:parked-counts hash: the same fields -> measures in each
//   <prefix>quarantine             hash: "<batch id>.sack-<n>" -> the entries set aside
//   <prefix>quarantined            set of the batch ids set aside
//   <prefix>new                    pub/sub channel: sacks that received a batch
// Gnocchi appends each metric's measures to a list; Tally needs batch ids instead (storage
// records which batches a metric has folded, so that a batch is applied exactly once), so
// a batch is one field per sack it touches, added with the counts by one Lua script.
//
// Durability: Redis answers a write only once it is in its append-only file, written with
// write(2); with `appendfsync always` it is also fsynced before the answer, so an
// acknowledged batch survives a crash of Redis or of its host. With `everysec` (Redis'
// default) a crash of Redis alone loses nothing acknowledged, a crash of the host up to
// about a second; with `no`, whatever the kernel had not flushed. With `appendonly no`
// only RDB snapshots keep data: everything since the last one is lost when Redis stops,
// and the driver warns at open.
import { IncomingClosedError, IncomingConfigError, IncomingUnavailableError } from './errors.js';
import { encodeBatch, decodeBatch, decodeParked, encodeParked, validateMeasures } from './batch-format.js';
import { backlogOf } from './backlog.js';
import { BATCH_ID, nextBatchId, parkedEntryOf, parkedName, sackFor } from './ids.js';
import { DEFAULT_SACKS } from './file-store.js';
import type { Backlog, BacklogOptions, IncomingStore, Measures, ParkedEntry } from './types.js';
import type { IncomingDriver } from './drivers.js';
import {
  LuaScript, connect, connectReady, disconnect, parseRedisUrl, withRetry, type Redis, type RedisTarget,
} from '@tally/redis';

const FORMAT = 'tally-incoming-redis-1';
/** Ids per deletion script: bounds the time one script holds Redis. */
const DELETE_CHUNK = 1000;

/** Creates the configuration when absent; returns the format and sack count in force. */
const INIT = new LuaScript(`
redis.call('HSETNX', KEYS[1], 'format', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[1], 'sacks', ARGV[2]) end
return redis.call('HMGET', KEYS[1], 'format', 'sacks')`);

/**
 * Adds one batch to every sack it touches, with its counts, and announces the sacks.
 * KEYS: per sack batches, data, meta, counts. ARGV: batch id, channel, sack list, then per
 * sack its data and meta. Repeating it (an answer lost with the connection) adds nothing
 * twice: a sack that already lists the id is left as it is.
 */
const ADD = new LuaScript(`
local id = ARGV[1]
for i = 0, #KEYS / 4 - 1 do
  local k = i * 4
  if redis.call('ZADD', KEYS[k + 1], 'NX', 0, id) == 1 then
    redis.call('HSET', KEYS[k + 2], id, ARGV[4 + i * 2])
    redis.call('HSET', KEYS[k + 3], id, ARGV[5 + i * 2])
    for _, e in ipairs(cjson.decode(ARGV[5 + i * 2])) do
      redis.call('HINCRBY', KEYS[k + 4], e[1], e[2])
    end
  end
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`);

/** Lua helper shared by the scripts that take a batch out of a sack. */
const TAKE_OUT = `
local function take_out(batches, data, meta, counts, id)
  if redis.call('ZREM', batches, id) == 0 then return nil end
  local m = redis.call('HGET', meta, id)
  if m then
    for _, e in ipairs(cjson.decode(m)) do
      if redis.call('HINCRBY', counts, e[1], -e[2]) <= 0 then redis.call('HDEL', counts, e[1]) end
    end
  end
  local blob = redis.call('HGET', data, id)
  redis.call('HDEL', data, id)
  redis.call('HDEL', meta, id)
  return blob
end`;

/** KEYS: batches, data, meta, counts of one sack. ARGV: batch ids. Unknown ids are skipped. */
const DELETE = new LuaScript(`${TAKE_OUT}
for _, id in ipairs(ARGV) do take_out(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id) end
return 1`);

/** KEYS: batches, data, meta, counts, quarantine, quarantined. ARGV: batch id, quarantine field. */
const QUARANTINE = new LuaScript(`${TAKE_OUT}
local blob = take_out(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1])
if blob then
  redis.call('HSET', KEYS[5], ARGV[2], blob)
  redis.call('SADD', KEYS[6], ARGV[1])
end
return 1`);

/**
 * Sets the sack count if the sacks of the current one hold no batch. KEYS: config, then
 * the batches and parked keys of every current sack. ARGV: current count, new count. Returns the
 * batches waiting (0 when the count was changed), -1 when the count changed meanwhile.
 */
const RESIZE = new LuaScript(`
if redis.call('HGET', KEYS[1], 'sacks') ~= ARGV[1] then return -1 end
local waiting = 0
for i = 2, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind == 'zset' then waiting = waiting + redis.call('ZCARD', KEYS[i])
  elseif kind == 'hash' then waiting = waiting + redis.call('HLEN', KEYS[i]) end
end
if waiting == 0 then redis.call('HSET', KEYS[1], 'sacks', ARGV[2]) end
return waiting`);

interface SackKeys {
  batches: string;
  data: string;
  meta: string;
  counts: string;
  parked: string;
  parkedCounts: string;
}

function unavailable(what: string): (err: unknown) => Error {
  return (err) => new IncomingUnavailableError(`${what}: Redis unavailable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
}

/** Connects and waits until Redis answers; IncomingUnavailableError when it does not in time. */
function open(target: RedisTarget): Promise<Redis> {
  return connectReady(target, (m) => new IncomingUnavailableError(`incoming store ${m}`));
}

function checkSacks(sacks: number): void {
  if (!Number.isInteger(sacks) || sacks < 1 || sacks > 65536) {
    throw new RangeError(`sacks must be an integer in [1, 65536], got ${sacks}`);
  }
}

export class RedisIncomingStore implements IncomingStore {
  readonly url: string;
  readonly sacks: number;
  readonly #redis: Redis;
  readonly #target: RedisTarget;
  readonly #sackKeys: SackKeys[];
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #watchers = new Set<() => void>();
  #closed = false;

  private constructor(url: string, target: RedisTarget, redis: Redis, sacks: number) {
    this.url = url;
    this.#target = target;
    this.#redis = redis;
    this.sacks = sacks;
    const p = target.prefix;
    this.#sackKeys = Array.from({ length: sacks }, (_, s) => ({
      batches: `${p}sack-${s}:batches`, data: `${p}sack-${s}:data`, meta: `${p}sack-${s}:meta`, counts: `${p}sack-${s}:counts`,
      parked: `${p}sack-${s}:parked`, parkedCounts: `${p}sack-${s}:parked-counts`,
    }));
  }

  /**
   * Opens (creating if needed) the store `url` names; IncomingConfigError when it holds
   * another sack count or is not an incoming store.
   */
  static async open(url: string, sacks?: number): Promise<RedisIncomingStore> {
    if (sacks !== undefined) checkSacks(sacks);
    const target = parseTarget(url);
    const redis = await open(target);
    try {
      const [format, actual] = await withRetry(
        () => INIT.run(redis, [`${target.prefix}config`], [FORMAT, String(sacks ?? DEFAULT_SACKS)]),
        unavailable('opening the incoming store')) as [string | null, string | null];
      if (format !== FORMAT || actual === null) {
        throw new IncomingConfigError(`${target.display}: ${target.prefix}config is not a ${FORMAT} store`);
      }
      if (sacks !== undefined && Number(actual) !== sacks) {
        throw new IncomingConfigError(`${target.display} holds ${actual} sacks, not ${sacks} (tally change-sack-size changes it)`);
      }
      await warnWithoutAof(redis, target.display);
      return new RedisIncomingStore(url, target, redis, Number(actual));
    } catch (err) {
      redis.disconnect(false);
      throw err;
    }
  }

  sackOf(metricId: string): number {
    return sackFor(metricId, this.sacks);
  }

  /**
   * One batch per call, in one script: every sack it touches gets its part, or none does.
   * Concurrent calls need no merging: Redis fsyncs the AOF once for all the writes of one
   * pass of its event loop.
   */
  add(measures: Map<string, Measures>): Promise<void> {
    if (this.#closed) return Promise.reject(new IncomingClosedError());
    let bytes: number;
    try {
      bytes = validateMeasures(measures);
    } catch (err) {
      return Promise.reject(err);
    }
    if (bytes === 0) return Promise.resolve();
    const bySack = new Map<number, Map<string, Measures[]>>();
    for (const [metric, m] of measures) {
      if (m.ts.length === 0) continue;
      const sack = this.sackOf(metric);
      let part = bySack.get(sack);
      if (!part) bySack.set(sack, (part = new Map()));
      part.set(metric, [m]);
    }
    const id = nextBatchId();
    const keys: string[] = [];
    const parts: Array<Buffer | string> = [];
    for (const [sack, metrics] of bySack) {
      const k = this.#sackKeys[sack];
      keys.push(k.batches, k.data, k.meta, k.counts);
      parts.push(Buffer.concat(encodeBatch(metrics, () => sack).buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength))));
      parts.push(JSON.stringify([...metrics].map(([metric, [m]]) => [metric, m.ts.length])));
    }
    const args = [id, `${this.#target.prefix}new`, [...bySack.keys()].join(','), ...parts];
    return this.#track(withRetry(() => ADD.run(this.#redis, keys, args), unavailable('adding measures')).then(() => undefined));
  }

  async listBatches(sack: number): Promise<string[]> {
    const k = this.#keys(sack);
    return this.#call('listing batches', () => this.#redis.zrange(k.batches, '0', '-1'));
  }

  /** CorruptBatchError when the stored entries fail their checks (see quarantine). */
  async readBatch(sack: number, id: string): Promise<Map<string, Measures>> {
    const k = this.#keys(sack);
    checkId(id);
    const blob = await this.#call('reading a batch', () => this.#redis.hgetBuffer(k.data, id));
    if (blob === null) throw new RangeError(`no batch ${id} in sack ${sack}`);
    return decodeBatch(blob, `${this.#target.display} sack ${sack} batch ${id}`, (e) => e.sack === sack);
  }

  async deleteBatches(sack: number, ids: string[]): Promise<void> {
    const k = this.#keys(sack);
    for (const id of ids) checkId(id);
    for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
      const chunk = ids.slice(i, i + DELETE_CHUNK);
      await this.#call('deleting batches', () => DELETE.run(this.#redis, [k.batches, k.data, k.meta, k.counts], chunk));
    }
  }

  /** Moves the sack's entries of the batch to `<prefix>quarantine` as "<id>.sack-<n>"; other sacks keep theirs. */
  async quarantine(sack: number, id: string): Promise<void> {
    const k = this.#keys(sack);
    checkId(id);
    const p = this.#target.prefix;
    await this.#call('quarantining a batch', () => QUARANTINE.run(this.#redis,
      [k.batches, k.data, k.meta, k.counts, `${p}quarantine`, `${p}quarantined`], [id, `${id}.sack-${sack}`]));
  }

  /** One MULTI: the measures and their count, or neither. */
  async park(sack: number, entry: ParkedEntry, measures: Measures): Promise<void> {
    const k = this.#keys(sack);
    const field = parkedName(entry);
    const blob = Buffer.concat(encodeParked(entry.metricId, measures, sack).buffers
      .map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    await this.#call('parking measures', () => executed(this.#redis.multi()
      .hset(k.parked, field, blob).hset(k.parkedCounts, field, String(measures.ts.length))));
  }

  async listParked(sack: number): Promise<ParkedEntry[]> {
    const k = this.#keys(sack);
    const fields = await this.#call('listing parked measures', () => this.#redis.hkeys(k.parked));
    return fields.sort().map(parkedEntryOf).filter((e): e is ParkedEntry => e !== null);
  }

  async readParked(sack: number, entry: ParkedEntry): Promise<Measures> {
    const k = this.#keys(sack);
    const field = parkedName(entry);
    const label = `${this.#target.display} sack ${sack} parked ${field}`;
    const blob = await this.#call('reading parked measures', () => this.#redis.hgetBuffer(k.parked, field));
    if (blob === null) throw new RangeError(`nothing parked as ${field} in sack ${sack}`);
    return decodeParked(blob, label, entry.metricId);
  }

  async unpark(sack: number, entries: ParkedEntry[]): Promise<void> {
    const k = this.#keys(sack);
    const fields = entries.map(parkedName);
    for (let i = 0; i < fields.length; i += DELETE_CHUNK) {
      const chunk = fields.slice(i, i + DELETE_CHUNK);
      await this.#call('unparking measures', () => executed(this.#redis.multi().hdel(k.parked, ...chunk).hdel(k.parkedCounts, ...chunk)));
    }
  }

  /** Reads the per-sack counts the scripts keep, not the batches. */
  async backlog(options: BacklogOptions = {}): Promise<Backlog> {
    const [counts, parked, quarantined] = await this.#call('counting the backlog', () => Promise.all([
      Promise.all(this.#sackKeys.map((k) => this.#redis.hgetall(k.counts))),
      Promise.all(this.#sackKeys.map((k) => this.#redis.hgetall(k.parkedCounts))),
      this.#redis.scard(`${this.#target.prefix}quarantined`),
    ]));
    const parkedPerMetric = new Map<string, number>();
    for (const sack of parked) {
      for (const [field, n] of Object.entries(sack)) {
        const entry = parkedEntryOf(field);
        if (entry !== null) parkedPerMetric.set(entry.metricId, (parkedPerMetric.get(entry.metricId) ?? 0) + Number(n));
      }
    }
    const waiting = counts.map((sack) => new Map(Object.entries(sack).map(([metric, n]) => [metric, Number(n)])));
    return backlogOf(waiting, parkedPerMetric, quarantined, options);
  }

  /**
   * Subscribes to the store's channel on a connection of its own. After a reconnection
   * `onNew` is called once too: announcements made while disconnected were lost.
   */
  watch(onNew: () => void): () => void {
    const sub = connect(this.#target, { subscriber: true });
    let connected = false;
    sub.on('message', () => onNew());
    sub.on('ready', () => {
      if (connected) onNew();
      connected = true;
    });
    void sub.subscribe(`${this.#target.prefix}new`).catch(() => undefined);
    const stop = (): void => {
      this.#watchers.delete(stop);
      sub.disconnect(false);
    };
    this.#watchers.add(stop);
    return stop;
  }

  /** Waits for adds under way to settle, then refuses new ones. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    for (const stop of [...this.#watchers]) stop();
    await disconnect(this.#redis);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    const done = (): void => void this.#inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new IncomingClosedError());
    return withRetry(fn, unavailable(what));
  }

  #keys(sack: number): SackKeys {
    if (!Number.isInteger(sack) || sack < 0 || sack >= this.sacks) {
      throw new RangeError(`sack ${sack} out of range [0, ${this.sacks})`);
    }
    return this.#sackKeys[sack];
  }
}

/**
 * Runs a MULTI; rejects when any of its commands failed (EXEC answers each command's
 * error in its reply rather than failing as a whole).
 */
async function executed(multi: ReturnType<Redis['multi']>): Promise<void> {
  const replies = await multi.exec();
  if (replies === null) throw new Error('transaction discarded');
  for (const [err] of replies) if (err) throw err;
}

function checkId(id: string): void {
  if (!BATCH_ID.test(id)) throw new RangeError(`invalid batch id ${JSON.stringify(id)}`);
}

function parseTarget(url: string): RedisTarget {
  return parseRedisUrl(url, { prefix: 'tally:incoming:' }, (m) => new IncomingConfigError(`incoming URL ${m}`));
}

/**
 * Warns (process warning, printed on stderr) when Redis keeps no append-only file.
 * A server that refuses CONFIG (managed services often do) cannot be checked: nothing is said.
 */
async function warnWithoutAof(redis: Redis, display: string): Promise<void> {
  let reply: string[];
  try {
    reply = await redis.config('GET', 'appendonly') as string[];
  } catch {
    return;
  }
  if (reply[1] !== 'yes') {
    process.emitWarning(`incoming store ${display}: Redis runs with appendonly ${reply[1] ?? '(unknown)'}: measures acknowledged since its last snapshot are lost if it stops; set appendonly yes (and appendfsync always to survive a host crash)`,
      { code: 'TALLY_REDIS_NO_AOF' });
  }
}

/**
 * Changes the sack count of a store holding no batch (Gnocchi's change-sack-size), every
 * process using it being stopped. Atomic: a batch added meanwhile makes it refuse.
 */
async function changeSackCountOfRedis(url: string, sacks: number): Promise<{ from: number; to: number }> {
  checkSacks(sacks);
  const target = parseTarget(url);
  const redis = await open(target);
  try {
    const config = `${target.prefix}config`;
    const [format, current] = await withRetry(() => redis.hmget(config, 'format', 'sacks'), unavailable('reading the sack count'));
    if (format !== FORMAT || current === null) throw new IncomingConfigError(`${target.display} is not an incoming store (no ${config})`);
    const from = Number(current);
    const keys = [config, ...Array.from({ length: from }, (_, s) => [`${target.prefix}sack-${s}:batches`, `${target.prefix}sack-${s}:parked`]).flat()];
    const waiting = Number(await withRetry(() => RESIZE.run(redis, keys, [current, String(sacks)]), unavailable('changing the sack count')));
    if (waiting < 0) throw new IncomingConfigError(`${target.display}: the sack count changed meanwhile; retry`);
    if (waiting > 0) {
      throw new IncomingConfigError(`${target.display} still holds ${waiting} batch(es) of measures: stop every Tally process but the processing workers, let them empty the backlog, stop them, then retry`);
    }
    return { from, to: sacks };
  } finally {
    await disconnect(redis);
  }
}

/** `redis://`, `rediss://`, `redis+unix://`: RedisIncomingStore. */
export const redisIncomingDriver: IncomingDriver = {
  open: (url, options) => RedisIncomingStore.open(url, options.sacks),
  changeSackCount: changeSackCountOfRedis,
};
