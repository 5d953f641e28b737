import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitReader, BitWriter } from './bitstream.js';
import { DecimalDecoder, DecimalEncoder, findScale, MAX_SCALE, type DecimalOrder } from './decimal.js';
import { anyDouble, assertSameBits, decodesOrRejects, doubleColumn } from './properties.js';

test('decimal: whenever findScale accepts a column, both orders round-trip it bit for bit', () => {
  fc.assert(
    fc.property(doubleColumn(200), fc.constantFrom<DecimalOrder>(1, 2), (values, order) => {
      const s = findScale(values);
      if (s < 0) return;
      const w = new BitWriter();
      const e = new DecimalEncoder(w, s, order);
      for (const v of values) e.put(v);
      e.finishInto(w);
      const r = new BitReader(w.bytes());
      const d = new DecimalDecoder(r, s, order);
      assertSameBits(Float64Array.from(values, () => d.next()), values);
      assert.equal(r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('decimal: an encoder refuses a value not exact at its scale before writing anything', () => {
  fc.assert(
    fc.property(anyDouble, fc.integer({ min: 0, max: MAX_SCALE }), (v, s) => {
      const w = new BitWriter();
      const e = new DecimalEncoder(w, s, 1);
      try {
        e.put(v);
      } catch (err) {
        assert.ok(err instanceof RangeError);
        assert.equal(w.bitLength, 0);
        return;
      }
      e.finishInto(w);
      assertSameBits(Float64Array.of(new DecimalDecoder(new BitReader(w.bytes()), s, 1).next()), Float64Array.of(v));
    }),
    { numRuns: 300 },
  );
});

test('decimal: arbitrary bytes decode to values or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: MAX_SCALE }), fc.constantFrom<DecimalOrder>(1, 2), fc.integer({ min: 1, max: 300 }), (bytes, s, order, n) => {
      const d = new DecimalDecoder(new BitReader(bytes), s, order);
      decodesOrRejects(() => {
        for (let i = 0; i < n; i++) d.next();
      });
    }),
    { numRuns: 300 },
  );
});
