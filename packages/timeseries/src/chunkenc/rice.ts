// Adaptive Golomb-Rice coding of non-negative integers (< 2^53), shared by the key
// (delta-of-delta) and decimal value codecs.
//
// Why adaptive Rice rather than fixed Gorilla-style buckets: residuals of real series
// (jittery timestamps, random-walk deltas) are roughly geometric with a scale that varies
// between series and over time. A Rice code whose parameter k tracks the running mean
// stays within a few percent of the entropy for such data, while fixed buckets waste
// several bits per value whenever the scale falls between two bucket widths. Encoder and
// decoder run the same adaptation, so k costs nothing in the stream.
//
// Code for a value z with parameter k:
//   q = z >> k < QMAX : q one-bits, a zero bit, then the k low bits of z
//   otherwise (escape): QMAX one-bits, 6-bit length L (1..53), then the L-1 bits of z
//                       below its leading one. L = SPECIAL_LEN marks an out-of-band
//                       event (the timestamp codec uses it for "absolute value follows").
// Run mode: while k == 0 (mean below 1, i.e. mostly zeros) the encoder codes the number
// of zeros before the next non-zero value with an Elias-gamma code of (run + 1), then
// that value minus one. A long constant stretch therefore costs a couple of bytes.

import type { BitReader, BitWriter } from './bitstream.js';
import { CorruptDataError } from './errors.js';

const QMAX = 16;
const SPECIAL_LEN = 63;
/** Halve the statistics every RESET values so that k follows changes in scale. */
const RESET = 32;
/** An escaped value moves the mean at most as much as a value 2^(k+CAP_SHIFT) would. */
const CAP_SHIFT = 5;
const MAX_K = 52;

const POW2 = new Float64Array(64);
for (let i = 0; i < 64; i++) POW2[i] = 2 ** i;
const POW32 = 4294967296;

function bitLength(v: number): number {
  return v < POW32 ? 32 - Math.clz32(v) : 64 - Math.clz32(Math.floor(v / POW32));
}

/** Adaptation state shared (by construction, identically) by encoder and decoder. */
class Stats {
  protected sum = 0;
  protected count = 1;
  protected k = 0;

  protected adapt(z: number): void {
    const cap = POW2[this.k + CAP_SHIFT];
    this.sum += z < cap ? z : cap;
    if (++this.count === RESET) {
      this.sum = Math.floor(this.sum / 2);
      this.count = RESET / 2;
    }
    // k = smallest value with 2^k >= mean / 2 (zigzag doubles magnitudes; measured ~4%
    // smaller than 2^k >= mean on Gaussian random walks). It moves by small steps: walk it.
    let k = this.k;
    const n2 = 2 * this.count;
    const s = this.sum;
    while (k < MAX_K && n2 * POW2[k] < s) k++;
    while (k > 0 && n2 * POW2[k - 1] >= s) k--;
    this.k = k;
  }

  /**
   * adapt(0) while k is 0, the bulk of a dense or constant column: k = 0 means
   * 2 * count >= sum, which adding a zero (count grows, sum stays) and the halving
   * (sum <= 2 * (RESET - 1) becomes at most RESET - 1 <= 2 * RESET / 2) both keep, so k
   * stays 0 and its walk can be skipped.
   */
  protected adaptZero(): void {
    if (++this.count === RESET) {
      this.sum = Math.floor(this.sum / 2);
      this.count = RESET / 2;
    }
  }
}

export class RiceEncoder extends Stats {
  /** Zeros seen in run mode and not yet written. */
  private pending = 0;

  constructor(private readonly w: BitWriter) {
    super();
  }

  /**
   * Code `z`. `learn` = false keeps it out of the statistics: callers pass false for the
   * start-up residuals (a first value, a first delta) whose scale says nothing about the
   * residuals that follow; the decoder must be given the same flag.
   */
  put(z: number, learn = true): void {
    if (this.k === 0) {
      if (z === 0) {
        this.pending++;
        if (learn) this.adaptZero();
        return;
      }
      writeGamma(this.w, this.pending);
      this.pending = 0;
      this.code(z - 1, 0);
    } else {
      this.code(z, this.k);
    }
    if (learn) this.adapt(z);
  }

  /** Emit the out-of-band marker. It does not touch the statistics. */
  putSpecial(): void {
    const w = this.w;
    if (this.k === 0) {
      writeGamma(w, this.pending);
      this.pending = 0;
    }
    w.writeBits((1 << QMAX) - 1, QMAX);
    w.writeBits(SPECIAL_LEN, 6);
  }

