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

export class IeeeEncoder {
  private hi: number[] = [];
  private lo: number[] = [];
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  constructor(private readonly _w: BitWriter) {}

  put(v: number): void {
    this.f64[0] = v;
    this.hi.push(this.u32[1]);
    this.lo.push(this.u32[0]);
  }

  finishInto(w: BitWriter): void {
    const n = this.hi.length;
    let maxE = 0;
    let pos = 0;
    let neg = 0;
    let t = 52;
    for (let i = 0; i < n; i++) {
      const h = this.hi[i];
      const e = (h >>> 20) & 0x7ff;
      if (e > maxE) maxE = e;
      if (h >>> 31 === 1) neg++;
      else pos++;
      const mh = h & 0xfffff;
      const ml = this.lo[i];
      const tz = ml !== 0 ? ctz32(ml) : mh !== 0 ? 32 + ctz32(mh) : 52;
      if (tz < t) t = tz;
    }
    const signMode = neg === 0 ? 0 : pos === 0 ? 1 : 2;
    // Exact size of the exponent codes for each k; keep the cheapest.
    let bestK = 0;
    let bestBits = Infinity;
    for (let k = 0; k <= 11; k++) {
      let bits = 0;
      for (let i = 0; i < n; i++) {
        const q = (maxE - ((this.hi[i] >>> 20) & 0x7ff)) >>> k;
        bits += q < ESCAPE ? q + 1 + k : ESCAPE + 11;
      }
      if (bits < bestBits) {
        bestBits = bits;
        bestK = k;
      }
    }
    const k = bestK;
    w.writeBits(signMode, 2);
    w.writeBits(maxE, 11);
    w.writeBits(k, 4);
    w.writeBits(t, 6);
    for (let i = 0; i < n; i++) {
      const h = this.hi[i];
      if (signMode === 2) w.writeBit(h >>> 31);
      const e = (h >>> 20) & 0x7ff;
      const d = maxE - e;
      const q = d >>> k;
      if (q < ESCAPE) {
        // q ones then a zero, at most 32 bits.
        w.writeBits((2 ** (q + 1) - 2) >>> 0, q + 1);
        if (k > 0) w.writeBits(d & ((1 << k) - 1), k);
      } else {
        w.writeBits(0x7fffffff, ESCAPE);
        w.writeBits(e, 11);
      }
      const mh = h & 0xfffff;
      const ml = this.lo[i];
      if (t >= 32) {
        w.writeBits(mh >>> (t - 32), 52 - t);
      } else {
        w.writeBits(mh, 20);
        w.writeBits(ml >>> t, 32 - t);
      }
    }
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
