// Exact arithmetic on int64 nanosecond timestamps without a BigInt per point. Every BigInt
// operation allocates, and the processing threads did several per point (bucket starts,
// split positions and back), which showed in their profiles as arithmetic and garbage
// collection. A timestamp is read as its two 32-bit words instead: its distance from a
// base is then an ordinary double, exact while it stays below 2^53 ns (104 days); callers
// check that bound once per series (`fitsDoubles`) and keep the BigInt path otherwise.

const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Offsets of the low (unsigned) and high (signed) word of element i, in words. */
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const SAFE = 2n ** 53n;

/** Word views of a BigInt64Array: element i is hi[2i + HI] * 2^32 + lo[2i + LO]. */
export interface Words {
  lo: Uint32Array;
  hi: Int32Array;
}

export function wordsOf(ts: BigInt64Array): Words {
  return {
    lo: new Uint32Array(ts.buffer, ts.byteOffset, ts.length * 2),
    hi: new Int32Array(ts.buffer, ts.byteOffset, ts.length * 2),
  };
}

/** A base timestamp split in words, for offsetAt/setAt. */
export interface Base {
  hi: number;
  lo: number;
}

export function baseOf(t: bigint): Base {
  return { hi: Number(BigInt.asIntN(32, t >> 32n)), lo: Number(t & 0xffffffffn) };
}

/**
 * True when every distance handled from `base` stays exact as a double: `span` (the largest
 * distance from base to a timestamp, >= 0) plus one `step` (a granularity, > 0) is below 2^53.
 */
export function fitsDoubles(span: bigint, step: bigint): boolean {
  return span >= 0n && step > 0n && span + step < SAFE;
}

/** ts[i] - base as a double; exact when |ts[i] - base| < 2^53. */
export function offsetAt(w: Words, i: number, base: Base): number {
  return (w.hi[2 * i + HI] - base.hi) * TWO32 + (w.lo[2 * i + LO] - base.lo);
}

/** ts[i] = base + off, for an integer 0 <= off < 2^53 whose sum fits in int64. */
export function setAt(w: Words, i: number, base: Base, off: number): void {
  const offHi = Math.floor(off / TWO32);
  let lo = base.lo + (off - offHi * TWO32);
  let hi = base.hi + offHi;
  if (lo >= TWO32) {
    lo -= TWO32;
    hi++;
  }
  w.lo[2 * i + LO] = lo;
  w.hi[2 * i + HI] = hi;
}

/** floor(d / g) for integers 0 <= d, 0 < g with d + g < 2^53 (corrects the division's rounding). */
export function floorDiv(d: number, g: number): number {
  let k = Math.floor(d / g);
  const r = d - k * g;
  if (r < 0) k--;
  else if (r >= g) k++;
  return k;
}

/** dst[j] = src[i], word by word (a BigInt64Array element read makes a BigInt). */
export function copyAt(dst: Words, j: number, src: Words, i: number): void {
  dst.lo[2 * j] = src.lo[2 * i];
  dst.lo[2 * j + 1] = src.lo[2 * i + 1];
}
