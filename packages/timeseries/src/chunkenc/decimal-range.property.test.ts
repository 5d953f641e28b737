import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findScale, MAX_SCALE, type DecimalOrder } from './decimal.js';
import { DecimalRangeDecoder, encodeDecimalRange } from './decimal-range.js';
import { assertSameBits, decodesOrRejects, doubleColumn } from './properties.js';

test('decimal range: whenever findScale accepts a column, both orders round-trip it bit for bit', () => {
  fc.assert(
    fc.property(doubleColumn(200), fc.constantFrom<DecimalOrder>(1, 2), fc.integer({ min: 0, max: 2 }), (values, order, coarser) => {
      const found = findScale(values);
      if (found < 0) return;
      // A scale above the smallest one codes the column exactly too (what a hint may hold).
      const s = Math.min(MAX_SCALE, found + coarser);
      const b = encodeDecimalRange(values, s, order);
      if (b === null) return;
      const copy = b.slice();
      const d = new DecimalRangeDecoder(copy, 0, s, order);
      assertSameBits(Float64Array.from(values, () => d.next()), values);
      assert.equal(d.r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('decimal range: arbitrary bytes decode to values or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: MAX_SCALE }), fc.constantFrom<DecimalOrder>(1, 2), fc.integer({ min: 1, max: 300 }), (bytes, s, order, n) => {
      decodesOrRejects(() => {
        const d = new DecimalRangeDecoder(bytes, 0, s, order);
        for (let i = 0; i < n; i++) d.next();
      });
    }),
    { numRuns: 300 },
  );
});
