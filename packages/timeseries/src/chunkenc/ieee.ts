// Value column for doubles that neither XOR nor decimal coding can shrink (noise, full
// 53-bit mantissas): each IEEE-754 double is split into its fields, which are coded apart.
//
//   header: 2-bit sign mode (0 all +, 1 all -, 2 one bit per value)
//           11-bit largest biased exponent E
//           4-bit Rice parameter k
//           6-bit t: trailing zero bits shared by every mantissa (0..52)
//   value:  [sign bit] Rice(E - exponent, k) [52 - t mantissa bits]
//
// Rice(d, k): q = d >> k as q one bits and a zero, then the k low bits of d; when q >= 31,
// 31 one bits then the 11-bit exponent itself (an escape, so any exponent spread stays
// bounded). Uniform values over a range span a few exponents, geometrically weighted
// towards the top one, which Rice with k = 0 or 1 codes in about 2 bits: a random double
// in [0, 100) costs about 54 bits instead of 64.
//
// The encoder needs the whole column for its header, so it buffers the values and writes
// everything in finishInto().

import type { BitReader, BitWriter } from './bitstream.js';
import { CorruptDataError } from './errors.js';

const ESCAPE = 31;

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** A column's header fields and its exact coded size. */
export interface IeeeLayout {
  signMode: number;
  maxE: number;
  k: number;
  t: number;
  /** Bits of header and values together. */
  bits: number;
}

// Per-exponent scratch shared by every call (single-threaded, never re-entered): how many
// values carry each biased exponent, and the exponents seen, so the choice of k and the
// code table cost a pass over the distinct exponents (a handful for real data) instead of
// a pass over the column per candidate k.
const expCount = new Uint32Array(2048);
const expSeen = new Uint16Array(2048);
/** Code (sign bit included when signMode is 2) and its length, by the top 12 bits of the high word. */
const prefixCode = new Float64Array(4096);
const prefixLen = new Uint8Array(4096);

/** Rice code length of exponent distance d with parameter k (the escape included). */
function expBits(d: number, k: number): number {
  const q = d >>> k;
  return q < ESCAPE ? q + 1 + k : ESCAPE + 11;
}

/**
 * Header fields and exact size of the column held in `words` (the little-endian 32-bit
 * halves of `n` doubles). Leaves the exponent histogram in the scratch arrays for the
 * writer; returns the number of distinct exponents in `distinct`.
 */
function analyse(words: Uint32Array, n: number): IeeeLayout & { distinct: number } {
  let maxE = 0;
  let neg = 0;
  let mantissas = 0;
  let highMantissas = 0;
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const h = words[2 * i + 1];
    const e = (h >>> 20) & 0x7ff;
    if (expCount[e]++ === 0) expSeen[distinct++] = e;
    if (e > maxE) maxE = e;
    neg += h >>> 31;
    highMantissas |= h;
    mantissas |= words[2 * i];
  }
  highMantissas &= 0xfffff;
  const signMode = neg === 0 ? 0 : neg === n ? 1 : 2;
  // The fewest trailing zeros of any mantissa are those of all mantissas ORed together.
  const t = mantissas !== 0 ? ctz32(mantissas) : highMantissas !== 0 ? 32 + ctz32(highMantissas) : 52;
  // Exact size of the exponent codes for each k; keep the cheapest (the first on ties).
  let k = 0;
  let expTotal = Infinity;
  for (let kk = 0; kk <= 11; kk++) {
    let bits = 0;
    for (let j = 0; j < distinct; j++) {
      const e = expSeen[j];
      bits += expCount[e] * expBits(maxE - e, kk);
    }
    if (bits < expTotal) {
      expTotal = bits;
      k = kk;
    }
  }
  if (n === 0) expTotal = 0;
  const bits = 23 + (signMode === 2 ? n : 0) + expTotal + n * (52 - t);
  return { signMode, maxE, k, t, bits, distinct };
}

function clearHistogram(distinct: number): void {
  for (let j = 0; j < distinct; j++) expCount[expSeen[j]] = 0;
}

function columnWords(values: Float64Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
}

/** Header fields and exact coded size (in bits) of a column, without coding it. */
export function ieeeLayout(values: Float64Array): IeeeLayout {
  const l = analyse(columnWords(values), values.length);
  clearHistogram(l.distinct);
  return { signMode: l.signMode, maxE: l.maxE, k: l.k, t: l.t, bits: l.bits };
}

