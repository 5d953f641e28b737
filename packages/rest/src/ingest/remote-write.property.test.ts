import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeWriteRequest, RemoteWriteError } from './remote-write.js';
import { snappyUncompress } from './snappy.js';
import { Pb, snappyCompress, writeRequest, type TestSeries } from './test-codecs.js';

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);
const bitsOf = (v: number): bigint => ((F64[0] = v), U64[0]);
const anyDouble = fc.oneof(fc.bigInt(0n, 2n ** 64n - 1n).map((b) => ((U64[0] = b), F64[0])), fc.double(), fc.constantFrom(-0, 5e-324, NaN, Infinity, -Infinity));
/** Sample timestamps (ms) whose ns value fits int64: 0 to 2^63 / 10^6. */
const MAX_MS = 9_223_372_036_854;
const label = fc.string({ unit: 'grapheme', maxLength: 16 });

const series: fc.Arbitrary<TestSeries> = fc.record({
  labels: fc
    .record({ __name__: label, job: label, instance: label }, { requiredKeys: [] })
    .chain((known) => fc.dictionary(label, label, { maxKeys: 3 }).map((other) => ({ ...other, ...known }))),
  samples: fc.array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: MAX_MS }), fc.constantFrom(0, MAX_MS)), anyDouble), { maxLength: 30 }),
});

test('remote write: any series, labels, ms timestamps and doubles decode exactly (non-finite ones counted)', () => {
  fc.assert(
    fc.property(fc.array(series, { maxLength: 5 }), fc.boolean(), (req, compressed) => {
      let buf: Uint8Array = writeRequest(req);
      if (compressed) buf = snappyUncompress(snappyCompress(buf));
      const got = decodeWriteRequest(buf);
      assert.equal(got.length, req.length);
      req.forEach((s, i) => {
        const g = got[i];
        assert.equal(g.name, s.labels.__name__ ?? null);
        assert.equal(g.job, s.labels.job ?? null);
        assert.equal(g.instance, s.labels.instance ?? null);
        const kept = s.samples.filter(([, v]) => Number.isFinite(v));
        assert.equal(g.skipped, s.samples.length - kept.length);
        assert.deepEqual([...g.measures.ts], kept.map(([ms]) => BigInt(ms) * 1_000_000n));
        assert.deepEqual([...g.measures.values].map(bitsOf), kept.map(([, v]) => bitsOf(v)));
      });
    }),
    { numRuns: 200 },
  );
});

function decodesOrRejects(b: Uint8Array): void {
  try {
    decodeWriteRequest(b);
  } catch (err) {
    if (!(err instanceof RemoteWriteError)) throw err;
  }
}

test('remote write: arbitrary and mutated requests decode or throw RemoteWriteError', () => {
  const valid = writeRequest([
    { labels: { __name__: 'up', job: 'j', instance: 'i:1' }, samples: [[1, 1], [2, 0.5], [3, NaN]] },
    { labels: { __name__: 'x', le: '+Inf' }, samples: [[1700000000000, -2]] },
  ]);
  const mutated = fc.oneof(
    fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
      const b = Buffer.from(valid);
      b[at] ^= x;
      return b;
    }),
    fc.nat({ max: valid.length }).map((k) => valid.subarray(0, k)),
    fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ minLength: 1, maxLength: 11 })).map(([at, x]) => Buffer.concat([valid.subarray(0, at), x, valid.subarray(at)])),
  );
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), decodesOrRejects),
    { numRuns: 500 },
  );
});

test('remote write: length fields claiming 2^31 or 2^53 bytes, and out-of-range timestamps, are RemoteWriteError', () => {
  for (const len of [2 ** 31, 2 ** 53, 2 ** 63]) {
    // Field 1 (a TimeSeries), length-delimited, claiming `len` bytes; then a sample claiming as much.
    assert.throws(() => decodeWriteRequest(Buffer.from([0x0a, ...varint(len), 1, 2, 3])), RemoteWriteError);
    assert.throws(() => decodeWriteRequest(Buffer.from([0x0a, 3 + varint(len).length, 0x12, ...varint(len), 1, 2])), RemoteWriteError);
  }
  const tooLate = writeRequest([{ labels: { __name__: 'a' }, samples: [[MAX_MS + 1, 1]] }]);
  assert.throws(() => decodeWriteRequest(tooLate), RemoteWriteError);
  const negative = new Pb().bytes(1, new Pb().bytes(2, new Pb().double(1, 1).negativeInt64(2, -1n))).finish();
  assert.throws(() => decodeWriteRequest(negative), RemoteWriteError);
});

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
