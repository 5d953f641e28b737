// The split encoder weighs codecs by sizes counted without coding and codes columns in bulk;
// a count that drifts from what the coder writes would silently pick another winner (a
// larger blob), and a bulk path that drifts from put() would change the format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitWriter } from './bitstream.js';
import { decimalColumnBits, DecimalEncoder, findScale, type DecimalOrder } from './decimal.js';
import { IeeeEncoder, ieeeLayout, writeIeeeColumn } from './ieee.js';
import { xorColumnBits, XorEncoder } from './xor.js';
import { doubleColumn } from './properties.js';

test('xor: counted size equals coded size; putAll codes as put does', () => {
  fc.assert(
    fc.property(doubleColumn(300), (values) => {
      const w = new BitWriter();
      const e = new XorEncoder(w);
      for (const v of values) e.put(v);
      assert.equal(xorColumnBits(values), w.bitLength);
      const bulk = new BitWriter();
      new XorEncoder(bulk).putAll(values);
      assert.deepEqual(bulk.bytes(), w.bytes());
    }),
    { numRuns: 300 },
  );
});

test('ieee: counted size equals coded size; the column writer codes as the encoder does', () => {
  fc.assert(
    fc.property(doubleColumn(300), (values) => {
      const w = new BitWriter();
      const e = new IeeeEncoder(w);
      for (const v of values) e.put(v);
      e.finishInto(w);
      assert.equal(ieeeLayout(values).bits, w.bitLength);
      const bulk = new BitWriter();
      writeIeeeColumn(bulk, values);
      assert.deepEqual(bulk.bytes(), w.bytes());
    }),
    { numRuns: 300 },
  );
});

test('decimal: counted sizes equal coded sizes for both orders; putAll codes as put does', () => {
  fc.assert(
    fc.property(doubleColumn(300), (values) => {
      const s = findScale(values);
      if (s < 0) return;
      const counted = decimalColumnBits(values, s);
      for (const order of [1, 2] as DecimalOrder[]) {
        const w = new BitWriter();
        const e = new DecimalEncoder(w, s, order);
        for (const v of values) e.put(v);
        e.finishInto(w);
        assert.equal(counted[order - 1], w.bitLength);
        const bulk = new BitWriter();
        const b = new DecimalEncoder(bulk, s, order);
        b.putAll(values);
        b.finishInto(bulk);
        assert.deepEqual(bulk.bytes(), w.bytes());
      }
    }),
    { numRuns: 300 },
  );
});

test('decimal: putAll rejects a value that is not exact at the scale', () => {
  assert.throws(() => new DecimalEncoder(new BitWriter(), 1, 1).putAll(Float64Array.of(1.5, 0.25)), RangeError);
});
