// Splitting a fixed set of keys (an agent's sources, metricd's sacks, the rating scopes)
// between the live members of a group: each member joins the group, watches it, and owns
// the keys the hash ring of the live members gives it. A member that stops heartbeating
// (killed, hung, cut off) drops out after the membership timeout and the ring gives its
// keys to the others; one that leaves gives them up at once.
//
// With `replicas` > 1 each key is owned by that many members (the ring's first ones from
// the key): work is still excluded by a lock where it must be, but a replica is already
// visiting the key when its first owner dies, so the takeover does not wait for the
// membership timeout.
import { HashRing } from './hash-ring.js';
import type { GroupMember, Membership, MembershipWatch } from './membership.js';

export interface RingPartitionOptions<K extends string> {
  membership: Membership;
  group: string;
  memberId: string;
  /** The keys to split. */
  keys: readonly K[];
  /** Members owning each key (1: each key has one owner). */
  replicas?: number;
  heartbeatMs: number;
  /** A member silent this long is gone: the takeover delay. */
  timeoutMs: number;
  /** How often the member list is read where the driver polls it (default: the heartbeat). */
  pollMs?: number;
  /** The keys this member owns now: called once before join() returns, then on every change. */
  onChange?: (owned: ReadonlySet<K>, members: readonly string[]) => void;
  /** The member list could not be read: ownership stays as it was. */
  onError?: (err: unknown) => void;
}

export class RingPartition<K extends string> {
  readonly #o: RingPartitionOptions<K>;
  #member: GroupMember | null = null;
  #watch: MembershipWatch | null = null;
  #owned: ReadonlySet<K> = new Set();
  #members: readonly string[] = [];

  private constructor(o: RingPartitionOptions<K>) {
    if (o.replicas !== undefined && (!Number.isInteger(o.replicas) || o.replicas < 1)) throw new RangeError('replicas must be a positive integer');
    this.#o = o;
  }

  /** Joins the group and returns once the first member list has been read. */
  static async join<K extends string>(o: RingPartitionOptions<K>): Promise<RingPartition<K>> {
    const p = new RingPartition(o);
    p.#member = await o.membership.join(o.group, o.memberId, { heartbeatMs: o.heartbeatMs, timeoutMs: o.timeoutMs });
    await new Promise<void>((resolve) => {
      p.#watch = o.membership.watch(o.group, (change) => {
        p.#update(change.members);
        resolve();
      }, { pollMs: o.pollMs ?? o.heartbeatMs, ...(o.onError ? { onError: o.onError } : {}) });
    });
    return p;
  }

  /** The keys this member owns now. */
  get owned(): ReadonlySet<K> {
    return this.#owned;
  }

  /** The live members as last read. */
  get members(): readonly string[] {
    return this.#members;
  }

  #update(members: readonly string[]): void {
    this.#members = members;
    // Absent from the list (its own heartbeat late): owns nothing rather than work twice.
    const owned = new Set<K>();
    if (members.includes(this.#o.memberId)) {
      const ring = new HashRing(members);
      const replicas = this.#o.replicas ?? 1;
      for (const k of this.#o.keys) {
        if (replicas === 1 ? ring.ownerOf(k) === this.#o.memberId : ring.ownersOf(k, replicas).includes(this.#o.memberId)) owned.add(k);
      }
    }
    const same = owned.size === this.#owned.size && [...owned].every((s) => this.#owned.has(s));
    if (same) return;
    this.#owned = owned;
    this.#o.onChange?.(owned, members);
  }

  /** Stops watching and leaves the group at once (the others take the keys over without waiting). */
  async leave(): Promise<void> {
    this.#watch?.stop();
    this.#watch = null;
    await this.#member?.leave();
    this.#member = null;
  }
}
