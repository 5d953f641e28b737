// Decimal scaling for values that are short decimals (meters usually report a handful of
// fraction digits). For a split whose every value v equals round(v * 10^s) / 10^s exactly
// (bit for bit, in double arithmetic) for a small s, the integers round(v * 10^s) are
// coded instead of the floats: their first or second differences go through the
// adaptive Rice coder, costing about log2(step size) bits where XOR would spend most of a
// 52-bit mantissa. Decoding divides by 10^s, the very operation the eligibility check
// performed, so the round-trip is exact by construction.

import type { BitReader, BitWriter } from './bitstream.js';
import { RiceDecoder, RiceEncoder, RiceSizer } from './rice.js';
import { unzigzag, zigzag } from './varint.js';
import { CorruptDataError } from './errors.js';

export const MAX_SCALE = 9;
/** Integers are kept below 2^50 so that second differences and zigzag stay exact. */
export const MAX_INT = 2 ** 50;

export const POW10 = new Float64Array(MAX_SCALE + 1);
for (let i = 0; i <= MAX_SCALE; i++) POW10[i] = 10 ** i;

/** True when `v` is represented exactly at scale `s`. */
function fits(v: number, s: number): boolean {
  const m = POW10[s];
  const i = Math.round(v * m);
  // -0 is excluded: the integer 0 would decode as +0.
  return i / m === v && i < MAX_INT && i > -MAX_INT && !(v === 0 && 1 / v < 0);
}

/**
 * Smallest scale s <= MAX_SCALE at which every value is exactly representable, or -1.
 * Each value only ever raises s, so the scan is one pass plus rare retries.
 */
export function findScale(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    while (!fits(v, s)) {
      if (++s > MAX_SCALE) return -1;
    }
  }
  // A value accepted at a lower scale is, in practice, also exact at a higher one (the
  // same rational divided by a larger power of ten), but verify rather than assume.
  for (let i = 0; i < values.length; i++) if (!fits(values[i], s)) return -1;
  return s;
}

/** order 1 codes first differences (random walks), order 2 second differences (counters). */
export type DecimalOrder = 1 | 2;

export class DecimalEncoder {
  private readonly rice: RiceEncoder;
  private readonly m: number;
  private prev = 0;
  private prevDelta = 0;
  private n = 0;

  constructor(
    w: BitWriter,
    readonly scale: number,
    readonly order: DecimalOrder,
  ) {
    if (!(scale >= 0 && scale <= MAX_SCALE && Number.isInteger(scale))) throw new RangeError(`bad decimal scale ${scale}`);
    this.rice = new RiceEncoder(w);
    this.m = POW10[scale];
  }

  /** Throws RangeError when `v` is not exact at this encoder's scale. */
  put(v: number): void {
    if (!fits(v, this.scale)) throw new RangeError(`value ${v} is not a decimal at scale ${this.scale}`);
    this.putInt(Math.round(v * this.m));
  }

  /** put() for a whole column, rounding each value once for the check and the code. */
  putAll(values: Float64Array): void {
    const bad = this.tryPutAll(values);
    if (bad >= 0) throw new RangeError(`value ${values[bad]} is not a decimal at scale ${this.scale}`);
  }

  /**
   * putAll() that stops at the first value not exact at this scale and returns its index
   * (-1 when all were coded): an encoder holding a codec from a hint learns whether it
   * applies in the pass that codes the column, instead of a findScale pass before it. What
   * was written before a failure is garbage; the caller resets the writer.
   */
  tryPutAll(values: Float64Array): number {
    const m = this.m;
    for (let j = 0; j < values.length; j++) {
      const v = values[j];
      const i = Math.round(v * m);
      // fits(), on the integer already rounded.
      if (!(i / m === v && i < MAX_INT && i > -MAX_INT && !(v === 0 && 1 / v < 0))) return j;
      this.putInt(i);
    }
    return -1;
  }

  private putInt(i: number): void {
    const d = i - this.prev;
    this.prev = i;
    // The first value (and for order 2 the first delta) is start-up: coded relative to
    // 0 and kept out of the Rice statistics. prevDelta stays 0 after the first value.
    const learn = this.n >= this.order;
    if (this.order === 1) {
      this.rice.put(zigzag(d), learn);
    } else {
      this.rice.put(zigzag(d - this.prevDelta), learn);
      this.prevDelta = this.n === 0 ? 0 : d;
    }
    this.n++;
  }

  finishInto(w: BitWriter): void {
    this.rice.finishInto(w);
  }
}

/**
 * Exact coded size in bits of a column at `scale` with order 1 and with order 2, without
 * coding it (what DecimalEncoder.put would write, counted). Every value must be exact at
 * `scale`, as findScale() guarantees for the scale it returns.
 */
export function decimalColumnBits(values: Float64Array, scale: number): [number, number] {
  const m = POW10[scale];
  const r1 = new RiceSizer();
  const r2 = new RiceSizer();
  let prev = 0;
  let prevDelta = 0;
  for (let n = 0; n < values.length; n++) {
    const i = Math.round(values[n] * m);
    const d = i - prev;
    prev = i;
    // The same start-up rules as DecimalEncoder.putInt for each order.
    r1.put(zigzag(d), n >= 1);
    r2.put(zigzag(d - prevDelta), n >= 2);
    prevDelta = n === 0 ? 0 : d;
  }
  return [r1.finishedBits(), r2.finishedBits()];
}

export class DecimalDecoder {
  private readonly rice: RiceDecoder;
  private readonly m: number;
  private prev = 0;
  private prevDelta = 0;
  private n = 0;

  constructor(
    r: BitReader,
    readonly scale: number,
    readonly order: DecimalOrder,
  ) {
    if (!(scale >= 0 && scale <= MAX_SCALE)) throw new RangeError(`bad decimal scale ${scale}`);
    this.rice = new RiceDecoder(r);
    this.m = POW10[scale];
  }

  next(): number {
    const z = this.rice.get(this.n >= this.order);
    if (z < 0) throw new CorruptDataError('corrupt decimal stream');
    if (this.order === 1) {
      this.prev += unzigzag(z);
    } else {
      const d = this.prevDelta + unzigzag(z);
      this.prev += d;
      this.prevDelta = this.n === 0 ? 0 : d;
    }
    this.n++;
    return this.prev / this.m;
  }
}
