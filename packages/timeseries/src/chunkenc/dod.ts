// Delta-of-delta coding of key sequences: split positions (uint32) and raw-measure
// timestamps (int64 nanoseconds). Residuals go through the adaptive Rice coder, so a
// dense run 0..n-1 or a perfectly regular timestamp series collapses into a few bytes
// and jitter costs about log2(jitter) bits.
//
// Timestamps never become a BigInt per point: the BigInt64Array is viewed as 32-bit
// halves and deltas are computed in double arithmetic, which is exact while the delta
// stays below 2^50 ns (~13 days). A bigger jump (or the first timestamp, measured from
// 0) is coded as the Rice out-of-band marker followed by the absolute 64-bit value.

import { BitReader, BitWriter } from './bitstream.js';
import { RiceDecoder, RiceEncoder } from './rice.js';
import { unzigzag, zigzag } from './varint.js';
import { CorruptDataError } from './errors.js';

const POW32 = 4294967296;
/** Deltas are coded only when the high-word difference is below this (|delta| < 2^50). */
const MAX_DH = 1 << 18;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The 32-bit views over BigInt64Array/Float64Array below assume little-endian.
  throw new Error('chunkenc requires a little-endian platform');
}

// Start-up: the first key is coded as is and the second as a plain delta (prevDelta is
// 0 after the first), both kept out of the Rice statistics; second differences follow.

export class PositionEncoder {
  readonly w: BitWriter;
  private readonly rice: RiceEncoder;
  private prev = 0;
  private prevDelta = 0;
  private n = 0;

  constructor(w = new BitWriter()) {
    this.w = w;
    this.rice = new RiceEncoder(w);
  }

  /** `p` must be an integer in [0, 2^32). Order is not enforced here (splits are sorted). */
  put(p: number): void {
    const d = p - this.prev;
    this.rice.put(zigzag(d - this.prevDelta), this.n >= 2);
    this.prev = p;
    this.prevDelta = this.n === 0 ? 0 : d;
    this.n++;
  }

  /** Ends the stream in its writer (bytes() leaves the writer open, at the cost of a copy). */
  finish(): void {
    this.rice.finishInto(this.w);
  }

  bytes(): Uint8Array {
    const w = this.w.clone();
    this.rice.finishInto(w);
    return w.bytes();
  }
}

export class PositionDecoder {
  private readonly rice: RiceDecoder;
  private prev = 0;
  private prevDelta = 0;
  private n = 0;

  constructor(r: BitReader) {
    this.rice = new RiceDecoder(r);
  }

  next(): number {
    const z = this.rice.get(this.n >= 2);
    if (z < 0) throw new CorruptDataError('corrupt position stream');
    const d = this.prevDelta + unzigzag(z);
    this.prev += d;
    this.prevDelta = this.n === 0 ? 0 : d;
    this.n++;
    return this.prev;
  }
}

export class TimestampEncoder {
  readonly w: BitWriter;
  private readonly rice: RiceEncoder;
  private prevHi = 0;
  private prevLo = 0;
  private prevDelta = 0;
  /** 2: next is the first value, 1: next is a first delta (after a start or an absolute), 0: steady. */
  private fresh = 2;

  constructor(w = new BitWriter()) {
    this.w = w;
    this.rice = new RiceEncoder(w);
  }

  /** Append one timestamp given as its signed high and unsigned low 32-bit words. */
  private putWords(hi: number, lo: number): void {
    const dh = hi - this.prevHi;
    if (dh >= MAX_DH || dh <= -MAX_DH) {
      this.rice.putSpecial();
      this.w.writeBits(hi, 32);
      this.w.writeBits(lo, 32);
      this.prevDelta = 0;
      this.fresh = 1;
    } else {
      const d = dh * POW32 + (lo - this.prevLo);
      this.rice.put(zigzag(d - this.prevDelta), this.fresh === 0);
      this.prevDelta = this.fresh === 2 ? 0 : d;
      if (this.fresh > 0) this.fresh--;
    }
    this.prevHi = hi;
    this.prevLo = lo;
  }

  /** Bulk append: reads the array through 32-bit views, no BigInt per point. */
  putAll(ts: BigInt64Array): void {
    const w32 = new Int32Array(ts.buffer, ts.byteOffset, ts.length * 2);
    for (let i = 0; i < ts.length; i++) this.putWords(w32[2 * i + 1], w32[2 * i] >>> 0);
  }

  /** Ends the stream in its writer (bytes() leaves the writer open, at the cost of a copy). */
  finish(): void {
    this.rice.finishInto(this.w);
  }

  bytes(): Uint8Array {
    const w = this.w.clone();
    this.rice.finishInto(w);
    return w.bytes();
  }
}

export class TimestampDecoder {
  private readonly r: BitReader;
  private readonly rice: RiceDecoder;
  /** Current timestamp as signed high / unsigned low words. */
  private hi = 0;
  private lo = 0;
  private prevDelta = 0;
  private fresh = 2;

  constructor(r: BitReader) {
    this.r = r;
    this.rice = new RiceDecoder(r);
  }

  /** Advance to the next timestamp, left in `hi`/`lo`. */
  private next(): void {
    const z = this.rice.get(this.fresh === 0);
    if (z < 0) {
      this.hi = this.r.readBits(32) | 0;
      this.lo = this.r.readBits(32);
      this.prevDelta = 0;
      this.fresh = 1;
      return;
    }
    const d = this.prevDelta + unzigzag(z);
    this.prevDelta = this.fresh === 2 ? 0 : d;
    if (this.fresh > 0) this.fresh--;
    // Add d (|d| < 2^51) to the 64-bit value, propagating the carry between words.
    const dl = d % POW32;
    let lo = this.lo + dl;
    let hi = this.hi + (d - dl) / POW32;
    if (lo >= POW32) {
      lo -= POW32;
      hi++;
    } else if (lo < 0) {
      lo += POW32;
      hi--;
    }
    this.hi = hi;
    this.lo = lo;
  }

  /** Decode timestamps into `out[from, to)`. */
  readInto(out: BigInt64Array, from: number, to: number): void {
    const w32 = new Int32Array(out.buffer, out.byteOffset, out.length * 2);
    for (let i = from; i < to; i++) {
      this.next();
      w32[2 * i] = this.lo | 0;
      w32[2 * i + 1] = this.hi;
    }
  }
}
