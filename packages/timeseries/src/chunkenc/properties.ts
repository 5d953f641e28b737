// Test support for the property tests of the codecs (not part of the package's API):
// generators for every double bit pattern and every int64, hostile variants of valid
// encodings, and the check that a decoder given them fails only with CorruptDataError.
import assert from 'node:assert/strict';
import fc, { type Arbitrary } from 'fast-check';
import { CorruptDataError } from './errors.js';

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);

/** The IEEE-754 bits of a double (NaN payloads included). */
export function bitsOf(v: number): bigint {
  F64[0] = v;
  return U64[0];
}

function fromBits(b: bigint): number {
  U64[0] = b;
  return F64[0];
}

const EXP_ALL = 0x7ffn << 52n;

/**
 * Any double, weighted towards the cases codecs get wrong: every bit pattern (NaN payloads
 * of both signs, subnormals), signed zeros and infinities, short decimals, and repeats.
 */
export const anyDouble: Arbitrary<number> = fc.oneof(
  fc.bigInt(0n, 2n ** 64n - 1n).map(fromBits),
  fc.bigInt(0n, 2n ** 52n - 1n).chain((m) => fc.constantFrom(fromBits(m), fromBits(m | (1n << 63n)), fromBits(m | EXP_ALL), fromBits(m | EXP_ALL | (1n << 63n)))),
  fc.double(),
  fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 2.2250738585072014e-308, 1, 0.1),
  fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 9 })).map(([i, s]) => i / 10 ** s),
);

/** A column of doubles: independent draws, or runs of one value (what run-length modes see). */
export const doubleColumn = (maxLength: number): Arbitrary<Float64Array> =>
  fc.oneof(
    fc.array(anyDouble, { maxLength }),
    fc.tuple(anyDouble, fc.integer({ min: 0, max: maxLength })).map(([v, n]) => new Array<number>(n).fill(v)),
    fc.tuple(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 6 }), fc.array(fc.integer({ min: -50, max: 50 }), { maxLength }))
      .map(([start, s, steps]) => steps.map((_, i) => (start + steps.slice(0, i + 1).reduce((a, b) => a + b, 0)) / 10 ** s)),
  ).map((a) => Float64Array.from(a));

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** Any int64, weighted towards the extremes and small spans around any point. */
export const anyInt64: Arbitrary<bigint> = fc.oneof(
  fc.bigInt(INT64_MIN, INT64_MAX),
  fc.constantFrom(INT64_MIN, INT64_MAX, 0n, -1n, 1n, 2n ** 31n, -(2n ** 31n), 2n ** 32n, 2n ** 50n, -(2n ** 50n), 2n ** 53n),
  fc.bigInt(-(2n ** 40n), 2n ** 40n),
);

/** Timestamps in any order, and in the shapes the delta codecs special-case. */
export const timestampColumn = (maxLength: number): Arbitrary<BigInt64Array> =>
  fc.oneof(
    fc.array(anyInt64, { maxLength }),
    // Regular series with jitter, anywhere in the int64 range (clamped at its ends).
    fc.tuple(anyInt64, fc.bigInt(-(2n ** 52n), 2n ** 52n), fc.array(fc.bigInt(-1000n, 1000n), { maxLength })).map(([t0, step, jitter]) =>
      jitter.map((j, i) => {
        const t = t0 + BigInt(i) * step + j;
        return t < INT64_MIN ? INT64_MIN : t > INT64_MAX ? INT64_MAX : t;
      }),
    ),
  ).map((a) => BigInt64Array.from(a));

/** Bit-exact equality of two double columns. */
export function assertSameBits(actual: Float64Array, expected: Float64Array): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (bitsOf(actual[i]) !== bitsOf(expected[i])) {
      assert.fail(`value ${i}: got bits ${bitsOf(actual[i]).toString(16)}, expected ${bitsOf(expected[i]).toString(16)} (${expected[i]})`);
    }
  }
}

/**
 * Hostile variants of a valid encoding: bits flipped, truncated, extended with junk, a
 * byte overwritten, or a run of bytes set to 0xff (huge varints and lengths).
 */
export function mutated(valid: Uint8Array): Arbitrary<Uint8Array> {
  const n = valid.length;
  const copy = (): Uint8Array => Uint8Array.from(valid);
  const at = fc.nat({ max: Math.max(0, n - 1) });
  return fc.oneof(
    fc.array(fc.tuple(at, fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }).map((flips) => {
      const b = copy();
      for (const [i, bit] of flips) if (i < n) b[i] ^= 1 << bit;
      return b;
    }),
    fc.nat({ max: n }).map((k) => valid.slice(0, k)),
    fc.uint8Array({ minLength: 1, maxLength: 32 }).map((tail) => Uint8Array.from([...valid, ...tail])),
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
      const b = copy();
      if (i < n) b[i] = v;
      return b;
    }),
    fc.tuple(at, fc.integer({ min: 1, max: 9 })).map(([i, k]) => {
      const b = copy();
      for (let j = i; j < Math.min(n, i + k); j++) b[j] = 0xff;
      return b;
    }),
  );
}

/**
 * Runs a decoder on hostile input: it may return (garbage in, garbage out, but no crash)
 * or throw `errorClass`; anything else (a TypeError or RangeError from deep inside) fails.
 */
export function decodesOrRejects<T>(decode: () => T, errorClass: abstract new (...args: never[]) => Error = CorruptDataError): T | null {
  try {
    return decode();
  } catch (err) {
    if (err instanceof errorClass) return null;
    throw err;
  }
}
