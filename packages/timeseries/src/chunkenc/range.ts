// Binary range coder with adaptive bit models, for codecs that need to get closer to the
// entropy than a prefix code can (a Rice code spends whole bits on every part of a value).
//
// Hand-written rather than taken from a library: the codecs need it synchronous, in the
// same process, over views of their own buffers and with models shared between encoder,
// decoder and a sizer; npm's range coders are whole-stream compressors (LZMA, brotli-like)
// that do not expose the bit-level coder.
//
// Coder: the carry-less-output range coder of LZMA (32-bit range kept >= 2^24, a 33-bit
// low whose carry is resolved through a cached byte and a count of pending 0xFF bytes),
// with two changes to the stream:
//   * LZMA's first output byte is always 0; it is not written, and the decoder starts by
//     reading 4 bytes instead of 5;
//   * at the end the encoder picks, within the final interval, the value with the most
//     trailing zero bytes, writes it out and drops up to 4 trailing zero bytes: a decoder
//     reads bytes past the end as zeros. A stream of one value costs 1 to 2 bytes instead
//     of LZMA's 5 bytes of flush.
// Bits are coded with probabilities of PROB_BITS bits: bound = (range >>> PROB_BITS) * p0,
// a 0 takes [low, low + bound), a 1 the rest. Raw bits (`putRaw`) split the range in 2^k
// equal parts, up to RAW_MAX bits at a time.
//
// Bit models (`Models`): per context counts of 0s and 1s, each starting at one half, and
// the probability of a 0 they give (a Krichevsky-Trofimov estimate): a context learns
// within a few values (splits of small metrics hold a handful of points) and, on stationary
// data, gets within a fraction of a percent of the entropy, where an exponential moving
// average keeps paying for its noise. When the counts reach the model's limit they are
// halved, so a context follows changes over the last few hundred bits.
import { CorruptDataError } from './errors.js';

export const PROB_BITS = 12;
const PROB_ONE = 1 << PROB_BITS;
const HALF = PROB_ONE >>> 1;
const TOP = 2 ** 24;
const POW32 = 4294967296;
/** Most raw bits coded in one step (range >= 2^24, so each part keeps >= 2^12 of it). */
export const RAW_MAX = 12;

const recipTables = new Map<number, Float64Array>();
function recipTable(limit: number): Float64Array {
  let t = recipTables.get(limit);
  if (t === undefined) {
    t = new Float64Array(limit + 3);
    for (let n = 1; n < t.length; n++) t[n] = PROB_ONE / n;
    recipTables.set(limit, t);
  }
  return t;
}

/** A set of adaptive bit contexts. Encoder, decoder and sizer each hold their own copy. */
export class Models {
  /** Probability of a 0, in 1/PROB_ONE. */
  readonly p: Uint16Array;
  /** Counts of 0s and 1s, in halves (each starts at one half); public for inlined loops. */
  readonly c0: Uint16Array;
  readonly c1: Uint16Array;
  /** PROB_ONE / t for every count total t up to the limit (a multiply instead of a divide). */
  readonly recip: Float64Array;

  constructor(
    size: number,
    readonly limit: number,
  ) {
    if (!(limit >= 4 && limit <= PROB_ONE)) throw new RangeError(`bad model limit ${limit}`);
    this.recip = recipTable(limit);
    this.p = new Uint16Array(size).fill(HALF);
    this.c0 = new Uint16Array(size).fill(1);
    this.c1 = new Uint16Array(size).fill(1);
  }

  /** Learn `bit` in context `i`. */
  update(i: number, bit: number): void {
    let c0 = this.c0[i];
    let c1 = this.c1[i];
    if (bit === 0) c0 += 2;
    else c1 += 2;
    if (c0 + c1 > this.limit) {
      c0 = (c0 + 1) >>> 1;
      c1 = (c1 + 1) >>> 1;
    }
    this.c0[i] = c0;
    this.c1[i] = c1;
    // c0 and c1 are odd, so 0 < p < PROB_ONE: PROB_ONE * c0 / (c0 + c1) >= PROB_ONE / limit
    // >= 1 while limit <= PROB_ONE, and likewise for c1.
    this.p[i] = (c0 * this.recip[c0 + c1]) >>> 0;
  }
}

/** Cost in 1/COST_SCALE bits of coding a bit whose probability is p / PROB_ONE. */
export const COST_SCALE = 256;
const COST = new Uint32Array(PROB_ONE);
for (let p = 1; p < PROB_ONE; p++) COST[p] = Math.round(-Math.log2(p / PROB_ONE) * COST_SCALE);

