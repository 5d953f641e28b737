// Group membership shared by every process of a deployment: who is alive in a group (the
// alarm evaluators, say), so that members can split work between them with a HashRing. A
// member proves it is alive by heartbeating; one that stops for `timeoutMs` (crashed,
// hung, cut off) is no longer listed, without anyone having to remove it.

export interface JoinOptions {
  /** How often the member renews its presence (ms). */
  heartbeatMs: number;
  /** A member not heard from for this long is gone (ms); several heartbeats, so one late beat is harmless. */
  timeoutMs: number;
}

/** A membership held by this process; heartbeats run until `leave()`. */
export interface GroupMember {
  readonly group: string;
  readonly memberId: string;
  /** Leaves the group at once (idempotent): other members stop listing it without waiting for the timeout. */
  leave(): Promise<void>;
}

export interface MembershipChange {
  group: string;
  /** Live members after the change, sorted. */
  members: string[];
  joined: string[];
  left: string[];
}

export interface MembershipWatch {
  stop(): void;
}

export interface Membership {
  /**
   * Joins `group` as `memberId` and heartbeats until left or closed. MemberExistsError when
   * a live member already has that id (a member that timed out may be joined again).
   */
  join(group: string, memberId: string, options: JoinOptions): Promise<GroupMember>;
  /** Live members of `group`, sorted; [] for a group nobody joined. */
  members(group: string): Promise<string[]>;
  /**
   * Calls `onChange` with the current members at once, then whenever they change (noticed
   * within `pollMs` where the driver polls). Errors while watching go to `onError`.
   */
  watch(group: string, onChange: (change: MembershipChange) => void,
        options?: { pollMs?: number; onError?: (err: unknown) => void }): MembershipWatch;
  /** Leaves every group joined through this handle and stops its watches; MembershipClosedError afterwards. */
  close(): Promise<void>;
}

export class MemberExistsError extends Error {
  constructor(readonly group: string, readonly memberId: string) {
    super(`member ${JSON.stringify(memberId)} is already in group ${JSON.stringify(group)}`);
    this.name = 'MemberExistsError';
  }
}

export class MembershipClosedError extends Error {
  constructor() {
    super('membership is closed');
    this.name = 'MembershipClosedError';
  }
}

export function checkJoinOptions(o: JoinOptions): void {
  if (!(o.heartbeatMs > 0) || !(o.timeoutMs > o.heartbeatMs)) {
    throw new RangeError('join needs 0 < heartbeatMs < timeoutMs');
  }
}

/** What changed between two sorted member lists; null when nothing did. */
export function diffMembers(group: string, before: readonly string[] | null, after: string[]): MembershipChange | null {
  if (before !== null && before.length === after.length && before.every((m, i) => m === after[i])) return null;
  const was = new Set(before ?? []);
  const now = new Set(after);
  return {
    group,
    members: after,
    joined: after.filter((m) => !was.has(m)),
    left: (before ?? []).filter((m) => !now.has(m)),
  };
}

/**
 * A watch for drivers without change notifications: lists the members every `pollMs` and
 * reports differences. One listing at a time: a slow backend delays the next poll rather
 * than piling them up.
 */
export function pollingWatch(list: () => Promise<string[]>, group: string, onChange: (change: MembershipChange) => void,
                             options: { pollMs?: number; onError?: (err: unknown) => void } = {}): MembershipWatch {
  const pollMs = options.pollMs ?? 1000;
  let last: string[] | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const tick = async (): Promise<void> => {
    try {
      const now = await list();
      if (stopped) return;
      const change = diffMembers(group, last, now);
      last = now;
      if (change !== null) onChange(change);
    } catch (err) {
      if (!stopped) options.onError?.(err);
    }
    if (!stopped) timer = setTimeout(() => void tick(), pollMs);
  };
  void tick();
  return {
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}

/** What a driver does for one joined member: renew it, remove it, and drop it from its handle's list. */
export interface HeartbeatOps {
  /** Renews the membership; a failure is a late beat (the timeout spans several heartbeats). */
  beat(): Promise<unknown>;
  /** Deletes the membership on the backend. */
  remove(): Promise<void>;
  /** Drops the member from the handle's list of joined members. */
  forget(): void;
}

/**
 * A member of every driver: beats every `heartbeatMs`, one beat at a time (a slow backend
 * delays the next beat rather than piling them up), and on leave waits for the beat in
 * flight before removing, or that beat could write the membership back after the removal.
 */
export class HeartbeatMember implements GroupMember {
  readonly #ops: HeartbeatOps;
  readonly #timer: NodeJS.Timeout;
  #beating: Promise<unknown> | null = null;
  #left = false;

  constructor(readonly group: string, readonly memberId: string, heartbeatMs: number, ops: HeartbeatOps) {
    this.#ops = ops;
    this.#timer = setInterval(() => {
      if (this.#beating !== null || this.#left) return;
      this.#beating = ops.beat().catch(() => undefined).finally(() => {
        this.#beating = null;
      });
    }, heartbeatMs);
    this.#timer.unref();
  }

  /** Stops beating without leaving, as a crashed process would (its membership expires). */
  stopBeating(): void {
    clearInterval(this.#timer);
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.stopBeating();
    this.#ops.forget();
    await this.#beating;
    await this.#ops.remove();
  }
}

/** The polling watches of one membership handle, so that closing the handle stops them all. */
export class PollingWatches {
  readonly #watches = new Set<MembershipWatch>();

  add(list: () => Promise<string[]>, group: string, onChange: (change: MembershipChange) => void,
      options: { pollMs?: number; onError?: (err: unknown) => void } = {}): MembershipWatch {
    const inner = pollingWatch(list, group, onChange, options);
    const watch: MembershipWatch = {
      stop: () => {
        inner.stop();
        this.#watches.delete(watch);
      },
    };
    this.#watches.add(watch);
    return watch;
  }

  stopAll(): void {
    for (const w of [...this.#watches]) w.stop();
  }
}
