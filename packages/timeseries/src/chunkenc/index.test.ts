import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendSplit, CorruptDataError, decodeMeasures, decodeSplit, encodeMeasures, encodeSplit, Encoding, measuresCodecHint, segmentHint, splitCodecHint } from './index.js';
import { datasets, dense, randomWalk3, rng } from './datasets.js';

function sameBits(a: Float64Array, b: Float64Array): void {
  assert.equal(a.length, b.length);
  assert.deepEqual(new Uint32Array(a.buffer, a.byteOffset, a.length * 2), new Uint32Array(b.buffer, b.byteOffset, b.length * 2));
}

function splitRoundTrip(p: Uint32Array, v: Float64Array): Uint8Array {
  const b = encodeSplit(p, v);
  const d = decodeSplit(b);
  assert.deepEqual(d.positions, p);
  sameBits(d.values, v);
  // Blobs are read from slices of larger buffers in storage: decode unaligned too.
  const shifted = new Uint8Array(b.length + 3);
  shifted.set(b, 3);
  sameBits(decodeSplit(shifted.subarray(3)).values, v);
  return b;
}

function measuresRoundTrip(t: BigInt64Array, v: Float64Array): Uint8Array {
  const b = encodeMeasures(t, v);
  const d = decodeMeasures(b);
  assert.deepEqual(d.ts, t);
  sameBits(d.values, v);
  return b;
}

test('the target: a 3600-point 3-decimal 1 s random walk costs <= 1.5 bytes/point all in', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const b = splitRoundTrip(dense(3600), randomWalk3(3600, seed));
    assert.equal(b[0], Encoding.SplitDecimal);
    assert.ok(b.length / 3600 <= 1.5, `${b.length / 3600} bytes/point`);
  }
});

test('every benchmark dataset round-trips and beats raw', () => {
  for (const ds of datasets()) {
    const b = splitRoundTrip(ds.positions, ds.values);
    assert.ok(b.length < 5 + 12 * ds.positions.length, ds.name);
  }
  const c = datasets().find((d) => d.name === 'constant')!;
  assert.ok(encodeSplit(c.positions, c.values).length <= 16);
});

test('edge cases: empty, one point, max positions, -0, denormals, extremes', () => {
  splitRoundTrip(new Uint32Array(0), new Float64Array(0));
  splitRoundTrip(Uint32Array.of(0), Float64Array.of(1.5));
  splitRoundTrip(Uint32Array.of(0xffffffff), Float64Array.of(-0));
  splitRoundTrip(Uint32Array.of(0, 1, 2, 0xfffffffe, 0xffffffff), Float64Array.of(-0, 0, 5e-324, -Number.MAX_VALUE, 2.2250738585072014e-308));
  splitRoundTrip(Uint32Array.of(3, 4, 5), Float64Array.of(0.1 + 0.2, 0.3, 0.1));
  splitRoundTrip(Uint32Array.of(0, 9, 10), Float64Array.of(2 ** 60, -(2 ** 60), 1));
});

test('incompressible input falls back to raw (never bigger than raw)', () => {
  const r = rng(21);
  const n = 500;
  const p = new Uint32Array(n);
  const v = new Float64Array(n);
  const u = new Uint32Array(v.buffer);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    pos += 1 + Math.floor(r() * 2 ** 22);
    p[i] = pos;
  }
  for (let i = 0; i < u.length; i++) u[i] = Math.floor(r() * 2 ** 32);
  for (let i = 0; i < n; i++) if (!Number.isFinite(v[i])) v[i] = i; // keep values finite
  const b = splitRoundTrip(p, v);
  assert.ok(b.length <= 5 + 12 * n);
});

test('measures: unsorted, duplicated, extreme ns timestamps round-trip', () => {
  measuresRoundTrip(new BigInt64Array(0), new Float64Array(0));
  measuresRoundTrip(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 0n, 0n), Float64Array.of(1, -0, 3.5, 3.5));
  const r = rng(12);
  const n = 5000;
  const t = new BigInt64Array(n);
  const v = randomWalk3(n, 4);
  let base = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    base += 1_000_000_000n;
    t[i] = r() < 0.1 ? base - BigInt(Math.floor(r() * 1e12)) : base + BigInt(Math.floor(r() * 1e6));
  }
  const b = measuresRoundTrip(t, v);
  assert.equal(b[0], Encoding.MeasuresDecimal);
});

test('regular measures at 1 s compress to ~1 byte/point with 3-decimal values', () => {
  const n = 3600;
  const t = new BigInt64Array(n);
  for (let i = 0; i < n; i++) t[i] = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n;
  const b = measuresRoundTrip(t, randomWalk3(n, 2));
  assert.ok(b.length / n <= 1.5);
});

