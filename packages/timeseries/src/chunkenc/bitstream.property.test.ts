import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BitReader, BitWriter } from './bitstream.js';

type Field = { kind: 'bits'; n: number; v: number } | { kind: 'wide'; n: number; v: number } | { kind: 'ones'; n: number };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 32 }).chain((n) => fc.integer({ min: 0, max: 2 ** n - 1 }).map((v): Field => ({ kind: 'bits', n, v }))),
  fc.integer({ min: 0, max: 53 }).chain((n) => fc.integer({ min: 0, max: 2 ** n - 1 }).map((v): Field => ({ kind: 'wide', n, v }))),
  fc.integer({ min: 0, max: 31 }).map((n): Field => ({ kind: 'ones', n })),
);

test('any sequence of fields reads back as written, across word boundaries, from any byte offset', () => {
  fc.assert(
    fc.property(fc.array(field, { maxLength: 80 }), fc.integer({ min: 0, max: 7 }), (fields, pad) => {
      const w = new BitWriter(1);
      let bits = 0;
      for (const f of fields) {
        if (f.kind === 'bits') w.writeBits(f.v, f.n);
        else if (f.kind === 'wide') w.writeWide(f.v, f.n);
        else for (let i = 0; i < f.n || (i === f.n && f.n < 31); i++) w.writeBit(i < f.n ? 1 : 0);
        // readOnes(31) stops after 31 ones without a terminating zero.
        bits += f.kind === 'ones' ? Math.min(f.n + 1, 31) : f.n;
      }
      assert.equal(w.bitLength, bits);
      const b = w.bytes();
      assert.equal(b.length, Math.ceil(bits / 8));
      const shifted = new Uint8Array(pad + b.length);
      shifted.set(b, pad);
      const r = new BitReader(shifted, pad);
      for (const f of fields) {
        if (f.kind === 'bits') assert.equal(r.readBits(f.n), f.v);
        else if (f.kind === 'wide') assert.equal(r.readWide(f.n), f.v);
        else assert.equal(r.readOnes(31), f.n);
      }
      assert.equal(r.overrun, false);
    }),
    { numRuns: 300 },
  );
});

test('reading past the end yields zero bits and reports the overrun', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 16 }), fc.array(fc.integer({ min: 0, max: 32 }), { maxLength: 12 }), (bytes, widths) => {
      const r = new BitReader(bytes);
      let consumed = 0;
      for (const n of widths) {
        const v = r.readBits(n);
        assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** n || n === 0);
        if (consumed >= bytes.length * 8) assert.equal(v, 0);
        consumed += n;
      }
      assert.equal(r.overrun, consumed > bytes.length * 8);
    }),
    { numRuns: 300 },
  );
});
