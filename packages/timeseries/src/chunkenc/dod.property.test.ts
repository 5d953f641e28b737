import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitReader, BitWriter } from './bitstream.js';
import { PositionDecoder, PositionEncoder, TimestampDecoder, TimestampEncoder } from './dod.js';
import { decodesOrRejects, timestampColumn } from './properties.js';

test('dod: any int64 timestamps, in any order, round-trip (whole and in pieces)', () => {
  fc.assert(
    fc.property(timestampColumn(200), fc.nat(), (ts, cut) => {
      const e = new TimestampEncoder(new BitWriter(1));
      e.putAll(ts);
      const b = e.bytes();
      const r = new BitReader(b);
      const whole = new BigInt64Array(ts.length);
      new TimestampDecoder(r).readInto(whole, 0, ts.length);
      assert.deepEqual(whole, ts);
      assert.equal(r.overrun, false);
      // Decoding resumes where it stopped: two calls give what one does.
      const at = ts.length === 0 ? 0 : cut % (ts.length + 1);
      const pieces = new BigInt64Array(ts.length);
      const d = new TimestampDecoder(new BitReader(b));
      d.readInto(pieces, 0, at);
      d.readInto(pieces, at, ts.length);
      assert.deepEqual(pieces, ts);
    }),
    { numRuns: 300 },
  );
});

test('dod: any uint32 positions, in any order, round-trip', () => {
  const positions = fc.oneof(
    fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 200 }),
    fc.tuple(fc.nat({ max: 0xffffffff }), fc.array(fc.nat({ max: 3 }), { maxLength: 200 })).map(([p0, gaps]) => {
      let p = p0;
      return gaps.map((g) => (p = Math.min(0xffffffff, p + g)));
    }),
  );
  fc.assert(
    fc.property(positions, (ps) => {
      const e = new PositionEncoder(new BitWriter(1));
      for (const p of ps) e.put(p);
      const r = new BitReader(e.bytes());
      const d = new PositionDecoder(r);
      assert.deepEqual(ps.map(() => d.next()), ps);
      assert.equal(r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('dod: arbitrary bytes decode to keys or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 300 }), (bytes, n) => {
      decodesOrRejects(() => new TimestampDecoder(new BitReader(bytes)).readInto(new BigInt64Array(n), 0, n));
      const d = new PositionDecoder(new BitReader(bytes));
      decodesOrRejects(() => {
        for (let i = 0; i < n; i++) d.next();
      });
    }),
    { numRuns: 300 },
  );
});
