// Membership on one machine: a SQLite table of members with the time each one's presence
// expires, in the coordination folder beside the lock files. Every process opens the same
// file; a heartbeat pushes the member's expiry forward, and listings skip expired rows, so
// a process that died (even by SIGKILL) drops out once its last heartbeat expires.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { retry } from '@tally/retry';
import {
  PollingWatches, HeartbeatMember, checkJoinOptions, MemberExistsError, MembershipClosedError,
  type GroupMember, type JoinOptions, type Membership, type MembershipChange, type MembershipWatch,
} from './membership.js';
import { coordinationFolder, isBusy } from './file-driver.js';
import type { MembershipDriver } from './membership-drivers.js';

export const MEMBERSHIP_FILE = 'membership.sqlite';

export interface LocalMembershipOptions {
  /** The coordination folder, shared by every process. */
  dir: string;
  /** Clock (ms since the epoch); tests move it. Every process of a deployment must agree on it. */
  now?: () => number;
}

type Db = Database.Database;

/** A busy database is retried briefly rather than waited for inside SQLite, which would block the event loop. */
const BUSY_RETRY = { attempts: 20, baseMs: 1, maxMs: 50 };


export class LocalMembership implements Membership {
  readonly dir: string;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #joined = new Set<HeartbeatMember>();
  readonly #watches = new PollingWatches();
  #closed = false;

  constructor(options: LocalMembershipOptions) {
    this.dir = options.dir;
    this.#now = options.now ?? Date.now;
    mkdirSync(this.dir, { recursive: true });
    this.#db = new Database(join(this.dir, MEMBERSHIP_FILE), { timeout: 0 });
    // WAL: listings never wait for a heartbeat being written, nor heartbeats for listings.
    this.#withBusyRetrySync(() => this.#db.pragma('journal_mode = WAL'));
    this.#withBusyRetrySync(() => this.#db.exec(`
      CREATE TABLE IF NOT EXISTS members (
        grp TEXT NOT NULL,
        member TEXT NOT NULL,
        token TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (grp, member)
      )`));
  }

  async join(group: string, memberId: string, options: JoinOptions): Promise<GroupMember> {
    this.#checkOpen();
    checkJoinOptions(options);
    const token = randomUUID();
    const claimed = await this.#write(() => this.#claim(group, memberId, token, options.timeoutMs));
    if (!claimed) throw new MemberExistsError(group, memberId);
    // A beat that finds the id taken by a live newcomer leaves the row to it.
    const member = new HeartbeatMember(group, memberId, options.heartbeatMs, {
      beat: () => this.#write(() => this.#claim(group, memberId, token, options.timeoutMs)),
      remove: () => this.#write(() => {
        this.#db.prepare('DELETE FROM members WHERE grp = ? AND member = ? AND token = ?').run(group, memberId, token);
      }),
      forget: () => this.#joined.delete(member),
    });
    this.#joined.add(member);
    return member;
  }

  async members(group: string): Promise<string[]> {
    this.#checkOpen();
    return this.#read(() => this.#live(group));
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
    this.#db.close();
  }

  /**
   * Stops heartbeating and closes the database without leaving any group, as a process
   * that crashed would: other members see this one's memberships expire. For tests.
   */
  abandon(): void {
    this.#watches.stopAll();
    for (const m of [...this.#joined]) m.stopBeating();
    this.#joined.clear();
    this.#closed = true;
    this.#db.close();
  }

  /**
   * Inserts or renews the row of `memberId`, unless another live holder (another token)
   * has it. True when this token now holds the membership.
   */
  #claim(group: string, memberId: string, token: string, timeoutMs: number): boolean {
    const now = this.#now();
    const info = this.#db.prepare(`
      INSERT INTO members (grp, member, token, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (grp, member) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
      WHERE members.token = excluded.token OR members.expires_at <= ?`).run(group, memberId, token, now + timeoutMs, now);
    return info.changes > 0;
  }

  #live(group: string): string[] {
    const rows = this.#db.prepare('SELECT member FROM members WHERE grp = ? AND expires_at > ? ORDER BY member')
      .all(group, this.#now()) as { member: string }[];
    return rows.map((r) => r.member);
  }

  #checkOpen(): void {
    if (this.#closed) throw new MembershipClosedError();
  }

  #read<T>(fn: () => T): Promise<T> {
    return retry(async () => fn(), { ...BUSY_RETRY, retryable: isBusy });
  }

  #write<T>(fn: () => T): Promise<T> {
    return retry(async () => {
      this.#checkOpen();
      return this.#db.transaction(fn).immediate();
    }, { ...BUSY_RETRY, retryable: isBusy });
  }

  #withBusyRetrySync(fn: () => void): void {
    // Only at open: another process may be creating the table or switching to WAL at the
    // same moment. A short synchronous spin is acceptable once per handle.
    const deadline = Date.now() + 2000;
    for (;;) {
      try {
        fn();
        return;
      } catch (err) {
        if (!isBusy(err) || Date.now() > deadline) throw err;
      }
    }
  }
}

/** `file:///path`: LocalMembership in that folder (the lock folder of LocalCoordinator). */
export const fileMembershipDriver: MembershipDriver = {
  open: async (url) => new LocalMembership({ dir: coordinationFolder(url) }),
};
