// Coordination on etcd (v3 API, through the `etcd3` client on grpc-js).
//
// URL: etcd://host:port[,host:port...]/prefix[?lease_ttl=seconds]
//   Every key lives under `prefix/` (default `tally`): `prefix/locks/<name>` and
//   `prefix/members/<group>/<member>` (group and member URI-encoded).
//
// Locks: each coordinator holds one lease (`lease_ttl`, default 10 s) and keeps it alive
// while open. A lock is a key created in a transaction only if absent, attached to that
// lease, so the locks of a process that dies go when its lease expires (at most the TTL
// after its last keepalive). Release deletes the key only while it still holds this
// handle's value; close revokes the lease, deleting every key at once.
//
// A holder never goes on believing in a lock it may have lost: the lease is valid until
// (time the last confirmed keepalive was sent) + TTL, a lower bound of the server's own
// deadline; when no keepalive has been confirmed by a margin before that, the coordinator
// gives the lease up, aborts the `signal` of every lock on it and takes a new lease for the
// next locks. A server outage shorter than that (a restart, a leader election) therefore
// keeps the locks: etcd keeps leases across restarts and a new leader extends them.
//
// Membership: each member key is attached to a lease of its own whose TTL is the member's
// timeout (rounded up to whole seconds, etcd's unit, and no lower than the server's minimum,
// about 1.5 election timeouts), renewed at every heartbeat; leave deletes the key and revokes
// the lease, a crashed member's key goes when its lease expires.
import { randomUUID } from 'node:crypto';
import type { Etcd3, Lease, Namespace } from 'etcd3';
import { Backoff } from '@tally/retry';
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

export interface EtcdOptions {
  /** `host:port` of each cluster member. */
  hosts: string[];
  /** Key prefix, without trailing slash. */
  prefix: string;
  /** TTL of a coordinator's lease (s): how long a dead process's locks outlive it. */
  leaseTtl: number;
}

const DEFAULT_PREFIX = 'tally';
const DEFAULT_LEASE_TTL = 10;
/** Deadline of one call to the server (ms); a call past it is retried (SERVER_RETRY). */
const CALL_TIMEOUT_MS = 2_000;
/** Lock polling of `lock()`, as the file driver's. */

type EtcdModule = typeof import('etcd3');

