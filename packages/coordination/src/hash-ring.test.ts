import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashRing, ringPosition } from './hash-ring.js';

const keys = Array.from({ length: 20_000 }, (_, i) => `alarm-${i.toString(16).padStart(8, '0')}`);

function owners(ring: HashRing): Map<string, string | null> {
  return new Map(keys.map((k) => [k, ring.ownerOf(k)]));
}

test('positions are MD5-based and stable across processes and platforms', () => {
  // The first 48 bits of md5("alarm"), as `python3 -c 'import hashlib;print(int(hashlib.md5(b"alarm").hexdigest()[:12],16))'` prints.
  assert.equal(ringPosition('alarm'), 0x6486b4e98228);
});

test('deterministic: the same members in any order give the same owners', () => {
  const a = new HashRing(['e1', 'e2', 'e3']);
  const b = new HashRing(['e3', 'e1', 'e2', 'e1']);
  assert.deepEqual(b.members, ['e1', 'e2', 'e3']);
  assert.deepEqual(owners(a), owners(b));
  assert.equal(new HashRing([]).ownerOf('x'), null);
  assert.ok(keys.every((k) => new HashRing(['solo']).ownerOf(k) === 'solo'));
  assert.throws(() => new HashRing(['a'], { virtualNodes: 0 }), RangeError);
});

test('keys spread evenly between members', () => {
  const ring = new HashRing(['e1', 'e2', 'e3', 'e4']);
  const counts = new Map<string, number>();
  for (const o of owners(ring).values()) counts.set(o as string, (counts.get(o as string) ?? 0) + 1);
  assert.equal(counts.size, 4);
  for (const [m, n] of counts) assert.ok(Math.abs(n - keys.length / 4) < keys.length / 4 * 0.25, `${m} owns ${n}`);
  assert.deepEqual(ring.keysOf('e2', keys), keys.filter((k) => ring.ownerOf(k) === 'e2'));
});

test('minimal movement: a joining member takes keys only for itself, a leaving one gives away only its own', () => {
  const before = owners(new HashRing(['e1', 'e2', 'e3']));
  const grown = owners(new HashRing(['e1', 'e2', 'e3', 'e4']));
  let moved = 0;
  for (const k of keys) {
    if (before.get(k) !== grown.get(k)) {
      moved++;
      assert.equal(grown.get(k), 'e4', 'a key moves only to the newcomer');
    }
  }
  // About a quarter of the keys move to the fourth member, never much more.
  assert.ok(moved > keys.length * 0.15 && moved < keys.length * 0.35, `${moved} keys moved`);
  const shrunk = owners(new HashRing(['e1', 'e3']));
  for (const k of keys) {
    if (before.get(k) !== 'e2') assert.equal(shrunk.get(k), before.get(k), 'keys of the members that stay do not move');
    else assert.notEqual(shrunk.get(k), 'e2');
  }
});

test('ownersOf: the owner first, then distinct successors; the next owner when the first leaves', () => {
  const ring = new HashRing(['e1', 'e2', 'e3', 'e4']);
  for (const k of keys.slice(0, 2000)) {
    const three = ring.ownersOf(k, 3);
    assert.equal(three.length, 3);
    assert.equal(new Set(three).size, 3, 'distinct members');
    assert.equal(three[0], ring.ownerOf(k));
    assert.deepEqual(ring.ownersOf(k, 1), [three[0]]);
    // Without its owner, the key goes to the second member listed: replicas are the takeover order.
    const without = new HashRing(ring.members.filter((m) => m !== three[0]));
    assert.equal(without.ownerOf(k), three[1]);
  }
  assert.deepEqual(new HashRing(['a', 'b']).ownersOf('k', 5).sort(), ['a', 'b'], 'at most every member');
  assert.deepEqual(new HashRing([]).ownersOf('k', 2), []);
  assert.throws(() => ring.ownersOf('k', 0), RangeError);
});
