// Decimal values through the range coder: the integers of decimal.ts (round(v * 10^s) for
// a column exact at scale s), their first or second differences coded by adaptive binary
// models (range.ts) instead of the adaptive Rice code. On a Gaussian random walk with
// 3 decimals (walk3, ~11.0 bits of entropy per point) Rice spends ~11.15 bits per point
// and this coder ~11.0x; it is weighed against the others per split and kept only where
// smaller (Rice's run mode stays better on constant and near-constant columns).
//
// Value column (after the chunk's one-byte value header, scale | (order - 1) << 4, as for
// the Rice decimal encodings): one range-coded stream to the end of the blob. Per value,
// d = the difference (order 1) or the difference of differences (order 2) of the integers,
// the first value (and for order 2 the first difference) taken against 0:
//   start-up values (the first `order`): raw bits: sign (1), L = bit length of |d| (6),
//     then the L - 1 bits of |d| below its leading one;
//   others, with adaptive models:
//     L (0..53) as 6 bits, most significant first, each in the context of the bits before
//       it (a binary tree of 63 contexts);
//     when L > 0: the sign (1 = negative) in its own context;
//       the top min(L - 1, MANTISSA_BITS) bits of |d| below its leading one, a binary tree
//       of contexts per L; the remaining low bits raw.
// Models are range.ts's counting models halved at LIMIT. The decoder reads past the end of
// the blob as zeros (up to 4 bytes).
import { MAX_INT, POW10, MAX_SCALE, type DecimalOrder } from './decimal.js';
import { Models, RAW_MAX, RangeDecoder, RangeEncoder, RangeSizer } from './range.js';
import { CorruptDataError } from './errors.js';

/** High bits of a magnitude below its leading one coded with models; the others raw. */
const MANTISSA_BITS = 2;
/**
 * Count total (in halves) at which a model's counts are halved: it then follows the last
 * ~500 bits of its context. Measured on 3600-value walk3 columns: 256 gives 11.10 bits per
 * value, 1024 11.07, 4096 11.07; an exponential moving average (shift 5 to 7) 11.13 to 11.15.
 */
const LIMIT = 1024;

/** Contexts 1..63: the length tree; then the sign; then the mantissa trees, one per length. */
const LENGTH_CONTEXTS = 64;
const SIGN_CONTEXT = LENGTH_CONTEXTS;
const MANTISSA_BASE = SIGN_CONTEXT + 1;
const MANTISSA_STRIDE = 1 << MANTISSA_BITS;
const CONTEXTS = MANTISSA_BASE + 54 * MANTISSA_STRIDE;
const POW32 = 4294967296;

const POW2 = new Float64Array(64);
for (let i = 0; i < 64; i++) POW2[i] = 2 ** i;

function bitLength(v: number): number {
  return v < POW32 ? 32 - Math.clz32(v) : 64 - Math.clz32(Math.floor(v / POW32));
}

interface Sink {
  putBit(m: Models, i: number, bit: number): void;
  putRaw(v: number, k: number): void;
  putRawWide(v: number, k: number): void;
}

function putStartup(out: Sink, d: number): void {
  const a = Math.abs(d);
  const len = bitLength(a);
  out.putRaw(d < 0 ? 1 : 0, 1);
  out.putRaw(len, 6);
  if (len > 1) out.putRawWide(a - POW2[len - 1], len - 1);
}

function putModelled(out: Sink, m: Models, d: number): void {
  const a = d < 0 ? -d : d;
  const len = bitLength(a);
  let node = 1;
  for (let b = 5; b >= 0; b--) {
    const bit = (len >>> b) & 1;
    out.putBit(m, node, bit);
    node = 2 * node + bit;
  }
  if (len === 0) return;
  out.putBit(m, SIGN_CONTEXT, d < 0 ? 1 : 0);
  const nb = len - 1;
  if (nb === 0) return;
  const rest = a - POW2[nb];
  const t = nb < MANTISSA_BITS ? nb : MANTISSA_BITS;
  const lowBits = nb - t;
  const unit = POW2[lowBits];
  const hi = Math.floor(rest / unit);
  const base = MANTISSA_BASE + len * MANTISSA_STRIDE;
  node = 1;
  for (let b = t - 1; b >= 0; b--) {
    const bit = (hi >>> b) & 1;
    out.putBit(m, base + node, bit);
    node = 2 * node + bit;
  }
  if (lowBits > 0) out.putRawWide(rest - hi * unit, lowBits);
}