/** Code a whole column (header included). */
export function writeIeeeColumn(w: BitWriter, values: Float64Array): void {
  writeWords(w, columnWords(values), values.length);
}

function writeWords(w: BitWriter, words: Uint32Array, n: number): void {
  const { signMode, maxE, k, t, distinct } = analyse(words, n);
  w.writeBits(signMode, 2);
  w.writeBits(maxE, 11);
  w.writeBits(k, 4);
  w.writeBits(t, 6);
  // One code per distinct (sign, exponent): [sign bit] then the exponent's Rice code.
  const signBits = signMode === 2 ? 1 : 0;
  for (let j = 0; j < distinct; j++) {
    const e = expSeen[j];
    const d = maxE - e;
    const q = d >>> k;
    let code: number;
    let len: number;
    if (q < ESCAPE) {
      // q ones, a zero, then the k low bits of d: at most 31 + 11 bits.
      code = (2 ** (q + 1) - 2) * 2 ** k + (d & ((1 << k) - 1));
      len = q + 1 + k;
    } else {
      code = 0x7fffffff * 2048 + e;
      len = ESCAPE + 11;
    }
    prefixCode[e] = code;
    prefixLen[e] = len + signBits;
    prefixCode[e | 0x800] = code + signBits * 2 ** len;
    prefixLen[e | 0x800] = len + signBits;
  }
  clearHistogram(distinct);
  const mbits = 52 - t;
  for (let i = 0; i < n; i++) {
    const h = words[2 * i + 1];
    const top = h >>> 20;
    const plen = prefixLen[top];
    if (plen <= 32) w.writeBits(prefixCode[top], plen);
    else w.writeWide(prefixCode[top], plen);
    // The mantissa shifted right by t, mbits wide: (h & 0xfffff) : low word.
    if (t >= 32) {
      w.writeBits((h & 0xfffff) >>> (t - 32), mbits);
    } else if (t >= 20) {
      w.writeBits(((h & 0xfffff) << (32 - t)) | (words[2 * i] >>> t), mbits);
    } else if (t > 0) {
      w.writeBits(h >>> t, 20 - t);
      w.writeBits((h << (32 - t)) | (words[2 * i] >>> t), 32);
    } else {
      // Shift counts are taken mod 32, so t = 0 cannot share the branch above.
      w.writeBits(h, 20);
      w.writeBits(words[2 * i], 32);
    }
  }
}

export class IeeeEncoder {
  private buf = new Float64Array(64);
  private n = 0;

  constructor(private readonly _w: BitWriter) {}

  put(v: number): void {
    if (this.n === this.buf.length) {
      const more = new Float64Array(2 * this.n);
      more.set(this.buf);
      this.buf = more;
    }
    this.buf[this.n++] = v;
  }

  finishInto(w: BitWriter): void {
    writeWords(w, new Uint32Array(this.buf.buffer, 0, 2 * this.n), this.n);
  }
}

export class IeeeDecoder {
  private readonly signMode: number;
  private readonly maxE: number;
  private readonly k: number;
  private readonly t: number;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  constructor(private readonly r: BitReader) {
    this.signMode = r.readBits(2);
    this.maxE = r.readBits(11);
    this.k = r.readBits(4);
    this.t = r.readBits(6);
    if (this.signMode === 3 || this.t > 52) throw new CorruptDataError('corrupt ieee value header');
  }

  next(): number {
    const r = this.r;
    const sign = this.signMode === 2 ? r.readBit() : this.signMode;
    const q = r.readOnes(ESCAPE);
    let e: number;
    if (q < ESCAPE) {
      const k = this.k;
      const d = k > 0 ? q * (1 << k) + r.readBits(k) : q;
      e = this.maxE - d;
      if (e < 0) throw new CorruptDataError('corrupt ieee value stream');
    } else {
      e = r.readBits(11);
    }
    const t = this.t;
    let mh: number;
    let ml: number;
    if (t >= 32) {
      mh = t === 52 ? 0 : r.readBits(52 - t) << (t - 32);
      ml = 0;
    } else {
      mh = r.readBits(20);
      ml = t === 0 ? r.readBits(32) : (r.readBits(32 - t) << t) >>> 0;
    }
    this.u32[1] = ((sign << 31) | (e << 20) | mh) >>> 0;
    this.u32[0] = ml;
    return this.f64[0];
  }
}
