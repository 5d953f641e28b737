import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CorruptDataError, decodeMeasures, encodeMeasures } from '../chunkenc/index.js';
import { pushBigVarint, zigzagBig } from '../chunkenc/varint.js';
import { assertSameBits } from '../chunkenc/properties.js';
import type { ArchivePolicy } from '../policy.js';
import type { Series } from '../aggregate.js';
import { processMeasures } from './process.js';
import { concat, extend, slice } from './series.js';
import { decodeState, encodeState, MAX_CHUNKS, nextChunks, type BufferChunk } from './state.js';

const S = 1_000_000_000n;

/** A 3-decimal walk at 1 s from `t0` seconds. */
function walk(t0: number, n: number, seed = 1): Series {
  let x = seed;
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let v = 100;
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    v = Math.round((v + x / 2_147_483_648 - 0.5) * 1000) / 1000;
    ts[i] = BigInt(t0 + i) * S;
    values[i] = v;
  }
  return { ts, values };
}

function decodedChunks(chunks: readonly BufferChunk[]): Series {
  const parts = chunks.map((c) => {
    const m = decodeMeasures(c.bytes);
    assert.equal(m.ts.length, c.n);
    return m;
  });
  return concat(parts);
}

test('buffer chunks: any appends and cuts keep the chunks equal to the buffer, the untouched ones reused as they were', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 400 })), { minLength: 1, maxLength: 60 }), (steps) => {
      const all = walk(1_700_000_000, steps.reduce((a, [add]) => a + add, 0));
      let buffer: Series = slice(all, 0, 0);
      let chunks: BufferChunk[] = [];
      let end = 0;
      for (const [add, cut] of steps) {
        const grown = extend(buffer, slice(all, end, end + add));
        end += add;
        const dropped = Math.min(cut, grown.ts.length);
        const next = slice(grown, dropped);
        const before = new Set(chunks.map((c) => c.bytes));
        const out = nextChunks(chunks, buffer.ts.length, next, dropped);
        const coded = decodedChunks(out);
        assert.deepEqual(coded.ts, next.ts);
        assertSameBits(coded.values, next.values);
        assert.ok(out.length <= MAX_CHUNKS);
        // Chunks the cut leaves whole are reused as they are (while too few to be merged).
        let at = -dropped;
        let kept = 0;
        for (const c of chunks) {
          if (at >= 0) kept++;
          at += c.n;
        }
        if (kept + 2 <= 8) assert.equal(out.filter((c) => before.has(c.bytes)).length, kept);
        buffer = next;
        chunks = out;
      }
    }),
    { numRuns: 100 },
  );
});

test('buffer chunks: batches of equal size are coded once each up to 8 chunks, then O(log) times each', () => {
  const all = walk(1_700_000_000, 400 * 64);
  let buffer: Series = slice(all, 0, 0);
  let chunks: BufferChunk[] = [];
  let coded = 0;
  for (let k = 0; k < 64; k++) {
    buffer = extend(buffer, slice(all, 400 * k, 400 * (k + 1)));
    const before = new Set(chunks.map((c) => c.bytes));
    chunks = nextChunks(chunks, 400 * k, buffer, 0);
    for (const c of chunks) if (!before.has(c.bytes)) coded += c.n;
    if (k < 8) assert.equal(coded, 400 * (k + 1), 'no chunk coded again before the ninth');
    assert.ok(chunks.length <= MAX_CHUNKS);
  }
  // A binary counter over the 56 batches past the eighth: each point about log2(56) times.
  assert.ok(coded <= 400 * (8 + 56 * 7), `${coded} points coded`);
  assert.deepEqual(decodedChunks(chunks).ts, buffer.ts);
});

/** The v2/v3 split index of `splits`, written out by hand: series key, then ns starts as zigzag deltas. */
function indexV2(splits: Map<string, Set<bigint>>): number[] {
  const out: number[] = [];
  pushBigVarint(out, BigInt(splits.size));
  for (const [key, starts] of splits) {
    const name = new TextEncoder().encode(key);
    pushBigVarint(out, BigInt(name.length));
    out.push(...name);
    pushBigVarint(out, BigInt(starts.size));
    let previous = 0n;
    for (const t of [...starts].sort((a, b) => (a < b ? -1 : 1))) {
      pushBigVarint(out, zigzagBig(t - previous));
      previous = t;
    }
  }
  return out;
}

