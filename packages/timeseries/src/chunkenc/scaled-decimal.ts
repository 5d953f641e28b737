// Values a few units in the last place away from a short decimal divided by a small
// integer: the sums and means of short decimals as double arithmetic computes them. A sum
// of sixty 3-decimal values is a 3-decimal number give or take a few ulps of rounding; their
// mean is that sum divided by 60, rounded once more. Neither is a short decimal (decimal.ts
// refuses them) and XOR or IEEE coding spends ~54 bits on each; here each costs the
// decimal's difference from the previous one plus the few ulps.
//
// For scale s and divisor c, a value v is coded as the integer i = round(v * c * 10^s) and
// r = bits(v) - bits(q) with q = (i / 10^s) / c (i / 10^s when c = 1), both doubles of the
// same sign, bits() their IEEE-754 patterns read as integers: decoding computes q again
// and adds r to its bits, so the round-trip is exact by construction. The encoder refuses
// a column (null) where a value is not finite, is -0, or has |i| >= 2^50 or |r| >= 2^40.
//
// Value header (after the chunk's key column): u8 s | varint c. Value column: varint byte
// length of the integer stream, then the integer stream: adaptive Rice (rice.ts) codes of
// zigzag(i - previous i), the first against 0 and kept out of the statistics; then, to the
// end, the residual stream: adaptive Rice codes of zigzag(r).
import { BitReader, BitWriter } from './bitstream.js';
import { MAX_INT, MAX_SCALE, POW10 } from './decimal.js';
import { RiceDecoder, RiceEncoder, RiceSizer } from './rice.js';
import { readVarint, unzigzag, varintSize, writeVarint, zigzag } from './varint.js';
import { CorruptDataError } from './errors.js';

/** Largest residual, in ulps, a coded value may have. */
const MAX_RESIDUAL = 2 ** 40;
export const MAX_DIVISOR = 2 ** 20;
const POW32 = 4294967296;

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
// Word order of a double in memory (little-endian on every platform Node supports, checked).
const LO = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/** The double q scaled-decimal coding starts from. */
function base(i: number, m: number, c: number): number {
  return c === 1 ? i / m : i / m / c;
}

/** bits(v) - bits(q), or NaN when they differ in sign or the difference is not small. */
function ulpDiff(v: number, q: number): number {
  F64[0] = v;
  const hv = U32[HI];
  const lv = U32[LO];
  F64[0] = q;
  const hq = U32[HI];
  if (hv >>> 31 !== hq >>> 31) return NaN;
  const r = (hv - hq) * POW32 + (lv - U32[LO]);
  return r < MAX_RESIDUAL && r > -MAX_RESIDUAL ? r : NaN;
}

/** The double whose bits are bits(q) + r. */
function addUlps(q: number, r: number): number {
  F64[0] = q;
  const rHi = Math.floor(r / POW32);
  const lo = U32[LO] + (r - rHi * POW32);
  const carry = lo >= POW32 ? 1 : 0;
  U32[LO] = lo - carry * POW32;
  U32[HI] = U32[HI] + rHi + carry;
  return F64[0];
}

/**
 * Integer and residual of `v` at scale multiplier `m` (10^s) and divisor `c`, into
 * out[0..1]; false when `v` cannot be coded so.
 */
function split(v: number, m: number, c: number, out: Float64Array): boolean {
  if (!Number.isFinite(v) || (v === 0 && 1 / v < 0)) return false;
  // -0 becomes 0: the decoder computes q from the integer it reads, which is never -0.
  const i = Math.round(v * c * m) || 0;
  if (!(i < MAX_INT && i > -MAX_INT)) return false;
  const q = base(i, m, c);
  out[0] = i;
  // The common case of an exact quotient needs no look at the bits (v is not -0 here).
  if (q === v) {
    out[1] = 0;
    return true;
  }
  const r = ulpDiff(v, q);
  if (r !== r) return false;
  out[1] = r;
  return true;
}

