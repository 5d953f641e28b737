import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitReader, BitWriter } from './bitstream.js';
import { IeeeDecoder, IeeeEncoder } from './ieee.js';
import { assertSameBits, decodesOrRejects, doubleColumn } from './properties.js';

test('ieee: any doubles round-trip bit for bit (NaN payloads, -0, subnormals, infinities)', () => {
  fc.assert(
    fc.property(doubleColumn(200), (values) => {
      const w = new BitWriter();
      const e = new IeeeEncoder(w);
      for (const v of values) e.put(v);
      e.finishInto(w);
      const r = new BitReader(w.bytes());
      const d = new IeeeDecoder(r);
      assertSameBits(Float64Array.from(values, () => d.next()), values);
      assert.equal(r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('ieee: arbitrary bytes decode to values or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 300 }), (bytes, n) => {
      decodesOrRejects(() => {
        const d = new IeeeDecoder(new BitReader(bytes));
        for (let i = 0; i < n; i++) d.next();
      });
    }),
    { numRuns: 300 },
  );
});
