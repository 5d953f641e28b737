import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeState, encodeState, processMeasures, readMeasures, SPLIT_POINTS, type State } from './index.js';
import { CorruptDataError } from '../chunkenc/errors.js';
import { anyDouble, anyInt64, assertSameBits, decodesOrRejects, doubleColumn, INT64_MAX, INT64_MIN, mutated } from '../chunkenc/properties.js';
import type { ArchivePolicy } from '../policy.js';

/** A state as the engine keeps it: a sorted, duplicate-free buffer and split starts per series. */
const anyState: fc.Arbitrary<State> = fc
  .tuple(
    fc.uniqueArray(anyInt64, { maxLength: 100 }),
    doubleColumn(100),
    fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.uniqueArray(anyInt64, { minLength: 1, maxLength: 20 })), { maxLength: 6 }),
  )
  .map(([ts, values, series]) => {
    const n = Math.min(ts.length, values.length);
    const sorted = BigInt64Array.from(ts.slice(0, n)).sort();
    return { buffer: { ts: sorted, values: values.slice(0, n) }, splits: new Map(series.map(([k, starts]) => [k, new Set(starts)])) };
  });

function assertSameState(actual: State, expected: State): void {
  assert.deepEqual(actual.buffer.ts, expected.buffer.ts);
  assertSameBits(actual.buffer.values, expected.buffer.values);
  assert.deepEqual(actual.splits, expected.splits);
}

test('state: any buffer (int64 timestamps, any doubles) and split starts round-trip', () => {
  fc.assert(
    fc.property(anyState, (state) => assertSameState(decodeState(encodeState(state)), state)),
    { numRuns: 200 },
  );
});

test('state: arbitrary and mutated bytes decode or throw CorruptDataError', () => {
  const valid = encodeState({
    buffer: { ts: BigInt64Array.of(-5n, 0n, 1_700_000_000_000_000_000n), values: Float64Array.of(1.5, NaN, -0) },
    splits: new Map([['mean_1000000000', new Set([0n, 3_600_000_000_000n])], ['max_60000000000', new Set([-(2n ** 62n)])]]),
  });
  const v1 = stateV1();
  fc.assert(
    fc.property(
      fc.oneof(mutated(valid), mutated(v1), fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.of(1, ...b)), fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.of(2, ...b))),
      (b) => {
        decodesOrRejects(() => decodeState(b));
      },
    ),
    { numRuns: 500 },
  );
});

/** A version 1 state (still read): u32 buffer length, buffer, u32 key count, u16-prefixed split keys. */
function stateV1(keys: string[] = ['mean_1000000000_0', 'mean_1000000000_3600000000000']): Uint8Array {
  const parts: number[] = [1, 0, 0, 0, 0, keys.length, 0, 0, 0];
  for (const k of keys) {
    const b = Buffer.from(k);
    parts.push(b.length & 0xff, b.length >> 8, ...b);
  }
  return Uint8Array.from(parts);
}

test('state version 1: truncations and bad split keys are CorruptDataError (were DataView RangeError / BigInt SyntaxError)', () => {
  const v1 = stateV1();
  assert.deepEqual(decodeState(v1).splits, new Map([['mean_1000000000', new Set([0n, 3_600_000_000_000n])]]));
  for (let cut = 1; cut < v1.length; cut++) {
    assert.throws(() => decodeState(v1.subarray(0, cut)), CorruptDataError, `cut at ${cut}`);
  }
  assert.throws(() => decodeState(stateV1(['mean_1000000000_12x'])), CorruptDataError);
  assert.throws(() => decodeState(stateV1(['nounderscore'])), CorruptDataError);
  // A buffer length far past the end.
  assert.throws(() => decodeState(Uint8Array.of(1, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0)), CorruptDataError);
});

const policy = (granularity: bigint): ArchivePolicy => ({
  name: 'p',
  backWindow: 0,
  aggregationMethods: ['last'],
  definition: [{ granularity, points: null, timespan: null }],
});