test('state v4: the chunks and the split index round-trip, a decoded state keeps the chunks; v2 and v3 states still decode', () => {
  const buffer = walk(1_700_000_000, 1000);
  const chunks = [0, 300, 700, 1000].slice(1).map((to, i, a) => {
    const from = i === 0 ? 0 : a[i - 1];
    return { n: to - from, bytes: encodeMeasures(buffer.ts.subarray(from, to), buffer.values.subarray(from, to)) };
  });
  const minute = 60_000_000_000n * 3600n;
  const splits = new Map([
    ['mean_1000000000', new Set([0n, 3_600_000_000_000n])],
    ['mean_60000000000', new Set([-minute, 7889n * minute, 7890n * minute])],
    ['rate:mean_60000000000', new Set([-minute, 7889n * minute, 7890n * minute])],
    // Not at split boundaries (never written by the engine): kept in ns.
    ['max_1500000000', new Set([17n, -(2n ** 62n)])],
  ]);
  const bytes = encodeState({ buffer, splits, chunks });
  assert.equal(bytes[0], 4);
  const back = decodeState(bytes);
  assert.deepEqual(back.buffer.ts, buffer.ts);
  assertSameBits(back.buffer.values, buffer.values);
  assert.deepEqual(back.splits, splits);
  assert.deepEqual(back.chunks?.map((c) => [...c.bytes]), chunks.map((c) => [...c.bytes]));
  assert.deepEqual(decodeState(bytes, { buffer: false }).splits, splits);
  // Series keys v4 cannot hold are written as v3.
  const odd = new Map([['a_b', new Set([1n])], ['mean_0', new Set([2n])]]);
  const v3 = encodeState({ buffer, splits: odd, chunks });
  assert.equal(v3[0], 3);
  assert.deepEqual(decodeState(v3).splits, odd);

  // Version 3: the chunks, then the v2 index.
  const v3bytes: number[] = [3];
  pushBigVarint(v3bytes, BigInt(chunks.length));
  for (const c of chunks) {
    pushBigVarint(v3bytes, BigInt(c.bytes.length));
    v3bytes.push(...c.bytes);
  }
  const fromV3 = decodeState(Uint8Array.from([...v3bytes, ...indexV2(splits)]));
  assert.deepEqual(fromV3.buffer.ts, buffer.ts);
  assert.deepEqual(fromV3.splits, splits);
  // Version 2: one measures blob for the buffer, then the same split index.
  const whole = encodeMeasures(buffer.ts, buffer.values);
  const v2: number[] = [2];
  pushBigVarint(v2, BigInt(whole.length));
  v2.push(...whole);
  const old = decodeState(Uint8Array.from([...v2, ...indexV2(splits)]));
  assert.deepEqual(old.buffer.ts, buffer.ts);
  assertSameBits(old.buffer.values, buffer.values);
  assert.deepEqual(old.splits, splits);
  assert.equal(old.chunks, undefined);
});

test('state v4: the index of a 6-method, 2-granularity metric takes under 30% of the v2 index (85 bytes against 331)', () => {
  const methods = ['mean', 'min', 'max', 'sum', 'std', 'count'];
  const splits = new Map<string, Set<bigint>>();
  for (const g of [60_000_000_000n, 3_600_000_000_000n]) {
    for (const m of methods) splits.set(`${m}_${g}`, new Set([(1_704_067_200_000_000_000n / (g * 3600n)) * g * 3600n]));
  }
  const v4 = encodeState({ buffer: slice(walk(0, 1), 0, 0), splits });
  assert.deepEqual(decodeState(v4).splits, splits);
  const v2 = indexV2(splits).length;
  assert.ok(v4.length <= 0.3 * v2, `v4 ${v4.length} bytes, v2 index ${v2}`);
});

