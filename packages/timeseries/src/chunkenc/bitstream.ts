// MSB-first bit writer/reader over Uint8Array.
//
// Both sides work on a 32-bit window held in a JS number so that the hot path is a
// couple of 32-bit shifts rather than one loop iteration per bit or per byte. Field
// widths are limited to 32 bits per call (the range of JS bitwise operators); the
// *Wide variants split up to 53-bit fields (the exact integer range of a double) into
// two calls.

const POW32 = 4294967296;

export class BitWriter {
  private buf: Uint8Array;
  /** Bytes completely written to `buf`. */
  private len = 0;
  /** Pending bits, left-aligned (bit 31 is the oldest). */
  private acc = 0;
  /** Free bits remaining in `acc` (32 = empty). */
  private free = 32;

  constructor(initialBytes = 64) {
    this.buf = new Uint8Array(Math.max(8, initialBytes));
  }

  /** Number of bits written so far. */
  get bitLength(): number {
    return this.len * 8 + (32 - this.free);
  }

  /** Append the low `n` bits of `v` (0 <= n <= 32). */
  writeBits(v: number, n: number): void {
    if (n === 0) return;
    if (n < 32) v &= (1 << n) - 1;
    const free = this.free;
    if (n < free) {
      this.acc |= v << (free - n);
      this.free = free - n;
      return;
    }
    // Fill the window, flush it, keep the remainder (< 32 bits, so the shifts are valid).
    const rest = n - free;
    this.acc |= v >>> rest;
    this.flushWord();
    if (rest === 0) {
      this.acc = 0;
      this.free = 32;
    } else {
      this.acc = v << (32 - rest);
      this.free = 32 - rest;
    }
  }

  writeBit(bit: number): void {
    const free = this.free - 1;
    this.acc |= (bit & 1) << free;
    if (free === 0) {
      this.flushWord();
      this.acc = 0;
      this.free = 32;
    } else {
      this.free = free;
    }
  }

  /** Append the low `n` bits (0 <= n <= 53) of a non-negative integer `v` < 2^53. */
  writeWide(v: number, n: number): void {
    if (n <= 32) {
      this.writeBits(n === 32 ? v >>> 0 : v % POW32, n);
      return;
    }
    const hi = Math.floor(v / POW32);
    this.writeBits(hi, n - 32);
    this.writeBits(v - hi * POW32, 32);
  }

  private flushWord(): void {
    if (this.len + 4 > this.buf.length) this.grow(4);
    const a = this.acc;
    const b = this.buf;
    const o = this.len;
    b[o] = a >>> 24;
    b[o + 1] = a >>> 16;
    b[o + 2] = a >>> 8;
    b[o + 3] = a;
    this.len = o + 4;
  }

  private grow(extra: number): void {
    const nb = new Uint8Array(Math.max(this.buf.length * 2, this.len + extra));
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }

  /** Independent copy (used to finish a stream without disturbing an ongoing one). */
  clone(): BitWriter {
    const c = new BitWriter(this.buf.length);
    c.buf.set(this.buf.subarray(0, this.len));
    c.len = this.len;
    c.acc = this.acc;
    c.free = this.free;
    return c;
  }

  /**
   * Empties the writer for a new stream, keeping its buffer unless it grew past `keepBytes`
   * (a scratch writer reused for every chunk must not hold on to the largest one forever).
   */
  reset(keepBytes = 1 << 20): void {
    if (this.buf.length > keepBytes) this.buf = new Uint8Array(64);
    this.len = 0;
    this.acc = 0;
    this.free = 32;
  }

  /**
   * What bytes() returns, as a view of the writer's own buffer instead of a copy: valid
   * until the writer is written to or reset.
   */
  view(): Uint8Array {
    const tail = (32 - this.free + 7) >>> 3;
    if (this.len + tail > this.buf.length) this.grow(tail);
    for (let i = 0; i < tail; i++) this.buf[this.len + i] = this.acc >>> (24 - 8 * i);
    return this.buf.subarray(0, this.len + tail);
  }

  /** Bytes written so far, the last one zero-padded. Returns a copy; writing may continue. */
  bytes(): Uint8Array {
    const tailBits = 32 - this.free;
    const tail = (tailBits + 7) >>> 3;
    const out = new Uint8Array(this.len + tail);
    out.set(this.buf.subarray(0, this.len));
    for (let i = 0; i < tail; i++) out[this.len + i] = this.acc >>> (24 - 8 * i);
    return out;
  }
}

export class BitReader {
  private readonly buf: Uint8Array;
  private pos: number;
  private readonly end: number;
  /** Unread bits, left-aligned. Bits below the `avail` most significant ones are zero. */
  private acc = 0;
  private avail = 0;
  /** Zero bytes made up past `end`; non-zero means the stream was truncated. */
  private padded = 0;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** True when more bits were consumed than the buffer holds (corrupt/truncated input). */
  get overrun(): boolean {
    return this.padded * 8 > this.avail;
  }

  private refill(): void {
    const b = this.buf;
    const p = this.pos;
    if (p + 4 <= this.end) {
      this.acc = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      this.pos = p + 4;
    } else {
      let a = 0;
      for (let i = 0; i < 4; i++) {
        a = a * 256 + (p + i < this.end ? b[p + i] : 0);
        if (p + i >= this.end) this.padded++;
      }
      this.acc = a >>> 0;
      this.pos = p + 4;
    }
    this.avail = 32;
  }

  /** Read `n` bits (0 <= n <= 32) as an unsigned integer. */
  readBits(n: number): number {
    if (n === 0) return 0;
    const avail = this.avail;
    if (n <= avail) {
      const r = this.acc >>> (32 - n);
      this.acc = n === 32 ? 0 : this.acc << n;
      this.avail = avail - n;
      return r;
    }
    const hi = avail === 0 ? 0 : this.acc >>> (32 - avail);
    this.refill();
    const rest = n - avail;
    const lo = this.acc >>> (32 - rest);
    this.acc = rest === 32 ? 0 : this.acc << rest;
    this.avail = 32 - rest;
    // hi has `avail` (< n <= 32) bits; when avail === 0, hi is 0 so a shift by 32 is harmless.
    return ((hi << rest) | lo) >>> 0;
  }

  readBit(): number {
    if (this.avail === 0) this.refill();
    const r = this.acc >>> 31;
    this.acc <<= 1;
    this.avail--;
    return r;
  }

  /** Read an `n`-bit (0 <= n <= 53) unsigned integer. */
  readWide(n: number): number {
    if (n <= 32) return this.readBits(n);
    const hi = this.readBits(n - 32);
    return hi * POW32 + this.readBits(32);
  }

  /**
   * Count and consume consecutive 1 bits, at most `max` (<= 31) of them; when fewer than
   * `max`, the terminating 0 is consumed too. Used for unary prefixes.
   */
  readOnes(max: number): number {
    if (this.avail === 0) this.refill();
    // ~acc turns the zero padding below `avail` into ones, so cap by avail.
    const ones = Math.clz32(~this.acc);
    if (ones < this.avail && ones < max) {
      const used = ones + 1;
      this.acc = used === 32 ? 0 : this.acc << used;
      this.avail -= used;
      return ones;
    }
    let n = 0;
    while (n < max && this.readBit() === 1) n++;
    return n;
  }
}
