import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VARINT_TOO_LARGE, VARINT_TOO_LONG, VARINT_TRUNCATED, readVarint, unzigzag, varintSize, writeVarint, zigzag } from './varint.js';

/** LEB128 with BigInt shifts: the definition, independent of the number arithmetic under test. */
function referenceEncode(v: bigint): number[] {
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return out;
}

/** The value of the varint at the start of `b` and its length, or null when `b` ends inside it. */
function referenceDecode(b: Uint8Array): { v: bigint; length: number } | null {
  let v = 0n;
  for (let i = 0; i < b.length; i++) {
    v |= BigInt(b[i] & 0x7f) << BigInt(7 * i);
    if (b[i] < 0x80) return { v, length: i + 1 };
  }
  return null;
}

const safe = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.maxSafeInteger().map(Math.abs), fc.integer({ min: 0, max: 52 }).map((e) => 2 ** e));

test('writeVarint writes the LEB128 bytes of every value below 2^53, and readVarint reads them back', () => {
  fc.assert(
    fc.property(safe, fc.integer({ min: 0, max: 5 }), (v, off) => {
      const expected = referenceEncode(BigInt(v));
      assert.equal(varintSize(v), expected.length);
      const out = new Uint8Array(off + expected.length + 3).fill(0xaa);
      assert.equal(writeVarint(out, off, v), off + expected.length);
      assert.deepEqual([...out.subarray(off, off + expected.length)], expected);
      const c = { pos: off };
      assert.equal(readVarint(out, c), v);
      assert.equal(c.pos, off + expected.length);
    }),
    { numRuns: 500 },
  );
});

test('readVarint on any 64-bit value: exact below 2^53, VARINT_TOO_LARGE from there', () => {
  fc.assert(
    fc.property(fc.bigInt(0n, 2n ** 64n - 1n), (v) => {
      const b = Uint8Array.from(referenceEncode(v));
      const c = { pos: 0 };
      const got = readVarint(b, c);
      assert.equal(c.pos, b.length);
      assert.equal(got, v < 2n ** 53n ? Number(v) : VARINT_TOO_LARGE);
    }),
    { numRuns: 500 },
  );
});

test('readVarint on arbitrary bytes agrees with the definition or says why not', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 14 }), fc.integer({ min: 1, max: 10 }), (b, maxBytes) => {
      const c = { pos: 0 };
      const got = readVarint(b, c, b.length, maxBytes);
      const ref = referenceDecode(b);
      if (ref !== null && ref.length <= maxBytes) {
        assert.equal(c.pos, ref.length);
        assert.equal(got, ref.v < 2n ** 53n ? Number(ref.v) : VARINT_TOO_LARGE);
      } else if (ref === null && b.length < maxBytes) {
        assert.equal(got, VARINT_TRUNCATED);
      } else {
        assert.equal(got, VARINT_TOO_LONG);
      }
    }),
    { numRuns: 1000 },
  );
});

test('zigzag: a bijection between |v| < 2^52 and [0, 2^53)', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 52 - 1), max: 2 ** 52 - 1 }), (v) => {
      const z = zigzag(v);
      assert.ok(Number.isSafeInteger(z) && z >= 0);
      assert.equal(z, v >= 0 ? 2 * v : -2 * v - 1);
      assert.equal(unzigzag(z), v);
    }),
    { numRuns: 300 },
  );
});