/** Divisors weighed: counts of points per bucket of common policies, and 1 for sums. */
const DIVISORS = [1, 60, 3600, 6, 10, 12, 30, 2, 3, 4, 5, 15, 20, 24, 120, 300, 360, 600, 720, 1440];
/** Values of a column's head the (scale, divisor) pair is chosen on. */
const PROBE = 8;

export interface ScaledDecimal {
  scale: number;
  divisor: number;
}

const pair = new Float64Array(2);

/**
 * The (scale, divisor) under which the head of `values` has the smallest residuals, or null
 * when none codes the whole column or it would cost over 44 bits per value. Weighs each
 * pair by the bit lengths of the first PROBE values' integer steps and residuals.
 */
export function findScaledDecimal(values: Float64Array): ScaledDecimal | null {
  const n = Math.min(values.length, PROBE);
  if (n === 0) return null;
  // A value split() refuses at every pair (not finite, -0) rules the column out at once.
  for (let j = 0; j < n; j++) {
    const v = values[j];
    if (!Number.isFinite(v) || (v === 0 && 1 / v < 0)) return null;
  }
  let best: ScaledDecimal | null = null;
  // Over 44 bits per value the column is noise to this codec (std columns are): XOR and
  // IEEE coding win. A pair is dropped as soon as its head costs more than that or than
  // the best so far: it runs on every commit, and weighing all 140 pairs in full was 9 %
  // of the processing of a policy with means and sums.
  let bestCost = 44 * n + 1;
  for (const c of DIVISORS) {
    // v * c is the first product split() forms; computed once for the seven scales.
    for (let j = 0; j < n; j++) probeScaled[j] = values[j] * c;
    for (let s = 0; s <= 6; s++) {
      const m = POW10[s];
      let cost = 0;
      let prev = 0;
      let j = 0;
      // split() inlined (same operations in the same order): the search is a first commit's
      // largest cost, and the call and its out-array were most of it.
      for (; j < n && cost < bestCost; j++) {
        const v = values[j];
        const i = Math.round(probeScaled[j] * m) || 0;
        if (!(i < MAX_INT && i > -MAX_INT)) break;
        const q = c === 1 ? i / m : i / m / c;
        if (q !== v) {
          const r = ulpDiff(v, q);
          if (r !== r) break;
          cost += bitLength(Math.abs(r));
        }
        if (j > 0) cost += bitLength(Math.abs(i - prev));
        prev = i;
      }
      if (j === n && cost < bestCost) {
        bestCost = cost;
        best = { scale: s, divisor: c };
      }
    }
  }
  if (best === null) return null;
  const m = POW10[best.scale];
  for (let j = 0; j < values.length; j++) if (!split(values[j], m, best.divisor, pair)) return null;
  return best;
}

const probeScaled = new Float64Array(PROBE);

function bitLength(v: number): number {
  return v < POW32 ? 32 - Math.clz32(v) : 64 - Math.clz32(Math.floor(v / POW32));
}

function check(s: number, c: number): void {
  if (!(s >= 0 && s <= MAX_SCALE && Number.isInteger(s))) throw new RangeError(`bad scale ${s}`);
  if (!(c >= 1 && c <= MAX_DIVISOR && Number.isInteger(c))) throw new RangeError(`bad divisor ${c}`);
}

const intScratch = new BitWriter(4096);
const resScratch = new BitWriter(4096);

/** The value header: u8 scale | varint divisor. */
export function scaledDecimalHeader(sd: ScaledDecimal): Uint8Array {
  const out = new Uint8Array(1 + varintSize(sd.divisor));
  out[0] = sd.scale;
  writeVarint(out, 1, sd.divisor);
  return out;
}

