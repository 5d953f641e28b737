// Gorilla-style XOR compression of float64 values (facts from the Gorilla paper, own
// layout). Each value is XORed with the previous one (the first with +0.0):
//   '0'                          identical value
//   '10' + meaningful bits       the XOR fits inside the previous leading/trailing window
//   '11' + 5-bit leading zeros (capped at 31) + 6-bit (length - 1) + meaningful bits
// The 64-bit XOR is handled as two uint32 halves so no BigInt is needed.

import type { BitReader, BitWriter } from './bitstream.js';
import { CorruptDataError } from './errors.js';

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class XorEncoder {
  private prevHi = 0;
  private prevLo = 0;
  /** Current window: leading zeros and meaningful length; length 0 = no window yet. */
  private lead = 0;
  private len = 0;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  constructor(private readonly w: BitWriter) {}

  /** XOR streams need no terminator; present for symmetry with the other value encoders. */
  finishInto(_w: BitWriter): void {}

  put(v: number): void {
    this.f64[0] = v;
    this.putWords(this.u32[1], this.u32[0]);
  }

  /** Append a whole column, read through a 32-bit view rather than one double at a time. */
  putAll(values: Float64Array): void {
    const words = new Uint32Array(values.buffer, values.byteOffset, 2 * values.length);
    for (let i = 0; i < values.length; i++) this.putWords(words[2 * i + 1], words[2 * i]);
  }

  /** Append a value given as the high and low words of its IEEE-754 bits. */
  putWords(hi: number, lo: number): void {
    const w = this.w;
    const xh = (hi ^ this.prevHi) >>> 0;
    const xl = (lo ^ this.prevLo) >>> 0;
    this.prevHi = hi;
    this.prevLo = lo;
    if (xh === 0 && xl === 0) {
      w.writeBit(0);
      return;
    }
    let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    const trail = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (lead > 31) lead = 31;
    if (this.len !== 0 && lead >= this.lead && 64 - trail <= this.lead + this.len) {
      // Reuse the window: emit exactly its `len` bits ending at bit 64 - lead - len.
      w.writeBits(2, 2);
      writeField(w, xh, xl, 64 - this.lead - this.len, this.len);
      return;
    }
    const len = 64 - lead - trail;
    w.writeBits(3, 2);
    w.writeBits(lead, 5);
    w.writeBits(len - 1, 6);
    writeField(w, xh, xl, trail, len);
    this.lead = lead;
    this.len = len;
  }
}

/**
 * Exact coded size in bits of a column, without coding it: the same decisions as
 * XorEncoder.putWords, counted instead of written, so a column can be weighed against the
 * other codecs at a fraction of the cost of coding it.
 */
export function xorColumnBits(values: Float64Array): number {
  const words = new Uint32Array(values.buffer, values.byteOffset, 2 * values.length);
  let prevHi = 0;
  let prevLo = 0;
  let wLead = 0;
  let wLen = 0;
  let bits = 0;
  for (let i = 0; i < values.length; i++) {
    const hi = words[2 * i + 1];
    const lo = words[2 * i];
    const xh = (hi ^ prevHi) >>> 0;
    const xl = (lo ^ prevLo) >>> 0;
    prevHi = hi;
    prevLo = lo;
    if (xh === 0 && xl === 0) {
      bits += 1;
      continue;
    }
    let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    const trail = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (lead > 31) lead = 31;
    if (wLen !== 0 && lead >= wLead && 64 - trail <= wLead + wLen) {
      bits += 2 + wLen;
      continue;
    }
    const len = 64 - lead - trail;
    bits += 13 + len;
    wLead = lead;
    wLen = len;
  }
  return bits;
}

/** Write `len` bits of the 64-bit value (hi, lo) starting at bit `shift` (from the LSB). */
function writeField(w: BitWriter, hi: number, lo: number, shift: number, len: number): void {
  // Shift the 64-bit value right by `shift`.
  if (shift >= 32) {
    lo = hi >>> (shift - 32);
    hi = 0;
  } else if (shift > 0) {
    lo = ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
    hi = hi >>> shift;
  }
  if (len > 32) {
    w.writeBits(hi, len - 32);
    w.writeBits(lo, 32);
  } else {
    w.writeBits(lo, len);
  }
}

export class XorDecoder {
  private hi = 0;
  private lo = 0;
  private lead = 0;
  private len = 0;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  constructor(private readonly r: BitReader) {}

  next(): number {
    const r = this.r;
    if (r.readBit() !== 0) {
      if (r.readBit() !== 0) {
        this.lead = r.readBits(5);
        this.len = r.readBits(6) + 1;
        if (this.lead + this.len > 64) throw new CorruptDataError('corrupt xor stream');
      } else if (this.len === 0) {
        throw new CorruptDataError('corrupt xor stream: window reused before defined');
      }
      const len = this.len;
      const shift = 64 - this.lead - len;
      let fh = 0;
      let fl: number;
      if (len > 32) {
        fh = r.readBits(len - 32);
        fl = r.readBits(32);
      } else {
        fl = r.readBits(len);
      }
      // Shift the field (fh, fl) left by `shift` and XOR it in.
      let xh: number;
      let xl: number;
      if (shift >= 32) {
        xh = fl << (shift - 32);
        xl = 0;
      } else if (shift > 0) {
        xh = (fh << shift) | (fl >>> (32 - shift));
        xl = fl << shift;
      } else {
        xh = fh;
        xl = fl;
      }
      this.hi ^= xh;
      this.lo ^= xl;
    }
    this.u32[1] = this.hi;
    this.u32[0] = this.lo;
    return this.f64[0];
  }
}
