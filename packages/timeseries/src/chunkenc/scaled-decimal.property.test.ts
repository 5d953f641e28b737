import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeScaledDecimal, findScaledDecimal, ScaledDecimalDecoder } from './scaled-decimal.js';
import { assertSameBits, decodesOrRejects, doubleColumn } from './properties.js';

/** Columns that are sums or quotients of short decimals, and anything else. */
const column = fc.oneof(
  doubleColumn(200),
  fc.tuple(fc.array(fc.integer({ min: -1e9, max: 1e9 }), { maxLength: 200 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 7 }))
    .map(([ints, s, c, terms]) => Float64Array.from(ints, (i) => {
      let sum = 0;
      for (let t = 0; t < terms; t++) sum += (i + t) / 10 ** s;
      return sum / c;
    })),
);

test('scaled decimal: whenever findScaledDecimal accepts a column, it round-trips bit for bit', () => {
  fc.assert(
    fc.property(column, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 4000 }), (values, s, c) => {
      for (const sd of [findScaledDecimal(values), { scale: s, divisor: c }]) {
        if (sd === null) continue;
        const b = encodeScaledDecimal(values, sd);
        if (b === null) continue;
        const d = new ScaledDecimalDecoder(b.slice(), 0, sd);
        assertSameBits(Float64Array.from(values, () => d.next()), values);
        assert.equal(d.overrun, false);
      }
    }),
    { numRuns: 300 },
  );
});

test('scaled decimal: arbitrary bytes decode to values or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 2 ** 20 }), fc.integer({ min: 1, max: 300 }), (bytes, scale, divisor, n) => {
      decodesOrRejects(() => {
        const d = new ScaledDecimalDecoder(bytes, 0, { scale, divisor });
        for (let i = 0; i < n; i++) d.next();
      });
    }),
    { numRuns: 300 },
  );
});
