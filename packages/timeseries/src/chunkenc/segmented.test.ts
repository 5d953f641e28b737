import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CorruptDataError, Encoding, MAX_SEGMENTS, appendSplit, appendSplitSegment, decodeSplit, encodeSplit, segmentHint, splitCodecHint, splitLastPosition, splitSegmentCount } from './index.js';
import { writeSegments } from './segmented.js';
import { assertSameBits, decodesOrRejects, doubleColumn, mutated } from './properties.js';

/** The points of segments applied in order, a later point replacing one at the same position. */
function reference(segments: { positions: number[]; values: Float64Array }[]): { positions: number[]; values: Float64Array } {
  const byPosition = new Map<number, [number, number]>();
  segments.forEach((s, k) => s.positions.forEach((p, i) => byPosition.set(p, [k, i])));
  const positions = [...byPosition.keys()].sort((a, b) => a - b);
  // Copied with set(): reading a NaN into a JS number may not keep its payload.
  const values = new Float64Array(positions.length);
  positions.forEach((p, i) => {
    const [k, j] = byPosition.get(p) as [number, number];
    values.set(segments[k].values.subarray(j, j + 1), i);
  });
  return { positions, values };
}

const ascending = (max: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.nat({ max }), { minLength: 1, maxLength: 60 }).map((a) => a.sort((x, y) => x - y));

test('appended segments decode to the points of every segment, later ones winning at equal positions', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 40 }), ascending(200), doubleColumn(60)), { minLength: 1, maxLength: MAX_SEGMENTS }), (raw) => {
      // Each segment starts at or after the end of the previous one, as the engine appends.
      let from = 0;
      const segments = raw.map(([gap, ps, vs]) => {
        const n = Math.min(ps.length, vs.length);
        const positions = ps.slice(0, Math.max(1, n)).map((p) => p + from + (gap % 2 === 0 ? 0 : gap));
        const values = vs.length >= positions.length ? vs.subarray(0, positions.length) : Float64Array.from(positions, (p) => p / 7);
        from = positions[positions.length - 1]; // the next may replace this last point
        return { positions, values };
      });
      let blob = encodeSplit(Uint32Array.from(segments[0].positions), segments[0].values);
      for (const s of segments.slice(1)) {
        blob = appendSplitSegment(blob, encodeSplit(Uint32Array.from(s.positions), s.values), s.positions[s.positions.length - 1]);
      }
      const want = reference(segments);
      const got = decodeSplit(blob);
      assert.deepEqual([...got.positions], want.positions);
      assertSameBits(got.values, want.values);
      assert.equal(splitSegmentCount(blob), segments.length);
      assert.equal(splitLastPosition(blob), want.positions[want.positions.length - 1]);
      assert.notEqual(splitCodecHint(blob), undefined);
    }),
    { numRuns: 300 },
  );
});

test('segments in any order still decode with later ones winning', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(ascending(300), doubleColumn(60)), { minLength: 1, maxLength: 6 }), (raw) => {
      const segments = raw.map(([ps, vs]) => ({ positions: ps, values: Float64Array.from(ps, (p, i) => vs[i % Math.max(1, vs.length)] ?? p) }));
      const blob = writeSegments(segments.map((s) => ({
        lastPosition: s.positions[s.positions.length - 1],
        bytes: encodeSplit(Uint32Array.from(s.positions), s.values),
      })));
      const want = reference(segments);
      const got = decodeSplit(blob);
      assert.deepEqual([...got.positions], want.positions);
      assertSameBits(got.values, want.values);
    }),
    { numRuns: 200 },
  );
});

test('a split takes at most MAX_SEGMENTS segments, and no segmented segment', () => {
  let blob = encodeSplit(Uint32Array.of(0), Float64Array.of(1));
  for (let i = 1; i < MAX_SEGMENTS; i++) blob = appendSplitSegment(blob, encodeSplit(Uint32Array.of(i), Float64Array.of(i)), i);
  assert.throws(() => appendSplitSegment(blob, encodeSplit(Uint32Array.of(99), Float64Array.of(1)), 99), RangeError);
  assert.throws(() => appendSplitSegment(encodeSplit(Uint32Array.of(0), Float64Array.of(1)), blob, 15), RangeError);
  assert.equal(decodeSplit(blob).positions.length, MAX_SEGMENTS);
});

test('segmented blobs: mutated bytes decode or throw CorruptDataError', () => {
  let valid = encodeSplit(Uint32Array.of(0, 1, 2, 5), Float64Array.of(1.5, 2.25, 3, 4));
  valid = appendSplitSegment(valid, encodeSplit(Uint32Array.of(5, 6, 9), Float64Array.of(7, 8, 9.125)), 9);
  valid = appendSplitSegment(valid, encodeSplit(Uint32Array.of(10), Float64Array.of(0.1)), 10);
  assert.equal(valid[0], Encoding.SplitSegmented);
  fc.assert(
    fc.property(mutated(valid), (b) => {
      decodesOrRejects(() => decodeSplit(b), CorruptDataError);
      decodesOrRejects(() => splitLastPosition(b), CorruptDataError);
      decodesOrRejects(() => splitSegmentCount(b), CorruptDataError);
      // An append reads the segment headers without building them: it checks them alike.
      decodesOrRejects(() => appendSplit(b, Uint32Array.of(4000), Float64Array.of(1)), CorruptDataError);
    }),
    { numRuns: 500 },
  );
});

test('appendSplit: the segment encodeSplit codes with the last segment as hint, appended; null before the last position or when full', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 40 }), ascending(200), doubleColumn(60)), { minLength: 2, maxLength: MAX_SEGMENTS + 2 }), (raw) => {
      let from = 0;
      let blob: Uint8Array | null = null;
      let segments = 0;
      for (const [gap, ps, vs] of raw) {
        const n = Math.min(ps.length, vs.length);
        if (n === 0) continue;
        const positions = Uint32Array.from(ps.slice(0, n).map((p) => p + from));
        const values = vs.slice(0, n);
        from = positions[n - 1] + gap;
        if (blob === null) {
          blob = encodeSplit(positions, values);
          segments = 1;
          continue;
        }
        const got = appendSplit(blob, positions, values);
        if (segments >= MAX_SEGMENTS) {
          assert.equal(got, null);
          continue;
        }
        const expected = appendSplitSegment(blob, encodeSplit(positions, values, segmentHint(blob, n)), positions[n - 1]);
        assert.deepEqual(got, expected);
        blob = expected;
        segments++;
      }
    }),
    { numRuns: 200 },
  );
  const one = encodeSplit(Uint32Array.of(3, 7), Float64Array.of(1, 2));
  assert.equal(appendSplit(one, Uint32Array.of(6, 8), Float64Array.of(1, 2)), null, 'starts before the last position');
  assert.notEqual(appendSplit(one, Uint32Array.of(7, 8), Float64Array.of(5, 6)), null, 'replaces the last point');
  assert.equal(appendSplit(one, new Uint32Array(0), new Float64Array(0)), null);
});
