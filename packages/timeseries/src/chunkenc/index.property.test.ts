import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitWriter } from './bitstream.js';
import { Encoding } from './encoding.js';
import { writeVarint } from './varint.js';
import { CorruptDataError, decodeMeasures, decodeSplit, encodeMeasures, encodeSplit, MAX_POINTS, splitCodecHint } from './index.js';
import { assertSameBits, decodesOrRejects, doubleColumn, mutated, timestampColumn } from './properties.js';

const COMPRESSED = [Encoding.SplitXor, Encoding.SplitDecimal, Encoding.SplitIeee, Encoding.SplitScaledDecimal, Encoding.MeasuresXor, Encoding.MeasuresDecimal, Encoding.MeasuresIeee, Encoding.MeasuresScaledDecimal];

function decodeAny(b: Uint8Array): void {
  decodesOrRejects(() => decodeSplit(b));
  decodesOrRejects(() => decodeMeasures(b));
  decodesOrRejects(() => splitCodecHint(b));
}

test('encodeMeasures/decodeMeasures: any int64 timestamps and doubles round-trip bit for bit', () => {
  fc.assert(
    fc.property(timestampColumn(300), doubleColumn(300), (ts0, values0) => {
      const n = Math.min(ts0.length, values0.length);
      const ts = ts0.subarray(0, n);
      const values = values0.subarray(0, n);
      const b = encodeMeasures(ts, values);
      assert.ok(b.length <= 5 + 16 * n);
      const d = decodeMeasures(b);
      assert.deepEqual(d.ts, ts);
      assertSameBits(d.values, values);
    }),
    { numRuns: 200 },
  );
});

test('encodeSplit/decodeSplit: any positions and doubles round-trip, with and without a hint', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 300 }), doubleColumn(300), fc.boolean(), (ps, values0, sorted) => {
      const n = Math.min(ps.length, values0.length);
      const positions = Uint32Array.from(ps.slice(0, n));
      if (sorted) positions.sort();
      const values = values0.subarray(0, n);
      const b = encodeSplit(positions, values);
      assert.ok(b.length <= 5 + 12 * n);
      const d = decodeSplit(b);
      assert.deepEqual(d.positions, positions);
      assertSameBits(d.values, values);
      // Re-encoding with the previous version's hint (what the engine does) is lossless too.
      const again = decodeSplit(encodeSplit(positions, values, splitCodecHint(b)));
      assertSameBits(again.values, values);
    }),
    { numRuns: 200 },
  );
});

test('decoders: arbitrary bytes behind every encoding id decode or throw CorruptDataError', () => {
  const ids = fc.constantFrom(Encoding.RawSplit, Encoding.RawMeasures, ...COMPRESSED);
  fc.assert(
    fc.property(ids, fc.uint8Array({ maxLength: 96 }), (id, body) => decodeAny(Uint8Array.of(id, ...body))),
    { numRuns: 500 },
  );
});

test('decoders: mutations of valid blobs (bits, truncation, extension, 0xff runs) decode or throw CorruptDataError', () => {
  const t = BigInt64Array.from({ length: 200 }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n + BigInt((i * 7919) % 13));
  const valid = [
    encodeSplit(Uint32Array.from({ length: 200 }, (_, i) => i), Float64Array.from({ length: 200 }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000)),
    encodeSplit(Uint32Array.from({ length: 200 }, (_, i) => 3 * i), Float64Array.from({ length: 200 }, (_, i) => Math.sqrt(i))),
    encodeSplit(Uint32Array.from({ length: 200 }, (_, i) => i), new Float64Array(200).fill(7)),
    encodeMeasures(t, Float64Array.from({ length: 200 }, (_, i) => i / 10)),
    encodeMeasures(t, Float64Array.from({ length: 200 }, (_, i) => Math.sqrt(i) * 1e300)),
    encodeMeasures(t.slice().reverse(), Float64Array.from({ length: 200 }, (_, i) => (i % 3) - 1)),
  ];
  assert.deepEqual(new Set(valid.map((b) => b[0])).size >= 4, true);
  fc.assert(
    fc.property(fc.oneof(...valid.map(mutated)), decodeAny),
    { numRuns: 600 },
  );
});

/** A compressed blob header claiming `n` points, followed by `body`. */
function claiming(id: number, n: number, keyBytes: Uint8Array, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 10 + 10 + keyBytes.length + rest.length);
  out[0] = id;
  let o = writeVarint(out, 1, n);
  o = writeVarint(out, o, keyBytes.length);
  out.set(keyBytes, o);
  out.set(rest, o + keyBytes.length);
  return out.subarray(0, o + keyBytes.length + rest.length);
}

test('headers claiming 2^31 or 2^53 points are rejected before anything is allocated for them', () => {
  for (const id of COMPRESSED) {
    for (const n of [2 ** 31, 2 ** 53, MAX_POINTS + 1]) {
      assert.throws(() => decodeSplit(claiming(id, n, new Uint8Array(4), new Uint8Array(8))), CorruptDataError);
      assert.throws(() => decodeMeasures(claiming(id, n, new Uint8Array(4), new Uint8Array(8))), CorruptDataError);
    }
  }
  for (const id of [Encoding.RawSplit, Encoding.RawMeasures]) {
    const raw = Uint8Array.of(id, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3);
    assert.throws(() => (id === Encoding.RawSplit ? decodeSplit(raw) : decodeMeasures(raw)), CorruptDataError);
  }
});

test('a header claiming the most points over a short column allocates by the input, not the count', () => {
  // Keys: a valid run of MAX_POINTS dense positions (a few bytes); values: a handful of
  // XOR bits. Decoding must stop at the value column's end, not allocate MAX_POINTS first.
  const kw = new BitWriter();
  // Rice run mode: a gamma-coded run of zeros covering every residual.
  const run = MAX_POINTS;
  const len = 32 - Math.clz32(run + 1);
  kw.writeBits(0, len - 1);
  kw.writeBits(run + 1, len);
  const keys = kw.bytes();
  for (const id of [Encoding.SplitXor, Encoding.MeasuresXor, Encoding.SplitIeee]) {
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const blob = claiming(id, MAX_POINTS, keys, new Uint8Array(16).fill(0x55));
    assert.throws(() => (id === Encoding.MeasuresXor ? decodeMeasures(blob) : decodeSplit(blob)), CorruptDataError);
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, 'allocated by the claimed count');
    assert.ok(performance.now() - started < 1000);
  }
});

test('encoders refuse more than MAX_POINTS points', () => {
  assert.throws(() => encodeSplit(new Uint32Array(MAX_POINTS + 1), new Float64Array(MAX_POINTS + 1)), RangeError);
});
