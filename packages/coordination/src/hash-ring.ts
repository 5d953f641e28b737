// Consistent hashing: which member of a group owns a key (an alarm, a sack...). Every
// member builds the same ring from the same member list, so members agree on ownership
// without talking to each other; when a member joins or leaves, only the keys of the arcs
// it gains or loses move (about 1/n of them), the rest stay where they were.
//
// Hand-written: the ring is a sorted array and a binary search; the hash is node:crypto's.
import { createHash } from 'node:crypto';

export interface HashRingOptions {
  /**
   * Points each member places on the ring. More points spread keys more evenly between
   * members (the spread shrinks as 1/sqrt(points)) at the cost of memory and build time.
   */
  virtualNodes?: number;
}

export const DEFAULT_VIRTUAL_NODES = 128;

/**
 * Position of a string on the ring: the first 48 bits of its MD5, an integer a double holds
 * exactly. MD5 for its spread, not for secrecy; any process on any platform computes the
 * same positions.
 */
export function ringPosition(text: string): number {
  const d = createHash('md5').update(text).digest();
  return d.readUIntBE(0, 6);
}

/** An immutable ring over a set of members; build a new one when the membership changes. */
export class HashRing {
  readonly members: readonly string[];
  readonly #positions: Float64Array;
  readonly #owners: string[];

  constructor(members: Iterable<string>, options: HashRingOptions = {}) {
    const vnodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError('virtualNodes must be a positive integer');
    this.members = [...new Set(members)].sort();
    const points: { pos: number; member: string }[] = [];
    for (const member of this.members) {
      for (let i = 0; i < vnodes; i++) points.push({ pos: ringPosition(`${member}#${i}`), member });
    }
    // Ties (two members hashing to one position) are broken by member id so that the
    // ring does not depend on the order members were listed in.
    points.sort((a, b) => a.pos - b.pos || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    this.#positions = Float64Array.from(points, (p) => p.pos);
    this.#owners = points.map((p) => p.member);
  }

  get size(): number {
    return this.members.length;
  }

  /** The member owning `key`: the first point at or after the key's position, wrapping round; null on an empty ring. */
  ownerOf(key: string): string | null {
    const n = this.#positions.length;
    if (n === 0) return null;
    const pos = ringPosition(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#positions[mid] < pos) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === n ? 0 : lo];
  }

  /**
   * The first `count` distinct members met walking the ring from `key`'s position (fewer when
   * the ring has fewer members): the owner first, then the members that take the key over,
   * in order, if the ones before them go. Giving a key to several members lets one of them
   * work on it while the others have not yet noticed a member's death.
   */
  ownersOf(key: string, count: number): string[] {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    const n = this.#positions.length;
    const want = Math.min(count, this.members.length);
    const out: string[] = [];
    if (n === 0) return out;
    const pos = ringPosition(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#positions[mid] < pos) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < n && out.length < want; i++) {
      const m = this.#owners[(lo + i) % n];
      if (!out.includes(m)) out.push(m);
    }
    return out;
  }

  /** The keys of `keys` that `member` owns, in their order. */
  keysOf<K extends string>(member: string, keys: Iterable<K>): K[] {
    const mine: K[] = [];
    for (const k of keys) if (this.ownerOf(k) === member) mine.push(k);
    return mine;
  }
}
