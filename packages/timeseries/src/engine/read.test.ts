// The read path's caches of decoded states and splits: what they serve must be what a
// fresh decode gives, a rewritten split (new bytes) must never be served from them, and
// what readMeasures returns must not share their arrays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodedSplits, readMeasures } from './read.js';
import { processMeasures } from './process.js';
import { decodeSplitSeries } from './splits.js';
import type { ArchivePolicy } from '../policy.js';

const S = 1_000_000_000n;
const T0 = 1_704_067_200n * S; // 2024-01-01T00:00:00Z

const policy: ArchivePolicy = {
  name: 'read-cache', backWindow: 0, aggregationMethods: ['mean', 'count'],
  definition: [{ granularity: S, points: null, timespan: null }, { granularity: 60n * S, points: null, timespan: null }],
};

/** One metric kept as metricd keeps it: state and splits replaced by each fold. */
class Metric {
  state: Uint8Array | null = null;
  readonly splits = new Map<string, Uint8Array>();
  readonly readSplit = (key: string): Promise<Uint8Array | null> => Promise.resolve(this.splits.get(key) ?? null);

  async post(fromSecond: number, values: number[]): Promise<void> {
    const ts = BigInt64Array.from(values, (_, i) => T0 + BigInt(fromSecond + i) * S);
    const r = await processMeasures(policy, this.state, { ts, values: Float64Array.from(values) }, this.readSplit);
    for (const k of r.del) this.splits.delete(k);
    for (const [k, v] of r.put) this.splits.set(k, v);
    this.state = r.state;
  }
}

/** The same read by an engine that has never seen these bytes: copies of state and splits. */
async function fresh(m: Metric, aggregation: string, granularity: bigint): Promise<{ ts: bigint[]; values: number[] }> {
  const splits = new Map([...m.splits].map(([k, v]) => [k, Uint8Array.from(v)]));
  const r = await readMeasures(policy, m.state && Uint8Array.from(m.state), { aggregation, granularity },
    (key) => Promise.resolve(splits.get(key) ?? null));
  return { ts: [...r.ts], values: [...r.values] };
}

async function read(m: Metric, aggregation: string, granularity: bigint): Promise<{ ts: bigint[]; values: number[] }> {
  const r = await readMeasures(policy, m.state, { aggregation, granularity }, m.readSplit);
  return { ts: [...r.ts], values: [...r.values] };
}

test('decoded splits: a hit is the decode of those bytes, other bytes are decoded anew, the bound holds', async () => {
  const m = new Metric();
  await m.post(0, Array.from({ length: 300 }, (_, i) => i % 7));
  const [key, bytes] = [...m.splits].find(([k]) => k.includes('mean'))!;
  assert.ok(key);
  const n = decodeSplitSeries(bytes, T0, S).ts.length;
  const cache = new DecodedSplits(8 * n); // room for 8 such splits
  const first = cache.decode(bytes, T0, S);
  assert.deepEqual(first, decodeSplitSeries(bytes, T0, S));
  assert.equal(cache.decode(bytes, T0, S), first, 'the same bytes are served from the cache');
  // Equal content in another buffer is another entry: identity is the version.
  const rewritten = Uint8Array.from(bytes);
  const again = cache.decode(rewritten, T0, S);
  assert.notEqual(again, first);
  assert.deepEqual(again, first);
  // A different start or granularity for the same bytes is not served the first decode.
  const shifted = cache.decode(bytes, T0 + 3600n * S, S);
  assert.equal(shifted.ts[0], first.ts[0] + 3600n * S);
  const first2 = cache.decode(bytes, T0, S);
  // Eight more splits: the least recently used (first2) goes, the bound holds.
  for (let i = 0; i < 8; i++) cache.decode(Uint8Array.from(bytes), T0, S);
  assert.ok(cache.points <= 8 * n, `bound of ${8 * n} points kept (${cache.points})`);
  assert.notEqual(cache.decode(bytes, T0, S), first2, 'the least recently used entry was evicted');
  // A split larger than an eighth of the bound is decoded but not kept.
  const tiny = new DecodedSplits(8 * n - 1);
  assert.notEqual(tiny.decode(bytes, T0, S), tiny.decode(bytes, T0, S));
  assert.equal(tiny.points, 0);
});

test('reads after a split is rewritten see the new points, as a fresh engine does', async () => {
  const m = new Metric();
  await m.post(0, Array.from({ length: 200 }, (_, i) => i));
  for (const [agg, g] of [['mean', S], ['count', S], ['mean', 60n * S]] as const) {
    assert.deepEqual(await read(m, agg, g), await fresh(m, agg, g));
    assert.deepEqual(await read(m, agg, g), await fresh(m, agg, g), 'read again, from the caches');
  }
  const before = await read(m, 'mean', S);
  // The next fold rewrites the open split (same key, new bytes) and the state.
  await m.post(200, Array.from({ length: 100 }, (_, i) => 1000 + i));
  for (const [agg, g] of [['mean', S], ['count', S], ['mean', 60n * S]] as const) {
    assert.deepEqual(await read(m, agg, g), await fresh(m, agg, g));
  }
  const after = await read(m, 'mean', S);
  assert.equal(after.ts.length, before.ts.length + 100);
  assert.equal(after.values[after.values.length - 1], 1099);
});

test('what a read returns is the caller\'s: modifying it changes no later read', async () => {
  const m = new Metric();
  await m.post(0, Array.from({ length: 120 }, (_, i) => i / 4));
  const expected = await read(m, 'mean', S);
  const r = await readMeasures(policy, m.state, { aggregation: 'mean', granularity: S }, m.readSplit);
  r.values.fill(-1);
  r.ts.fill(0n);
  assert.deepEqual(await read(m, 'mean', S), expected);
});
