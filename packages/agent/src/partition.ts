// Several agents sharing one configuration: they join a membership group on the shared
// coordination backend and split the sources on a hash ring of the live members, so that
// each source is polled by one agent. A member that stops heartbeating (killed, hung, cut
// off) drops out of the group after the membership timeout, and the ring gives its sources
// to the others; one that leaves gives them up at once.
import { HashRing, type GroupMember, type Membership, type MembershipWatch } from '@tally/coordination';
import type { Logger } from './pollster.js';

export interface PartitionOptions {
  membership: Membership;
  group: string;
  memberId: string;
  /** Keys to split: the configured source names. */
  sources: readonly string[];
  heartbeatMs: number;
  /** A member silent this long is gone: the takeover delay. */
  timeoutMs: number;
  /** How often the member list is read. */
  pollMs: number;
  log: Logger;
  /** The sources this member owns now (called at once, then on every change). */
  onChange: (owned: ReadonlySet<string>) => void;
}

export class SourcePartition {
  readonly #o: PartitionOptions;
  #member: GroupMember | null = null;
  #watch: MembershipWatch | null = null;
  #owned: ReadonlySet<string> = new Set();

  private constructor(o: PartitionOptions) {
    this.#o = o;
  }

  static async join(o: PartitionOptions): Promise<SourcePartition> {
    const p = new SourcePartition(o);
    p.#member = await o.membership.join(o.group, o.memberId, { heartbeatMs: o.heartbeatMs, timeoutMs: o.timeoutMs });
    await new Promise<void>((resolve) => {
      p.#watch = o.membership.watch(o.group, (change) => {
        p.#update(change.members);
        resolve();
      }, { pollMs: o.pollMs, onError: (e) => o.log('warn', 'membership unreadable: ownership kept as it was', { error: (e as Error).message }) });
    });
    return p;
  }

  get owned(): ReadonlySet<string> {
    return this.#owned;
  }

  #update(members: readonly string[]): void {
    // Absent from the list (its own heartbeat late): polls nothing rather than twice.
    const ring = new HashRing(members);
    const owned = new Set(members.includes(this.#o.memberId) ? ring.keysOf(this.#o.memberId, this.#o.sources) : []);
    const same = owned.size === this.#owned.size && [...owned].every((s) => this.#owned.has(s));
    if (same) return;
    this.#owned = owned;
    this.#o.log('info', 'sources shared between agents', { members, owned: [...owned] });
    this.#o.onChange(owned);
  }

  /** Stops watching and leaves the group at once (others take the sources over without waiting). */
  async leave(): Promise<void> {
    this.#watch?.stop();
    this.#watch = null;
    await this.#member?.leave();
    this.#member = null;
  }
}