/** Parses `etcd://host:port[,host:port...]/prefix[?lease_ttl=seconds]`; CoordinationConfigError otherwise. */
export function parseEtcdUrl(url: string): EtcdOptions {
  // Not WHATWG URL: it refuses the comma-separated host list.
  const m = /^etcd:\/\/([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(url);
  if (m === null) throw new CoordinationConfigError(`coordination URL ${url}: expected etcd://host:port[,host:port...]/prefix`);
  const hosts = m[1].split(',');
  for (const h of hosts) {
    if (!/^[^:]+:\d{1,5}$/.test(h) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(h)) {
      throw new CoordinationConfigError(`coordination URL ${url}: ${JSON.stringify(h)} is not host:port`);
    }
  }
  const prefix = decodeURIComponent((m[2] ?? '').replace(/^\/+|\/+$/g, '')) || DEFAULT_PREFIX;
  const params = new URLSearchParams(m[3] ?? '');
  let leaseTtl = DEFAULT_LEASE_TTL;
  for (const [k, v] of params) {
    if (k !== 'lease_ttl') throw new CoordinationConfigError(`coordination URL ${url}: unknown parameter ${k}`);
    leaseTtl = Number(v);
    if (!Number.isInteger(leaseTtl) || leaseTtl < 1) {
      throw new CoordinationConfigError(`coordination URL ${url}: lease_ttl must be a whole number of seconds >= 1`);
    }
  }
  return { hosts, prefix, leaseTtl };
}

interface Client {
  mod: EtcdModule;
  etcd: Etcd3;
  ns: Namespace;
}

async function connect(o: EtcdOptions): Promise<Client> {
  const mod = await import('etcd3');
  const { noop } = await import('cockatiel');
  const etcd = new mod.Etcd3({
    hosts: o.hosts.map((h) => `http://${h}`),
    dialTimeout: CALL_TIMEOUT_MS,
    defaultCallOptions: () => ({ deadline: Date.now() + CALL_TIMEOUT_MS }),
    // The client's own retries and circuit breaker are off: every call goes through
    // serverCall, so that all of the package's drivers retry alike and give up in bounded time.
    faultHandling: { host: () => noop, global: noop },
  });
  return { mod, etcd, ns: etcd.namespace(`${o.prefix}/`) };
}

function transientIn(mod: EtcdModule): (err: unknown) => boolean {
  return (err) => err instanceof Error && (mod.isRecoverableError(err)
    || err instanceof mod.GRPCUnavailableError || err instanceof mod.GRPCDeadlineExceededError
    || err instanceof mod.GRPCCancelledError);
}

async function grantLease(c: Client, ttl: number, what: string): Promise<{ lease: Lease; id: string }> {
  return serverCall(what, async () => {
    const lease = c.ns.lease(ttl, { autoKeepAlive: false });
    // A grant that failed emits 'lost' as well as rejecting; the rejection is what counts.
    lease.on('lost', () => undefined);
    return { lease, id: String(await lease.grant()) };
  }, transientIn(c.mod));
}

/**
 * Creates `key` with `value` on lease `leaseId` only if it does not exist. True when this
 * value is there now: also when an earlier try of the same call succeeded but its answer
 * was lost, which the unique value tells apart from someone else's key.
 */
async function createIfAbsent(c: Client, key: string, value: string, leaseId: string, what: string): Promise<boolean> {
  return serverCall(what, async () => {
    const r = await c.ns.if(key, 'Create', '==', 0)
      .then(c.ns.put(key).value(value).lease(leaseId))
      .else(c.ns.get(key))
      .commit();
    if (r.succeeded) return true;
    const kv = r.responses[0]?.response_range?.kvs[0];
    return kv !== undefined && kv.value.toString() === value;
  }, transientIn(c.mod));
}

/** Deletes `key` only while it holds `value` (someone else's key, after ours expired, stays). */
async function deleteIfOwned(c: Client, key: string, value: string, what: string): Promise<void> {
  await serverCall(what, async () => {
    await c.ns.if(key, 'Value', '==', value).then(c.ns.delete().key(key)).commit();
  }, transientIn(c.mod));
}

async function revokeLease(c: Client, lease: Lease, what: string): Promise<void> {
  await serverCall(what, () => lease.revoke(), transientIn(c.mod));
}

/**
 * A coordinator's lease and the locks on it, kept alive by keepalives every TTL/3. Once
 * lost, `onLost` (which revokes the lease, freeing its locks for others) waits until every
 * holder has let go of its lock: a holder stops at its lock's signal, but what it had under
 * way past its last look at the signal (a commit being written) may still land, and while
 * the lease lives nobody else can take the lock and write over it.
 */
class LeaseSession {
  /** Locks taken on the lease that their holders have not let go of yet, lost ones included. */
  readonly locks = new Set<ServerLock>();
  /** Keys whose release failed: deleted at the next keepalive that reaches the server. */
  readonly orphans = new Map<string, string>();
  /** performance.now() before which the server cannot have expired the lease (a monotonic clock: wall-clock steps must not move it). */
  #validUntil: number;
  #lost = false;
  #revoked = false;
  #timer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  readonly #backoff = new Backoff({ baseMs: 50, maxMs: 1_000 });

  constructor(private readonly c: Client, readonly lease: Lease, readonly id: string, private readonly ttl: number,
              grantedSince: number, private readonly onLost: () => void) {
    this.#validUntil = grantedSince + ttl * 1000;
    this.#arm();
    this.#schedule(this.ttl * 1000 / 3);
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** Time before the server's deadline at which the holder stops trusting the lease. */
  get #margin(): number {
    return Math.min(1_000, this.ttl * 1000 / 4);
  }

  #arm(): void {
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => this.lose('no keepalive confirmed before the lease could expire'),
      Math.max(0, this.#validUntil - this.#margin - performance.now()));
    this.#watchdog.unref();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => void this.#beat(), ms);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    if (this.#lost) return;
    const sentAt = performance.now();
    try {
      const res = await this.lease.keepaliveOnce();
      if (this.#lost) return;
      this.#validUntil = Math.max(this.#validUntil, sentAt + Number(res.TTL) * 1000);
      this.#arm();
      this.#backoff.reset();
      for (const [key, value] of [...this.orphans]) {
        await deleteIfOwned(this.c, key, value, 'etcd release').then(() => this.orphans.delete(key), () => undefined);
      }
      this.#schedule(this.ttl * 1000 / 3);
    } catch (err) {
      if (this.#lost) return;
      if (err instanceof this.c.mod.EtcdLeaseInvalidError) {
        this.lose('the lease expired on the server');
        return;
      }
      this.#schedule(Math.min(this.ttl * 1000 / 3, this.#backoff.next()));
    }
  }

  lose(why: string): void {
    if (this.#lost) return;
    this.#lost = true;
    this.stop();
    for (const l of this.locks) l.lose(why);
    this.#revokeWhenLetGo();
  }

  /** The holder of `lock` let go of it (released it, lost or not). */
  letGo(lock: ServerLock): void {
    this.locks.delete(lock);
    if (this.#lost) this.#revokeWhenLetGo();
  }

  #revokeWhenLetGo(): void {
    if (this.#revoked || this.locks.size > 0) return;
    this.#revoked = true;
    this.onLost();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
  }
}

export class EtcdCoordinator implements Coordinator {
  readonly options: EtcdOptions;
  readonly #c: Client;
  readonly #id = randomUUID();
  #serial = 0;
  #session: Promise<LeaseSession> | null = null;
  #closed = false;

  private constructor(options: EtcdOptions, c: Client) {
    this.options = options;
    this.#c = c;
  }

  /** Connects and takes the coordinator's lease; CoordinationUnavailableError when etcd cannot be reached. */
  static async open(options: EtcdOptions): Promise<EtcdCoordinator> {
    const c = await connect(options);
    const coordinator = new EtcdCoordinator(options, c);
    try {
      await coordinator.#currentSession();
    } catch (err) {
      c.etcd.close();
      throw err;
    }
    return coordinator;
  }

  async tryLock(name: string): Promise<Lock | null> {
    this.#checkOpen();
    const key = `locks/${name}`;
    const value = `${this.#id}:${++this.#serial}`;
    let session = await this.#currentSession();
    let created: boolean;
    try {
      created = await createIfAbsent(this.#c, key, value, session.id, `etcd lock ${name}`);
    } catch (err) {
      if (!(err instanceof this.#c.mod.EtcdLeaseInvalidError)) throw err;
      // The server no longer knows the lease (expired or revoked before the watchdog
      // fired): give it up and try once on a new one.
      session.lose('the lease expired on the server');
      session = await this.#currentSession();
      created = await createIfAbsent(this.#c, key, value, session.id, `etcd lock ${name}`);
    }
    if (!created) return null;
    const lock: ServerLock = new ServerLock(name, async () => {
      if (this.#closed) return; // close revokes the lease, which deletes every key at once
      try {
        await deleteIfOwned(this.#c, key, value, `etcd release ${name}`);
      } catch (err) {
        if (!session.lost) session.orphans.set(key, value);
        throw err;
      }
    }, () => session.letGo(lock));
    session.locks.add(lock);
    // The lease was given up while the key was being created: the key goes with it.
    if (session.lost || this.#closed) lock.lose('the lease was lost while the lock was taken');
    return lock;
  }

  lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    return waitForLock((n) => this.tryLock(n), name, opts);
  }

  /** Revokes the lease (every lock goes at once); when etcd cannot be reached, the locks go at its expiry. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const session = await this.#session?.catch(() => null);
    if (session) {
      session.stop();
      for (const l of session.locks) await l.release().catch(() => undefined);
      if (!session.lost) await revokeLease(this.#c, session.lease, 'etcd revoke').catch(() => undefined);
    }
    this.#c.etcd.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new CoordinatorClosedError();
  }

  /** The live lease session, granting a new one when there is none or the last was lost. */
  async #currentSession(): Promise<LeaseSession> {
    for (;;) {
      if (this.#session === null) {
        const created = this.#grant();
        this.#session = created;
        created.catch(() => {
          if (this.#session === created) this.#session = null;
        });
      }
      const pending = this.#session;
      const session = await pending;
      if (!session.lost) return session;
      if (this.#session === pending) this.#session = null;
    }
  }

  async #grant(): Promise<LeaseSession> {
    const since = performance.now();
    const { lease, id } = await grantLease(this.#c, this.options.leaseTtl, 'etcd lease grant');
    const session = new LeaseSession(this.#c, lease, id, this.options.leaseTtl, since, () => {
      // The server may still hold the lease (we only stopped hearing back in time): revoking
      // frees its keys now instead of at its expiry.
      void revokeLease(this.#c, lease, 'etcd revoke').catch(() => undefined);
    });
    if (this.#closed) {
      session.stop();
      await revokeLease(this.#c, lease, 'etcd revoke').catch(() => undefined);
      throw new CoordinatorClosedError();
    }
    return session;
  }
}

function groupPrefix(group: string): string {
  return `members/${encodeURIComponent(group)}/`;
}

export class EtcdMembership implements Membership {
  readonly options: EtcdOptions;
  readonly #c: Client;
  readonly #joined = new Set<HeartbeatMember>();
  readonly #watches = new PollingWatches();
  #closed = false;

  private constructor(options: EtcdOptions, c: Client) {
    this.options = options;
    this.#c = c;
  }

  static async open(options: EtcdOptions): Promise<EtcdMembership> {
    return new EtcdMembership(options, await connect(options));
  }

  async join(group: string, memberId: string, options: JoinOptions): Promise<GroupMember> {
    this.#checkOpen();
    checkJoinOptions(options);
    const ttl = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const { lease, id } = await grantLease(this.#c, ttl, 'etcd lease grant');
    const key = groupPrefix(group) + encodeURIComponent(memberId);
    const value = randomUUID();
    let created: boolean;
    try {
      created = await createIfAbsent(this.#c, key, value, id, 'etcd join');
    } catch (err) {
      await revokeLease(this.#c, lease, 'etcd revoke').catch(() => undefined);
      throw err;
    }
    if (!created) {
      await revokeLease(this.#c, lease, 'etcd revoke').catch(() => undefined);
      throw new MemberExistsError(group, memberId);
    }
    let current = lease;
    let left = false;
    const member = new HeartbeatMember(group, memberId, options.heartbeatMs, {
      beat: async () => {
        try {
          await current.keepaliveOnce();
        } catch (err) {
          // The lease expired (the member was cut off for longer than its timeout): join again
          // under the same id if nobody took it meanwhile. Other failures are a late beat.
          if (!(err instanceof this.#c.mod.EtcdLeaseInvalidError) || left) throw err;
          const fresh = await grantLease(this.#c, ttl, 'etcd lease grant');
          current = fresh.lease;
          await createIfAbsent(this.#c, key, value, fresh.id, 'etcd join');
        }
      },
      remove: async () => {
        left = true;
        await deleteIfOwned(this.#c, key, value, 'etcd leave');
        await revokeLease(this.#c, current, 'etcd revoke').catch(() => undefined);
      },
      forget: () => this.#joined.delete(member),
    });
    this.#joined.add(member);
    return member;
  }

  async members(group: string): Promise<string[]> {
    this.#checkOpen();
    const prefix = groupPrefix(group);
    const keys = await serverCall('etcd members', () => this.#c.ns.getAll().prefix(prefix).keys(), transientIn(this.#c.mod));
    return keys.map((k) => decodeURIComponent(k.slice(prefix.length))).sort();
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
    this.#c.etcd.close();
  }

  /** Stops heartbeating and disconnects without leaving, as a crashed process would. For tests. */
  abandon(): void {
    this.#watches.stopAll();
    for (const m of this.#joined) m.stopBeating();
    this.#joined.clear();
    this.#closed = true;
    this.#c.etcd.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new MembershipClosedError();
  }
}

export const etcdCoordinatorDriver: CoordinatorDriver = {
  open: (url) => EtcdCoordinator.open(parseEtcdUrl(url)),
};

export const etcdMembershipDriver: MembershipDriver = {
  open: (url) => EtcdMembership.open(parseEtcdUrl(url)),
};
