import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseOf, copyAt, fitsDoubles, floorDiv, offsetAt, setAt, wordsOf } from './nanos64.js';
import { bucketize, floorTo } from './aggregate.js';

/** Deterministic pseudo-random generator (xorshift32), so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function randomInt64(r: () => number): bigint {
  return BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
}

const EDGES = [
  0n, 1n, -1n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n), -(2n ** 32n) - 1n,
  2n ** 63n - 2n ** 53n, -(2n ** 63n), 1_764_000_000_000_000_000n, -9_000_000_000_000_000_000n,
];

test('offsetAt is ts[i] - base exactly, across word carries and signs', () => {
  const r = rng(7);
  for (const base of [...EDGES, randomInt64(r), randomInt64(r)]) {
    const ds = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 53n - 1n, -1n, -(2n ** 32n) - 5n, -(2n ** 53n) + 1n];
    for (let k = 0; k < 50; k++) ds.push(BigInt(Math.floor((r() - 0.5) * 2 ** 53)));
    const inRange = ds.filter((d) => base + d >= -(2n ** 63n) && base + d < 2n ** 63n);
    const ts = BigInt64Array.from(inRange.map((d) => base + d));
    const w = wordsOf(ts);
    const b = baseOf(base);
    inRange.forEach((d, i) => assert.equal(offsetAt(w, i, b), Number(d), `base ${base} + ${d}`));
  }
});

test('setAt writes base + off exactly and copyAt copies elements', () => {
  const r = rng(11);
  for (const base of [...EDGES.filter((e) => e <= 2n ** 63n - 2n ** 53n), randomInt64(r) >> 2n]) {
    const offs = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1];
    for (let k = 0; k < 50; k++) offs.push(Math.floor(r() * 2 ** 53));
    const out = new BigInt64Array(offs.length);
    const w = wordsOf(out);
    offs.forEach((off, i) => setAt(w, i, baseOf(base), off));
    offs.forEach((off, i) => assert.equal(out[i], base + BigInt(off), `base ${base} + ${off}`));
    const copy = new BigInt64Array(offs.length);
    const cw = wordsOf(copy);
    for (let i = 0; i < offs.length; i++) copyAt(cw, offs.length - 1 - i, w, i);
    assert.deepEqual([...copy], [...out].reverse());
  }
});

test('floorDiv is exact floor division below 2^53, fitsDoubles guards it', () => {
  const r = rng(3);
  const gs = [1, 3, 7, 1e9, 60e9, 3600e9, 2 ** 52 - 1, 86_400e9 * 7];
  for (const g of gs) {
    const ds = [0, g - 1, g, g + 1, 2 ** 53 - g - 1];
    for (let k = 0; k < 200; k++) ds.push(Math.floor(r() * (2 ** 53 - g)));
    for (const d of ds) {
      assert.equal(floorDiv(d, g), Number(BigInt(d) / BigInt(g)), `${d} / ${g}`);
    }
  }
  assert.ok(fitsDoubles(2n ** 53n - 2n, 1n));
  assert.ok(!fitsDoubles(2n ** 53n - 1n, 1n));
  assert.ok(!fitsDoubles(-1n, 1n));
  assert.ok(!fitsDoubles(0n, 0n));
});

/** bucketize as a plain BigInt loop, the reference for both of its paths. */
function referenceBuckets(ts: BigInt64Array, g: bigint, from: number): { starts: bigint[]; bounds: number[] } {
  const starts: bigint[] = [];
  const bounds: number[] = [];
  for (let i = from; i < ts.length; i++) {
    const s = floorTo(ts[i], g);
    if (starts.length === 0 || starts[starts.length - 1] !== s) {
      starts.push(s);
      bounds.push(i);
    }
  }
  bounds.push(ts.length);
  return { starts, bounds };
}

test('bucketize matches a BigInt reference, on and off the double path', () => {
  const r = rng(5);
  const cases: { first: bigint; g: bigint; step: () => bigint }[] = [
    { first: 1_764_000_000_123_456_789n, g: 1_000_000_000n, step: () => BigInt(1 + Math.floor(r() * 3e9)) },
    { first: -1_000_000_000_500n, g: 60_000_000_000n, step: () => BigInt(1 + Math.floor(r() * 9e10)) },
    { first: -5n, g: 3n, step: () => BigInt(1 + Math.floor(r() * 4)) },
    // Many points per bucket, a bucket's end found by galloping: runs of 1 ns steps and jumps.
    { first: 1_764_000_000_000_000_007n, g: 100n, step: () => (r() < 0.02 ? BigInt(1 + Math.floor(r() * 400)) : 1n) },
    { first: 1_764_000_000_000_000_000n, g: 60_000_000_000n, step: () => BigInt(1 + Math.floor(r() * 1e9)) },
    // Spans beyond 2^53 ns from the first bucket: the BigInt path.
    { first: 0n, g: 86_400_000_000_000n, step: () => BigInt(Math.floor(r() * 2 ** 52)) + 1n },
    { first: 2n ** 62n, g: 2n ** 54n, step: () => 2n ** 50n + 1n },
  ];
  for (const c of cases) {
    const ts: bigint[] = [c.first];
    for (let i = 1; i < 1500; i++) ts.push(ts[i - 1] + c.step());
    const arr = BigInt64Array.from(ts);
    for (const from of [0, 1, 150, 299, 1499]) {
      const got = bucketize(arr, c.g, from);
      const want = referenceBuckets(arr, c.g, from);
      assert.deepEqual([...got.starts], want.starts, `g ${c.g} from ${from}`);
      assert.deepEqual([...got.bounds], want.bounds, `g ${c.g} from ${from}`);
    }
  }
});
