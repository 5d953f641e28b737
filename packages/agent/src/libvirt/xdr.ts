// XDR (RFC 4506), the subset libvirt's remote protocol uses.
//
// Every item is big-endian and occupies a multiple of 4 bytes:
//   int / unsigned int / enum / bool   4 bytes (bool: 0 or 1)
//   hyper / unsigned hyper             8 bytes (read here as bigint, so 64-bit counters stay exact)
//   double                             8 bytes, IEEE 754
//   opaque[n] (fixed)                  n bytes, then zero padding to the next multiple of 4
//   opaque<max> / string<max>          an unsigned length, the bytes, zero padding; the length
//                                      must not exceed max (strings are UTF-8 here)
//   T *optional                        a bool "present", then T when it is 1
//   T array<max>                       an unsigned count (<= max), then the elements in order
//   union switch (int d)               the discriminant, then the arm it selects
//   struct                             its fields in order, nothing between them
//
// Decoding never trusts a length or a count: a length past the end of the buffer, or a
// count whose elements could not fit in the bytes left (each element takes at least 4),
// is refused with an XdrError before anything is allocated, so that a hostile or truncated
// message costs at most the bytes it actually has, and every loop advances at least 4 bytes
// per step. Hand-written because no maintained npm XDR package decodes 64-bit integers as
// bigint with bounds on every length, and the subset is small.

export type XdrErrorKind = 'truncated' | 'limit' | 'invalid' | 'trailing';

/** Bytes that are not a valid XDR encoding of what was expected. */
export class XdrError extends Error {
  readonly kind: XdrErrorKind;
  constructor(kind: XdrErrorKind, message: string) {
    super(message);
    this.name = 'XdrError';
    this.kind = kind;
  }
}

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

export class XdrReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos: number;
  readonly #end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('XdrReader: bad bounds');
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number, what: string): void {
    if (n > this.#end - this.#pos) {
      throw new XdrError('truncated', `${what}: needs ${n} bytes at offset ${this.#pos}, ${this.#end - this.#pos} left`);
    }
  }

  u32(): number {
    this.#need(4, 'unsigned int');
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  i32(): number {
    this.#need(4, 'int');
    const v = this.#view.getInt32(this.#pos);
    this.#pos += 4;
    return v;
  }

  u64(): bigint {
    this.#need(8, 'unsigned hyper');
    const v = this.#view.getBigUint64(this.#pos);
    this.#pos += 8;
    return v;
  }

  i64(): bigint {
    this.#need(8, 'hyper');
    const v = this.#view.getBigInt64(this.#pos);
    this.#pos += 8;
    return v;
  }

  f64(): number {
    this.#need(8, 'double');
    const v = this.#view.getFloat64(this.#pos);
    this.#pos += 8;
    return v;
  }

  bool(): boolean {
    const v = this.u32();
    if (v > 1) throw new XdrError('invalid', `bool: ${v} is neither 0 nor 1`);
    return v === 1;
  }

  /** opaque[n]: a view into the buffer (not a copy). */
  fixedOpaque(n: number): Uint8Array {
    const padded = n + pad4(n);
    this.#need(padded, `opaque[${n}]`);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += padded;
    return v;
  }

  /** opaque<max>: a view into the buffer (not a copy). */
  varOpaque(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) throw new XdrError('limit', `opaque: length ${n} exceeds its limit ${max}`);
    return this.fixedOpaque(n);
  }

  string(max: number): string {
    const n = this.u32();
    if (n > max) throw new XdrError('limit', `string: length ${n} exceeds its limit ${max}`);
    return utf8.decode(this.fixedOpaque(n));
  }

  optional<T>(read: (r: XdrReader) => T): T | null {
    return this.bool() ? read(this) : null;
  }

  array<T>(max: number, read: (r: XdrReader) => T): T[] {
    const n = this.u32();
    if (n > max) throw new XdrError('limit', `array: count ${n} exceeds its limit ${max}`);
    // Every XDR item takes at least 4 bytes: a count the bytes left cannot hold is refused
    // before the array is allocated.
    if (n * 4 > this.#end - this.#pos) {
      throw new XdrError('truncated', `array: count ${n} cannot fit in the ${this.#end - this.#pos} bytes left`);
    }
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = read(this);
    return out;
  }

  /** Refuses bytes left over after the last item. */
  done(): void {
    if (this.#pos !== this.#end) throw new XdrError('trailing', `${this.#end - this.#pos} bytes left over`);
  }
}

export class XdrWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(Math.max(16, initial));
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#pos;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`unsigned int out of range: ${v}`);
    this.#room(4);
    this.#view.setUint32(this.#pos, v);
    this.#pos += 4;
    return this;
  }

  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`int out of range: ${v}`);
    this.#room(4);
    this.#view.setInt32(this.#pos, v);
    this.#pos += 4;
    return this;
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`unsigned hyper out of range: ${v}`);
    this.#room(8);
    this.#view.setBigUint64(this.#pos, v);
    this.#pos += 8;
    return this;
  }

  i64(v: bigint): this {
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new RangeError(`hyper out of range: ${v}`);
    this.#room(8);
    this.#view.setBigInt64(this.#pos, v);
    this.#pos += 8;
    return this;
  }

  f64(v: number): this {
    this.#room(8);
    this.#view.setFloat64(this.#pos, v);
    this.#pos += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.u32(v ? 1 : 0);
  }

  fixedOpaque(bytes: Uint8Array, n = bytes.length): this {
    if (bytes.length !== n) throw new RangeError(`opaque[${n}] given ${bytes.length} bytes`);
    const padded = n + pad4(n);
    this.#room(padded);
    this.#buf.set(bytes, this.#pos);
    this.#buf.fill(0, this.#pos + n, this.#pos + padded);
    this.#pos += padded;
    return this;
  }

  varOpaque(bytes: Uint8Array, max: number): this {
    if (bytes.length > max) throw new RangeError(`opaque: length ${bytes.length} exceeds its limit ${max}`);
    this.u32(bytes.length);
    return this.fixedOpaque(bytes);
  }

  string(s: string, max: number): this {
    return this.varOpaque(utf8Encoder.encode(s), max);
  }

  optional<T>(v: T | null | undefined, write: (w: XdrWriter, v: T) => void): this {
    if (v === null || v === undefined) return this.bool(false);
    this.bool(true);
    write(this, v);
    return this;
  }

  array<T>(items: readonly T[], max: number, write: (w: XdrWriter, v: T) => void): this {
    if (items.length > max) throw new RangeError(`array: count ${items.length} exceeds its limit ${max}`);
    this.u32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  /** The bytes written so far (a copy-free view, valid until the next write). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }
}
