import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitReader, BitWriter } from './bitstream.js';
import { RiceDecoder, RiceEncoder } from './rice.js';
import { decodesOrRejects } from './properties.js';

/** A residual to code: a value < 2^53 (small ones and runs of zeros weighted in), or the marker. */
type Item = { z: number; learn: boolean } | 'special';

const item: fc.Arbitrary<Item> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ z: fc.constant(0), learn: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ z: fc.integer({ min: 0, max: 64 }), learn: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ z: fc.maxSafeNat(), learn: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant('special' as const) },
);

test('rice: any residuals (< 2^53), learn flags and markers round-trip', () => {
  fc.assert(
    fc.property(fc.array(item, { maxLength: 300 }), (items) => {
      const w = new BitWriter();
      const e = new RiceEncoder(w);
      for (const it of items) {
        if (it === 'special') e.putSpecial();
        else e.put(it.z, it.learn);
      }
      e.finishInto(w);
      const r = new BitReader(w.bytes());
      const d = new RiceDecoder(r);
      for (const it of items) assert.equal(d.get(it === 'special' ? true : it.learn), it === 'special' ? -1 : it.z);
      assert.equal(r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('rice: arbitrary bytes decode to residuals (< 2^53) or CorruptDataError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 300 }), (bytes, n) => {
      const d = new RiceDecoder(new BitReader(bytes));
      decodesOrRejects(() => {
        for (let i = 0; i < n; i++) {
          const z = d.get();
          assert.ok(z === -1 || (Number.isSafeInteger(z) && z >= 0), `residual ${z}`);
        }
      });
    }),
    { numRuns: 300 },
  );
});