/** Parses the value header at `pos`; returns the parameters and where the column starts. */
export function readScaledDecimalHeader(b: Uint8Array, pos: number): ScaledDecimal & { start: number } {
  if (pos >= b.length) throw new CorruptDataError('corrupt chunk: missing scaled decimal header');
  const scale = b[pos];
  const c = { pos: pos + 1 };
  const divisor = readVarint(b, c);
  if (scale > MAX_SCALE || divisor < 1 || divisor > MAX_DIVISOR) throw new CorruptDataError('corrupt chunk: bad scaled decimal header');
  return { scale, divisor, start: c.pos };
}

/**
 * The value column of `values` (header excluded), or null when a value cannot be coded at
 * this scale and divisor. A new array.
 */
export function encodeScaledDecimal(values: Float64Array, sd: ScaledDecimal): Uint8Array | null {
  check(sd.scale, sd.divisor);
  const m = POW10[sd.scale];
  intScratch.reset();
  resScratch.reset();
  const ints = new RiceEncoder(intScratch);
  const res = new RiceEncoder(resScratch);
  let prev = 0;
  for (let j = 0; j < values.length; j++) {
    if (!split(values[j], m, sd.divisor, pair)) return null;
    ints.put(zigzag(pair[0] - prev), j > 0);
    res.put(zigzag(pair[1]));
    prev = pair[0];
  }
  ints.finishInto(intScratch);
  res.finishInto(resScratch);
  const a = intScratch.view();
  const b = resScratch.view();
  const out = new Uint8Array(varintSize(a.length) + a.length + b.length);
  const o = writeVarint(out, 0, a.length);
  out.set(a, o);
  out.set(b, o + a.length);
  return out;
}

/** Exact coded size in bytes (header included) of `values`, which must all be codable. */
export function scaledDecimalBytes(values: Float64Array, sd: ScaledDecimal): number {
  const m = POW10[sd.scale];
  const ints = new RiceSizer();
  const res = new RiceSizer();
  let prev = 0;
  for (let j = 0; j < values.length; j++) {
    if (!split(values[j], m, sd.divisor, pair)) return Infinity;
    ints.put(zigzag(pair[0] - prev), j > 0);
    res.put(zigzag(pair[1]));
    prev = pair[0];
  }
  const a = (ints.finishedBits() + 7) >>> 3;
  return scaledDecimalHeader(sd).length + varintSize(a) + a + ((res.finishedBits() + 7) >>> 3);
}

export class ScaledDecimalDecoder {
  private readonly ints: RiceDecoder;
  private readonly res: RiceDecoder;
  private readonly ir: BitReader;
  private readonly rr: BitReader;
  private readonly m: number;
  private prev = 0;
  private n = 0;

  constructor(
    b: Uint8Array,
    start: number,
    readonly sd: ScaledDecimal,
  ) {
    check(sd.scale, sd.divisor);
    const c = { pos: start };
    const length = readVarint(b, c);
    if (length < 0 || c.pos + length > b.length) throw new CorruptDataError('corrupt scaled decimal column');
    this.ir = new BitReader(b, c.pos, c.pos + length);
    this.rr = new BitReader(b, c.pos + length, b.length);
    this.ints = new RiceDecoder(this.ir);
    this.res = new RiceDecoder(this.rr);
    this.m = POW10[sd.scale];
  }

  /** True when either stream was read past its end. */
  get overrun(): boolean {
    return this.ir.overrun || this.rr.overrun;
  }

  next(): number {
    const zi = this.ints.get(this.n > 0);
    const zr = this.res.get();
    if (zi < 0 || zr < 0) throw new CorruptDataError('corrupt scaled decimal stream');
    this.prev += unzigzag(zi);
    this.n++;
    const r = unzigzag(zr);
    if (!(r < MAX_RESIDUAL && r > -MAX_RESIDUAL) || !(this.prev < MAX_INT && this.prev > -MAX_INT)) throw new CorruptDataError('corrupt scaled decimal stream');
    const q = base(this.prev, this.m, this.sd.divisor);
    return r === 0 ? q : addUlps(q, r);
  }
}
