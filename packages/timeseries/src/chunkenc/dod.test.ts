import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader } from './bitstream.js';
import { PositionDecoder, PositionEncoder, TimestampDecoder, TimestampEncoder } from './dod.js';
import { rng } from './datasets.js';

function positionsRoundTrip(ps: ArrayLike<number>): number {
  const e = new PositionEncoder();
  for (let i = 0; i < ps.length; i++) e.put(ps[i]);
  const b = e.bytes();
  const r = new BitReader(b);
  const d = new PositionDecoder(r);
  for (let i = 0; i < ps.length; i++) assert.equal(d.next(), ps[i], `position ${i}`);
  assert.equal(r.overrun, false);
  return b.length;
}

function timestampsRoundTrip(ts: BigInt64Array): number {
  const e = new TimestampEncoder();
  e.putAll(ts);
  const b = e.bytes();
  const r = new BitReader(b);
  const got = new BigInt64Array(ts.length);
  new TimestampDecoder(r).readInto(got, 0, ts.length);
  assert.deepEqual(got, ts);
  assert.equal(r.overrun, false);
  return b.length;
}

test('a dense run 0..n-1 costs a few bytes', () => {
  const n = 100_000;
  const ps = new Uint32Array(n);
  for (let i = 0; i < n; i++) ps[i] = i;
  assert.ok(positionsRoundTrip(ps) <= 8);
  assert.ok(positionsRoundTrip(ps.subarray(0, 3600)) <= 5);
});

test('positions: empty, one, max, gaps, strides and random subsets', () => {
  positionsRoundTrip([]);
  positionsRoundTrip([0]);
  positionsRoundTrip([0xffffffff]);
  positionsRoundTrip([0, 0xffffffff]);
  positionsRoundTrip([0xfffffffe, 0xffffffff]);
  positionsRoundTrip([0, 1, 2, 3, 10, 11, 12, 13, 1000, 1001, 4_000_000_000]);
  const stride = Array.from({ length: 360 }, (_, i) => i * 10);
  assert.ok(positionsRoundTrip(stride) <= 8);
  const r = rng(11);
  const sub: number[] = [];
  for (let i = 0; i < 50_000; i++) if (r() < 0.3) sub.push(i);
  positionsRoundTrip(sub);
});

test('positions in arbitrary order still round-trip', () => {
  positionsRoundTrip([5, 3, 0xffffffff, 0, 7, 7, 1]);
});

test('regular nanosecond timestamps cost a few bytes', () => {
  const n = 3600;
  const ts = new BigInt64Array(n);
  for (let i = 0; i < n; i++) ts[i] = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n;
  // ~11 bytes for the absolute first timestamp, ~7 for the first delta, ~3 for the run.
  assert.ok(timestampsRoundTrip(ts) <= 24);
});

test('jittery timestamps cost about log2(jitter) bits', () => {
  const r = rng(2);
  const n = 10_000;
  const ts = new BigInt64Array(n);
  let t = 1_700_000_000_123_456_789n;
  for (let i = 0; i < n; i++) ts[i] = t += 1_000_000_000n + BigInt(Math.floor(r() * 1000) * 1000); // µs jitter < 1 ms
  const bytes = timestampsRoundTrip(ts);
  // Second differences span ~2^21 ns; allow ~24 bits per point.
  assert.ok(bytes / n < 3, `${bytes / n} bytes/point`);
});

test('timestamps: int64 extremes, negative times, huge jumps, unsorted, duplicates', () => {
  const max = 2n ** 63n - 1n;
  const min = -(2n ** 63n);
  timestampsRoundTrip(new BigInt64Array(0));
  timestampsRoundTrip(BigInt64Array.of(0n));
  timestampsRoundTrip(BigInt64Array.of(min, max, min, max, 0n, -1n, 1n));
  timestampsRoundTrip(BigInt64Array.of(max - 1n, max, max, max - 5n));
  timestampsRoundTrip(BigInt64Array.of(min, min + 1n, min + 2n));
  // Around the 2^50 delta limit, both sides, and word-carry boundaries.
  const base = 1_700_000_000_000_000_000n;
  timestampsRoundTrip(BigInt64Array.of(base, base + 2n ** 50n - 1n, base + 2n ** 50n, base - 2n ** 50n, base + 2n ** 51n, base));
  timestampsRoundTrip(BigInt64Array.of(2n ** 32n - 1n, 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), -(2n ** 32n) - 1n));
  const r = rng(9);
  const ts = new BigInt64Array(5000);
  for (let i = 0; i < ts.length; i++) {
    const k = r();
    ts[i] = k < 0.05 ? BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 53)) * 2048n) : base + BigInt(Math.floor((r() - 0.5) * 3.6e12));
  }
  timestampsRoundTrip(ts);
});