test('decoders reject unknown ids, empty and truncated blobs, length mismatches', () => {
  assert.throws(() => decodeSplit(new Uint8Array(0)), CorruptDataError);
  assert.throws(() => decodeSplit(Uint8Array.of(0xee)), CorruptDataError);
  assert.throws(() => decodeMeasures(Uint8Array.of(Encoding.SplitXor, 0, 0)), CorruptDataError);
  const b = encodeSplit(dense(3600), randomWalk3(3600, 1));
  assert.throws(() => decodeSplit(b.subarray(0, b.length - 100)), CorruptDataError);
  assert.throws(() => encodeSplit(Uint32Array.of(1), new Float64Array(0)), RangeError);
  assert.throws(() => encodeMeasures(new BigInt64Array(2), new Float64Array(1)), RangeError);
});

test('a split codec hint: used while it applies, every codec weighed when it does not', () => {
  const p = dense(1500);
  const walk = randomWalk3(1500, 3);
  const full = encodeSplit(p, walk);
  assert.equal(full[0], Encoding.SplitDecimal);
  const hint = splitCodecHint(full)!;
  assert.equal(hint.n, 1500);
  // Same size class (1024..2047 points), same scale: the hinted codec gives the same blob.
  assert.deepEqual(encodeSplit(p, walk, hint), full);
  // An IEEE hint in the same size class is followed (the encoder does not look further)...
  const ieee = encodeSplit(p, walk, { codec: { kind: 'ieee' }, n: 1100 });
  assert.equal(ieee[0], Encoding.SplitIeee);
  sameBits(decodeSplit(ieee).values, walk);
  // ...but not once the split has crossed a power of two since the hinted version.
  assert.deepEqual(encodeSplit(p, walk, { codec: { kind: 'ieee' }, n: 1000 }), full);
  // A decimal hint at another scale would lose digits: ignored, the result is exact.
  const finer = walk.map((v, i) => (i === 700 ? v + 0.0001 : v));
  const b = encodeSplit(p, finer, hint);
  sameBits(decodeSplit(b).values, finer);
  assert.deepEqual(b, encodeSplit(p, finer));
  assert.equal(splitCodecHint(encodeSplit(Uint32Array.of(1, 2), Float64Array.of(1, 2)))?.n, 2);
});

test('long columns are weighed on their tail, then coded whole: still exact whatever the head holds', () => {
  const n = 5000;
  const r = rng(5);
  const walk = randomWalk3(n, 9);
  // Full-precision noise in the head: no decimal scale fits the whole column, whatever the tail says.
  const mixed = walk.map((v, i) => (i < 1000 ? v + r() : v));
  const b = splitRoundTrip(dense(n), mixed);
  assert.notEqual(b[0], Encoding.SplitDecimal);
  // A 3-decimal walk: the decimal codec wins on the tail and codes the whole column.
  const w = splitRoundTrip(dense(n), walk);
  assert.equal(w[0], Encoding.SplitDecimal);
  assert.ok(w.length / n <= 1.5, `${w.length / n} bytes/point`);
});

test('a measures codec hint: the blob of the measures before is followed while its codec applies', () => {
  const n = 400;
  const ts = BigInt64Array.from({ length: 2 * n }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n);
  const walk = randomWalk3(2 * n, 5);
  const first = encodeMeasures(ts.subarray(0, n), walk.subarray(0, n));
  const hint = measuresCodecHint(first)!;
  assert.deepEqual(hint, { codec: { kind: 'decimal', scale: 3, order: 1 }, n });
  const next = encodeMeasures(ts.subarray(n), walk.subarray(n), hint);
  assert.deepEqual(next, encodeMeasures(ts.subarray(n), walk.subarray(n)));
  // A hint whose codec cannot code these values exactly is not followed.
  const noise = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-7);
  const b = encodeMeasures(ts.subarray(n), noise, hint);
  sameBits(decodeMeasures(b).values, noise);
  // Random 64-bit timestamps and values do not compress: a raw blob, which hints raw.
  const r = rng(8);
  const rts = BigInt64Array.from({ length: 64 }, () => BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 32)) << 31n));
  const rv = new Float64Array(64);
  const u = new Uint32Array(rv.buffer);
  for (let i = 0; i < u.length; i++) u[i] = Math.floor(r() * 2 ** 32);
  const raw = encodeMeasures(rts, rv);
  assert.equal(raw[0], Encoding.RawMeasures);
  assert.deepEqual(measuresCodecHint(raw), { codec: 'raw', n: 64 });
});

test('scratch column writers: blobs coded one after another do not share bytes', () => {
  const a = encodeSplit(dense(3000), randomWalk3(3000, 1));
  const copy = a.slice();
  const b = encodeSplit(dense(10), randomWalk3(10, 2));
  encodeMeasures(BigInt64Array.of(1n, 2n), Float64Array.of(1, 2));
  assert.deepEqual(a, copy);
  // Small blobs may be views on one shared buffer, never on the same bytes.
  const disjoint = a.buffer !== b.buffer || a.byteOffset + a.length <= b.byteOffset || b.byteOffset + b.length <= a.byteOffset;
  assert.ok(disjoint, 'two blobs on the same bytes');
  b.fill(0xff);
  assert.ok(a.every((x, i) => x === copy[i]), 'writing one blob changed the other');
  sameBits(decodeSplit(copy).values, randomWalk3(3000, 1));
});