export class RangeEncoder {
  private buf: Uint8Array;
  private len = 0;
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  /** The first byte shifted out is LZMA's constant 0, not written. */
  private skip = true;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(Math.max(16, initialBytes));
  }

  /** Starts a new stream, keeping the buffer unless it grew past `keepBytes`. */
  reset(keepBytes = 1 << 20): void {
    if (this.buf.length > keepBytes) this.buf = new Uint8Array(256);
    this.len = 0;
    this.low = 0;
    this.range = 0xffffffff;
    this.cache = 0;
    this.cacheSize = 1;
    this.skip = true;
  }

  private out(byte: number): void {
    if (this.skip) {
      this.skip = false;
      return;
    }
    if (this.len === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.len++] = byte;
  }

  private shiftLow(): void {
    const low = this.low;
    const lo32 = low >>> 0;
    if (lo32 < 0xff000000 || low >= POW32) {
      const carry = low >= POW32 ? 1 : 0;
      let c = this.cache;
      do {
        this.out((c + carry) & 0xff);
        c = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = lo32 >>> 24;
    }
    this.cacheSize++;
    this.low = (lo32 & 0x00ffffff) * 256;
  }

  /** Code `bit` in context `i` of `m`, and learn it. */
  putBit(m: Models, i: number, bit: number): void {
    const p = m.p[i];
    const bound = (this.range >>> PROB_BITS) * p;
    if (bit === 0) {
      this.range = bound;
    } else {
      this.low += bound;
      this.range -= bound;
    }
    m.update(i, bit);
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** Code the low `k` bits (0 <= k <= RAW_MAX) of `v` with equal probabilities. */
  putRaw(v: number, k: number): void {
    if (k === 0) return;
    const r = Math.floor(this.range / (1 << k));
    this.low += (v & ((1 << k) - 1)) * r;
    this.range = r;
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** Code the low `k` bits (0 <= k <= 53) of a non-negative integer `v` < 2^53, raw. */
  putRawWide(v: number, k: number): void {
    while (k > RAW_MAX) {
      k -= RAW_MAX;
      this.putRaw(Math.floor(v / 2 ** k) % (1 << RAW_MAX), RAW_MAX);
    }
    this.putRaw(v % (1 << k), k);
  }

  /**
   * Ends the stream and returns its bytes, a view of the encoder's buffer valid until it
   * is reset or written to.
   */
  finish(): Uint8Array {
    // The value of the final interval [low, low + range) with the most trailing zero bytes.
    const end = this.low + this.range;
    for (let z = 4; z >= 0; z--) {
      const unit = 2 ** (8 * z);
      const v = Math.ceil(this.low / unit) * unit;
      if (v < end) {
        this.low = v;
        break;
      }
    }
    for (let i = 0; i < 5; i++) this.shiftLow();
    let n = this.len;
    // The decoder reads missing bytes as zeros: at most 4 of them (a corrupt stream's
    // over-read beyond that is detected).
    for (let i = 0; i < 4 && n > 0 && this.buf[n - 1] === 0; i++) n--;
    return this.buf.subarray(0, n);
  }
}

/**
 * Bits a RangeEncoder would spend on the same calls, in 1/COST_SCALE bits, from the
 * models' probabilities: within a few bytes of the coded size, for weighing a codec
 * without coding.
 */
export class RangeSizer {
  cost = 0;

  putBit(m: Models, i: number, bit: number): void {
    const p = m.p[i];
    this.cost += COST[bit === 0 ? p : PROB_ONE - p];
    m.update(i, bit);
  }

  putRaw(_v: number, k: number): void {
    this.cost += k * COST_SCALE;
  }

  putRawWide(_v: number, k: number): void {
    this.cost += k * COST_SCALE;
  }

  /** Estimated bytes of the finished stream. */
  bytes(): number {
    return Math.ceil(this.cost / (8 * COST_SCALE)) + 1;
  }
}

/**
 * Decoder. Its state is public for decoding loops that keep it in locals (a value costs
 * about ten bits through the models: calls and field writes per bit made decoding several
 * times slower); such a loop reads it, works, and writes it back.
 */
export class RangeDecoder {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  range = 0xffffffff;
  code = 0;
  /** Bytes read past the end (as zeros). */
  padded = 0;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
  }

  /** True when the stream was read further than an encoder's dropped zeros explain. */
  get overrun(): boolean {
    return this.padded > 4;
  }

  private next(): number {
    if (this.pos < this.end) return this.buf[this.pos++];
    this.padded++;
    return 0;
  }

  getBit(m: Models, i: number): number {
    const p = m.p[i];
    const bound = (this.range >>> PROB_BITS) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      bit = 1;
    }
    m.update(i, bit);
    while (this.range < TOP) {
      this.range *= 256;
      this.code = this.code * 256 + this.next();
    }
    return bit;
  }

  getRaw(k: number): number {
    if (k === 0) return 0;
    const r = Math.floor(this.range / (1 << k));
    let v = Math.floor(this.code / r);
    // Only a corrupt stream puts the code past the last part.
    if (v >= 1 << k) {
      if (this.overrun) throw new CorruptDataError('corrupt range-coded stream');
      v = (1 << k) - 1;
    }
    this.code -= v * r;
    this.range = r;
    while (this.range < TOP) {
      this.range *= 256;
      this.code = this.code * 256 + this.next();
    }
    return v;
  }

  getRawWide(k: number): number {
    let v = 0;
    while (k > RAW_MAX) {
      k -= RAW_MAX;
      v = v * (1 << RAW_MAX) + this.getRaw(RAW_MAX);
    }
    return v * (1 << k) + this.getRaw(k);
  }
}