test('splits: points on the granularity grid anywhere in int64 come back bit for bit through stored splits', async () => {
  const granularity = fc.oneof(fc.constantFrom(1n, 1_000_000_000n, 60_000_000_000n, 86_400_000_000_000n), fc.bigInt(1n, 2n ** 40n));
  const points = granularity.chain((g) =>
    fc.record({
      g: fc.constant(g),
      // Bucket indexes whose timestamps stay inside int64, clustered so splits fill up.
      base: fc.bigInt(INT64_MIN / g + 1n, INT64_MAX / g - 2n * BigInt(SPLIT_POINTS)),
      offsets: fc.uniqueArray(fc.integer({ min: 0, max: 2 * SPLIT_POINTS }), { minLength: 1, maxLength: 60 }),
      values: fc.array(anyDouble, { minLength: 60, maxLength: 60 }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(points, async ({ g, base, offsets, values }) => {
      const sorted = [...offsets].sort((a, b) => a - b);
      const ts = BigInt64Array.from(sorted, (o) => (base + BigInt(o)) * g);
      const vs = Float64Array.from(sorted, (_, i) => values[i]);
      const splits = new Map<string, Uint8Array>();
      const readSplit = async (key: string): Promise<Uint8Array | null> => splits.get(key) ?? null;
      const r = await processMeasures(policy(g), null, { ts, values: vs }, readSplit);
      for (const [k, v] of r.put) splits.set(k, v);
      const got = await readMeasures(policy(g), r.state, { aggregation: 'last' }, readSplit);
      assert.deepEqual(got.ts, ts);
      assertSameBits(got.values, vs);
    }),
    { numRuns: 100 },
  );
});

test('splits: a point in the first split of the int64 range (its start below -2^63) keeps its timestamp', async () => {
  // The split of 1677-09-21 at 1 minute starts before the int64 range; a position computed
  // from a wrapped 64-bit start would come back 292 years off.
  const g = 60_000_000_000n;
  const ts = BigInt64Array.of(-153_720_001n * g);
  const splits = new Map<string, Uint8Array>();
  const readSplit = async (key: string): Promise<Uint8Array | null> => splits.get(key) ?? null;
  const r = await processMeasures(policy(g), null, { ts, values: Float64Array.of(2.5) }, readSplit);
  for (const [k, v] of r.put) splits.set(k, v);
  const got = await readMeasures(policy(g), r.state, { aggregation: 'last' }, readSplit);
  assert.deepEqual(got.ts, ts);
  assert.deepEqual(got.values, Float64Array.of(2.5));
});

test('folds: a batch cut into many small calls stores exactly the points one call stores', async () => {
  const S = 1_000_000_000n;
  const p: ArchivePolicy = {
    // No percentile: its interpolation uses the bucket's index in the points a fold
    // recomputes, as Gnocchi's does, so its last bits depend on where a fold starts.
    name: 'p', backWindow: 0, aggregationMethods: ['mean', 'min', 'max', 'sum', 'std', 'count', 'first', 'last'],
    definition: [{ granularity: S, points: 3000, timespan: 3000n * S }, { granularity: 60n * S, points: null, timespan: null }, { granularity: 3600n * S, points: null, timespan: null }],
  };
  // Values mixing decimal scales from call to call (a segment's codec may no longer apply).
  const value = fc.oneof(
    fc.integer({ min: -1e6, max: 1e6 }).map((i) => i / 10),
    fc.integer({ min: -1e6, max: 1e6 }).map((i) => i / 1000),
    anyDouble,
  );
  const arbitrary = fc.record({
    gaps: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 300 }),
    values: fc.array(value, { minLength: 300, maxLength: 300 }),
    cuts: fc.uniqueArray(fc.integer({ min: 1, max: 299 }), { maxLength: 20 }),
  });
  const fold = async (batches: { ts: BigInt64Array; values: Float64Array }[]) => {
    const splits = new Map<string, Uint8Array>();
    const readSplit = async (key: string): Promise<Uint8Array | null> => splits.get(key) ?? null;
    let state: Uint8Array | null = null;
    for (const b of batches) {
      const r = await processMeasures(p, state, b, readSplit);
      for (const k of r.del) splits.delete(k);
      for (const [k, v] of r.put) splits.set(k, v);
      state = r.state;
    }
    return { state, readSplit, keys: [...splits.keys()].sort() };
  };
  await fc.assert(
    fc.asyncProperty(arbitrary, async ({ gaps, values, cuts }) => {
      const ts = new BigInt64Array(gaps.length);
      let t = 1_700_000_000n * S;
      gaps.forEach((g, i) => (ts[i] = t += BigInt(g) * S));
      const vs = Float64Array.from(gaps, (_, i) => values[i]);
      const bounds = [0, ...cuts.filter((c) => c < gaps.length).sort((a, b) => a - b), gaps.length];
      const parts = bounds.slice(1).map((end, i) => ({ ts: ts.slice(bounds[i], end), values: vs.slice(bounds[i], end) }));
      const small = await fold(parts);
      const one = await fold([{ ts, values: vs }]);
      assert.deepEqual(small.keys, one.keys);
      for (const aggregation of p.aggregationMethods) {
        const a = await readMeasures(p, small.state, { aggregation }, small.readSplit);
        const b = await readMeasures(p, one.state, { aggregation }, one.readSplit);
        assert.deepEqual(a.ts, b.ts, aggregation);
        assert.deepEqual(a.granularity, b.granularity, aggregation);
        assertSameBits(a.values, b.values);
      }
    }),
    { numRuns: 25 },
  );
});