  /** Write what is needed to end the stream here into `w` (a clone of this encoder's writer). */
  finishInto(w: BitWriter): void {
    if (this.pending > 0) writeGamma(w, this.pending);
  }

  private code(z: number, k: number): void {
    const w = this.w;
    const q = z < POW32 && k < 32 ? z >>> k : Math.floor(z / POW2[k]);
    if (q < QMAX) {
      if (q + 1 + k <= 32) {
        // q ones, a zero and the k low bits in one call (z < 2^32 here since q < 2^(32-k-1)).
        w.writeBits((((1 << q) - 1) << (k + 1)) | (z & ((1 << k) - 1)), q + 1 + k);
        return;
      }
      // q ones then a zero: (2^q - 1) << 1 over q + 1 bits.
      w.writeBits(((1 << q) - 1) << 1, q + 1);
      if (k > 0) w.writeWide(z - q * POW2[k], k);
      return;
    }
    const len = bitLength(z);
    w.writeBits((1 << QMAX) - 1, QMAX);
    w.writeBits(len, 6);
    w.writeWide(z - POW2[len - 1], len - 1);
  }
}

/**
 * Bits a RiceEncoder would write for the same calls to put() and finish, without writing:
 * the same adaptation and decisions, counted. Lets a caller weigh a codec that goes
 * through Rice without producing output it may throw away.
 */
export class RiceSizer extends Stats {
  private pending = 0;
  /** Bits so far (the pending run excluded until a non-zero value or finish). */
  bits = 0;

  put(z: number, learn = true): void {
    if (this.k === 0) {
      if (z === 0) {
        this.pending++;
        if (learn) this.adaptZero();
        return;
      }
      this.bits += gammaBits(this.pending) + codeBits(z - 1, 0);
      this.pending = 0;
    } else {
      this.bits += codeBits(z, this.k);
    }
    if (learn) this.adapt(z);
  }

  /** Total size once finished (what RiceEncoder.finishInto would add, included). */
  finishedBits(): number {
    return this.pending > 0 ? this.bits + gammaBits(this.pending) : this.bits;
  }
}

function codeBits(z: number, k: number): number {
  const q = z < POW32 && k < 32 ? z >>> k : Math.floor(z / POW2[k]);
  return q < QMAX ? q + 1 + k : QMAX + 6 + bitLength(z) - 1;
}

function gammaBits(n: number): number {
  return 2 * bitLength(n + 1) - 1;
}

export class RiceDecoder extends Stats {
  /** Zeros left in the current run, or -1 when no run length has been read. */
  private runLeft = -1;

  constructor(private readonly r: BitReader) {
    super();
  }

  /** Next value, or -1 for the out-of-band marker. `learn` as given to the encoder. */
  get(learn = true): number {
    if (this.k === 0) {
      if (this.runLeft < 0) this.runLeft = readGamma(this.r);
      if (this.runLeft > 0) {
        this.runLeft--;
        if (learn) this.adaptZero();
        return 0;
      }
      this.runLeft = -1;
      const v = this.decode(0);
      if (v < 0) return -1;
      if (learn) this.adapt(v + 1);
      return v + 1;
    }
    const v = this.decode(this.k);
    if (v >= 0 && learn) this.adapt(v);
    return v;
  }

  private decode(k: number): number {
    const r = this.r;
    const q = r.readOnes(QMAX);
    if (q < QMAX) return k === 0 ? q : q * POW2[k] + r.readWide(k);
    const len = r.readBits(6);
    if (len === SPECIAL_LEN) return -1;
    if (len === 0 || len > 53) throw new CorruptDataError('corrupt rice stream: bad escape length');
    return POW2[len - 1] + r.readWide(len - 1);
  }
}

/** Elias gamma code of n + 1 (n >= 0, n + 1 < 2^53). */
function writeGamma(w: BitWriter, n: number): void {
  const x = n + 1;
  const len = bitLength(x);
  if (len > 1) w.writeBits(0, len - 1);
  w.writeWide(x, len);
}

function readGamma(r: BitReader): number {
  let zeros = 0;
  while (r.readBit() === 0) {
    if (++zeros > 52) throw new CorruptDataError('corrupt rice stream: bad run length');
  }
  // The leading one was consumed above.
  return POW2[zeros] + r.readWide(zeros) - 1;
}