/** The residual stream's state shared by encoder and sizer: previous integer and delta. */
class Residuals {
  private prev = 0;
  private prevDelta = 0;
  private n = 0;
  readonly models = new Models(CONTEXTS, LIMIT);

  constructor(
    private readonly out: Sink,
    private readonly order: DecimalOrder,
  ) {}

  put(i: number): void {
    const d = i - this.prev;
    this.prev = i;
    const r = this.order === 1 ? d : d - this.prevDelta;
    if (this.order === 2) this.prevDelta = this.n === 0 ? 0 : d;
    if (this.n < this.order) putStartup(this.out, r);
    else putModelled(this.out, this.models, r);
    this.n++;
  }
}

function checkScale(scale: number): void {
  if (!(scale >= 0 && scale <= MAX_SCALE && Number.isInteger(scale))) throw new RangeError(`bad decimal scale ${scale}`);
}

const scratch = new RangeEncoder(4096);

/**
 * The value column of `values` at `scale` and `order`, or null when a value is not exact at
 * `scale` (see DecimalEncoder.tryPutAll). The bytes are a view valid until the next call.
 */
export function encodeDecimalRange(values: Float64Array, scale: number, order: DecimalOrder): Uint8Array | null {
  checkScale(scale);
  const m = POW10[scale];
  scratch.reset();
  const r = new Residuals(scratch, order);
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    const i = Math.round(v * m);
    if (!(i / m === v && i < MAX_INT && i > -MAX_INT && !(v === 0 && 1 / v < 0))) return null;
    r.put(i);
  }
  return scratch.finish();
}

/**
 * Estimated bytes of the value column of both orders (within a few bytes of the coded
 * size), without coding; every value must be exact at `scale`, as findScale() guarantees.
 */
export function decimalRangeBytes(values: Float64Array, scale: number): [number, number] {
  const m = POW10[scale];
  const s1 = new RangeSizer();
  const s2 = new RangeSizer();
  const r1 = new Residuals(s1, 1);
  const r2 = new Residuals(s2, 2);
  for (let j = 0; j < values.length; j++) {
    const i = Math.round(values[j] * m);
    r1.put(i);
    r2.put(i);
  }
  return [s1.bytes(), s2.bytes()];
}


export class DecimalRangeDecoder {
  readonly r: RangeDecoder;
  private readonly models = new Models(CONTEXTS, LIMIT);
  private readonly m: number;
  private prev = 0;
  private prevDelta = 0;
  private n = 0;

  constructor(
    b: Uint8Array,
    start: number,
    readonly scale: number,
    readonly order: DecimalOrder,
  ) {
    if (!(scale >= 0 && scale <= MAX_SCALE)) throw new RangeError(`bad decimal scale ${scale}`);
    this.r = new RangeDecoder(b, start, b.length);
    this.m = POW10[scale];
  }

  private residual(): number {
    const r = this.r;
    if (this.n < this.order) {
      const neg = r.getRaw(1);
      const len = r.getRaw(6);
      if (len > 53) throw new CorruptDataError('corrupt decimal range stream: bad length');
      if (len === 0) return 0;
      const a = POW2[len - 1] + (len > 1 ? r.getRawWide(len - 1) : 0);
      return neg === 1 ? -a : a;
    }
    const m = this.models;
    let node = 1;
    for (let b = 0; b < 6; b++) node = 2 * node + r.getBit(m, node);
    const len = node - 64;
    if (len === 0) return 0;
    if (len > 53) throw new CorruptDataError('corrupt decimal range stream: bad length');
    const neg = r.getBit(m, SIGN_CONTEXT);
    const nb = len - 1;
    let a = 1;
    if (nb > 0) {
      const t = nb < MANTISSA_BITS ? nb : MANTISSA_BITS;
      const base = MANTISSA_BASE + len * MANTISSA_STRIDE;
      node = 1;
      for (let b = 0; b < t; b++) node = 2 * node + r.getBit(m, base + node);
      const lowBits = nb - t;
      a = node * POW2[lowBits] + (lowBits > 0 ? r.getRawWide(lowBits) : 0);
    }
    return neg === 1 ? -a : a;
  }