test('a value column coded for one split serves the next with the same values under the same hint, bit for bit', () => {
  const p = dense(400);
  const walk = randomWalk3(400, 4);
  const plain = encodeSplit(p, walk);
  const hint = splitCodecHint(plain)!;
  // The same values under another hint are weighed again: the hinted codec is followed.
  const ieee = encodeSplit(p, walk.slice(), { codec: { kind: 'ieee' }, n: 400 });
  assert.equal(ieee[0], Encoding.SplitIeee);
  assert.deepEqual(encodeSplit(p, walk.slice(), hint), plain);
  assert.equal(encodeSplit(p, walk.slice(), { codec: { kind: 'ieee' }, n: 400 })[0], Encoding.SplitIeee);
  // Columns equal as numbers but not as bits: -0 and 0, NaN; each round-trips as it is.
  const zeros = new Float64Array(400);
  const negative = zeros.map((_, i) => (i === 123 ? -0 : 0));
  splitRoundTrip(p, zeros);
  splitRoundTrip(p, negative);
  splitRoundTrip(p, zeros);
  const nan = walk.map((v, i) => (i === 7 ? NaN : v));
  splitRoundTrip(p, nan);
  splitRoundTrip(p, nan.slice());
  // A column changed in place between two encodes is coded as it now is.
  const w = walk.slice();
  encodeSplit(p, w);
  w[399] += 1;
  sameBits(decodeSplit(encodeSplit(p, w)).values, w);
});

test('a position column coded for one split serves the next with the same positions, never one with other positions', () => {
  const p = dense(400).map((x) => 3 * x + 1);
  const a = randomWalk3(400, 1);
  const b = randomWalk3(400, 2);
  // Coded after a split with other positions (nothing to reuse), then after one with the same.
  encodeSplit(dense(400), a);
  const fresh = encodeSplit(p, b);
  encodeSplit(p.slice(), a);
  assert.deepEqual(encodeSplit(p.slice(), b), fresh);
  // The same array changed in place between two encodes is coded as it now is.
  const q = p.slice();
  encodeSplit(q, a);
  q[200] += 1;
  assert.deepEqual(decodeSplit(encodeSplit(q, a)).positions, q);
  // A prefix of the last positions is another column.
  assert.deepEqual(decodeSplit(encodeSplit(q.subarray(0, 300), a.subarray(0, 300))).positions, q.subarray(0, 300));
});

test('a split stored uncompressed hints the uncompressed form for as many points, and only for as many', () => {
  // One point far into its split: every codec's blob is larger than the raw one.
  const first = encodeSplit(Uint32Array.of(3599), Float64Array.of(Math.PI), null);
  assert.equal(first[0], Encoding.RawSplit);
  const hint = splitCodecHint(first);
  assert.deepEqual(hint, { codec: 'raw', n: 1 });
  // A value the codecs alone would code smaller: the hint is followed without weighing them.
  assert.notEqual(encodeSplit(Uint32Array.of(3599), Float64Array.of(400), null)[0], Encoding.RawSplit);
  const hinted = encodeSplit(Uint32Array.of(3599), Float64Array.of(400), hint);
  assert.equal(hinted[0], Encoding.RawSplit);
  assert.deepEqual(decodeSplit(hinted).values, Float64Array.of(400));
  // Seven points are another size: weighed again, and coded.
  const seven = Uint32Array.from({ length: 7 }, (_, i) => 3593 + i);
  const sevenValues = Float64Array.from(seven, (p) => p / 8);
  assert.notEqual(encodeSplit(seven, sevenValues, hint)[0], Encoding.RawSplit);
  // A segment after a raw one: as many points follow it, more are weighed.
  assert.deepEqual(segmentHint(first, 1), { codec: 'raw', n: 1 });
  assert.deepEqual(segmentHint(first, 7), { codec: 'raw', n: 1 });
  const appended = appendSplit(first, Uint32Array.of(3599), Float64Array.of(400));
  assert.ok(appended !== null);
  assert.deepEqual(decodeSplit(appended).values, Float64Array.of(400));
  // Raw measures hint the same way.
  const ts = BigInt64Array.of(1_700_000_000_123_456_789n);
  const rawMeasures = encodeMeasures(ts, Float64Array.of(Math.PI), { codec: 'raw', n: 1 });
  assert.equal(rawMeasures[0], Encoding.RawMeasures);
  assert.deepEqual(measuresCodecHint(rawMeasures), { codec: 'raw', n: 1 });
  assert.deepEqual(decodeMeasures(rawMeasures).values, Float64Array.of(Math.PI));
});
