import { test } from 'node:test';
import fc from 'fast-check';
import { BitReader, BitWriter } from './bitstream.js';
import { XorDecoder, XorEncoder } from './xor.js';
import { assertSameBits, decodesOrRejects, doubleColumn } from './properties.js';
import assert from 'node:assert/strict';

test('xor: any doubles round-trip bit for bit (NaN payloads, -0, subnormals, infinities)', () => {
  fc.assert(
    fc.property(doubleColumn(200), (values) => {
      const w = new BitWriter();
      const e = new XorEncoder(w);
      for (const v of values) e.put(v);
      e.finishInto(w);
      const r = new BitReader(w.bytes());
      const d = new XorDecoder(r);
      assertSameBits(Float64Array.from(values, () => d.next()), values);
      assert.equal(r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('xor: arbitrary bytes decode to values or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 600 }), (bytes, n) => {
      const d = new XorDecoder(new BitReader(bytes));
      decodesOrRejects(() => {
        for (let i = 0; i < n; i++) d.next();
      });
    }),
    { numRuns: 300 },
  );
});