  /**
   * Decodes values into out[from..to): residual() and the range decoder's bit step, with
   * the coder's state in locals. Start-up values go through residual().
   */
  readInto(out: Float64Array, from: number, to: number): void {
    let i = from;
    while (i < to && this.n < this.order) out[i++] = this.next();
    if (i >= to) return;
    const rd = this.r;
    const buf = rd.buf;
    const end = rd.end;
    let pos = rd.pos;
    let range = rd.range;
    let code = rd.code;
    let padded = rd.padded;
    const md = this.models;
    const P = md.p;
    const C0 = md.c0;
    const C1 = md.c1;
    const R = md.recip;
    const limit = md.limit;
    const order2 = this.order === 2;
    let prev = this.prev;
    let prevDelta = this.prevDelta;
    const m = this.m;
    // One modelled bit in context `ctx`: the bit, with range, code and the model updated.
    const bitAt = (ctx: number): number => {
      const bound = (range >>> 12) * P[ctx];
      let c0 = C0[ctx];
      let c1 = C1[ctx];
      let bit = 0;
      if (code < bound) {
        range = bound;
        c0 += 2;
      } else {
        code -= bound;
        range -= bound;
        c1 += 2;
        bit = 1;
      }
      if (c0 + c1 > limit) {
        c0 = (c0 + 1) >>> 1;
        c1 = (c1 + 1) >>> 1;
      }
      C0[ctx] = c0;
      C1[ctx] = c1;
      P[ctx] = (c0 * R[c0 + c1]) >>> 0;
      while (range < 16777216) {
        range *= 256;
        let byte = 0;
        if (pos < end) byte = buf[pos++];
        else padded++;
        code = code * 256 + byte;
      }
      return bit;
    };
    const loopFrom = i;
    for (; i < to; i++) {
      let node = 1;
      for (let b = 0; b < 6; b++) node = 2 * node + bitAt(node);
      const len = node - 64;
      let z = 0;
      if (len > 0) {
        if (len > 53) throw new CorruptDataError('corrupt decimal range stream: bad length');
        const neg = bitAt(SIGN_CONTEXT);
        const nb = len - 1;
        let a = 1;
        if (nb > 0) {
          const t = nb < MANTISSA_BITS ? nb : MANTISSA_BITS;
          const base = MANTISSA_BASE + len * MANTISSA_STRIDE;
          node = 1;
          for (let b = 0; b < t; b++) node = 2 * node + bitAt(base + node);
          let lowBits = nb - t;
          a = node;
          // Raw bits, RAW_MAX at a time, as RangeDecoder.getRaw.
          while (lowBits > 0) {
            const k = lowBits > RAW_MAX ? RAW_MAX : lowBits;
            lowBits -= k;
            const r = Math.floor(range / (1 << k));
            let v = Math.floor(code / r);
            if (v >= 1 << k) v = (1 << k) - 1;
            code -= v * r;
            range = r;
            while (range < 16777216) {
              range *= 256;
              let byte = 0;
              if (pos < end) byte = buf[pos++];
              else padded++;
              code = code * 256 + byte;
            }
            a = a * (1 << k) + v;
          }
        }
        z = neg === 1 ? -a : a;
      }
      if (order2) {
        prevDelta += z;
        prev += prevDelta;
      } else {
        prev += z;
      }
      out[i] = prev / m;
    }
    this.n += to - loopFrom;
    rd.pos = pos;
    rd.range = range;
    rd.code = code;
    rd.padded = padded;
    this.prev = prev;
    this.prevDelta = prevDelta;
  }

  next(): number {
    const z = this.residual();
    if (this.order === 1) {
      this.prev += z;
    } else {
      const d = this.prevDelta + z;
      this.prev += d;
      this.prevDelta = this.n === 0 ? 0 : d;
    }
    this.n++;
    return this.prev / this.m;
  }
}