test('state v4: corrupt indexes are CorruptDataError', () => {
  const splits = new Map([['mean_60000000000', new Set([0n])], ['max_60000000000', new Set([0n])]]);
  const good = encodeState({ buffer: slice(walk(0, 1), 0, 0), splits });
  for (let cut = 1; cut < good.length; cut++) assert.throws(() => decodeState(good.subarray(0, cut)), CorruptDataError, `cut at ${cut}`);
  // A series referring to starts before the first one.
  const bad = Uint8Array.from([4, 0, 1, 4, ...new TextEncoder().encode('mean'), 1, 0, 10, 6, 2]);
  assert.throws(() => decodeState(bad), CorruptDataError);
});

test('state v3 and v4: more chunks than a state may have, or chunks out of order', () => {
  const one = encodeMeasures(BigInt64Array.of(5n), Float64Array.of(1));
  const state = (blobs: Uint8Array[]): Uint8Array => {
    const out: number[] = [3];
    pushBigVarint(out, BigInt(blobs.length));
    for (const b of blobs) {
      pushBigVarint(out, BigInt(b.length));
      out.push(...b);
    }
    out.push(0);
    return Uint8Array.from(out);
  };
  assert.throws(() => decodeState(state(Array.from({ length: MAX_CHUNKS + 1 }, () => one))), CorruptDataError);
  // Chunks out of order still give a sorted buffer, with no chunks to reuse.
  const later = encodeMeasures(BigInt64Array.of(9n), Float64Array.of(2));
  const s = decodeState(state([later, one]));
  assert.deepEqual(s.buffer.ts, BigInt64Array.of(5n, 9n));
  assert.equal(s.chunks, undefined);
});

test('extend writes after its head only once: views made before keep their points', () => {
  const a = walk(0, 10);
  const head = extend(slice(a, 0, 0), slice(a, 0, 4));
  const one = extend(head, slice(a, 4, 6));
  assert.equal(one.ts.buffer, head.ts.buffer, 'grown in place');
  const other = extend(head, slice(a, 6, 10)); // from the same head again: must not overwrite `one`
  assert.notEqual(other.ts.buffer, head.ts.buffer);
  assert.deepEqual([...one.ts], [...a.ts.subarray(0, 6)]);
  assert.deepEqual([...other.ts], [...a.ts.subarray(0, 4), ...a.ts.subarray(6, 10)]);
  assert.deepEqual([...head.ts], [...a.ts.subarray(0, 4)]);
});

test('folds of a growing hour write v4 states whose buffers equal folds from decoded copies', async () => {
  const policy: ArchivePolicy = {
    name: 'p',
    backWindow: 0,
    aggregationMethods: ['mean', 'std', 'max'],
    definition: [{ granularity: 60n * S, points: null, timespan: null }, { granularity: 3600n * S, points: null, timespan: null }],
  };
  const all = walk(1_704_067_200, 9000);
  const run = async (copy: boolean): Promise<Uint8Array[]> => {
    let state: Uint8Array | null = null;
    const splits = new Map<string, Uint8Array>();
    const states: Uint8Array[] = [];
    for (let i = 0; i < 9000; i += 250) {
      const r = await processMeasures(policy, state, slice(all, i, i + 250), async (k) => splits.get(k) ?? null);
      for (const [k, b] of r.put) splits.set(k, b);
      states.push(r.state);
      state = copy ? r.state.slice() : r.state;
    }
    return states;
  };
  const cached = await run(false);
  const decoded = await run(true);
  for (let i = 0; i < cached.length; i++) {
    assert.equal(cached[i][0], 4);
    const a = decodeState(cached[i]);
    const b = decodeState(decoded[i]);
    assert.deepEqual(a.buffer.ts, b.buffer.ts);
    assertSameBits(a.buffer.values, b.buffer.values);
    // The buffer holds the current hour: everything from its start on.
    const last = Number(a.buffer.ts[a.buffer.ts.length - 1] / S);
    assert.equal(Number(a.buffer.ts[0] / S), last - (last % 3600));
  }
});
