// Unsigned LEB128 varints (7 bits a byte, least significant first, high bit = more
// follows) and zigzag, shared by every binary format of Tally: chunk headers, the storage
// manifest, and the protobuf and snappy framing of Prometheus remote write.
//
// Values are plain numbers: every count, length and offset these formats carry is below
// 2^53, and numbers keep the hot decoding loops (remote write reads a varint per sample)
// free of BigInt. The one format with 64-bit quantities, the engine's metric state (split
// starts in ns, beyond 2^53), uses the BigInt forms at the end of this file.
//
// Readers do not throw: each format reports bad input with its own error (CorruptDataError,
// CorruptStorageError with the file, SnappyError, ...), so they return a negative code the
// caller turns into it.

/** Most bytes a varint of a 64-bit integer can take (protobuf's limit). */
export const MAX_VARINT_BYTES = 10;

/** The varint holds a value of 2^53 or more (it was read whole; the cursor is past it). */
export const VARINT_TOO_LARGE = -1;
/** The input ends inside the varint. */
export const VARINT_TRUNCATED = -2;
/** More bytes than allowed carry the continuation bit. */
export const VARINT_TOO_LONG = -3;

/** A read position in a buffer, moved past what is read. */
export interface ByteCursor {
  pos: number;
}

/**
 * Writes `v` (an integer in [0, 2^53)) at `off`; returns the offset after it. `out` must
 * have room for varintSize(v) bytes. Division, not shifts: shifts would cut `v` to 32 bits.
 */
export function writeVarint(out: Uint8Array, off: number, v: number): number {
  while (v >= 0x80) {
    out[off++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[off++] = v;
  return off;
}

/** Bytes writeVarint takes for `v`. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/**
 * Reads the varint at `c.pos`, before `end`, taking at most `maxBytes` bytes, and moves
 * the cursor past it. Returns the value when it is below 2^53, else VARINT_TOO_LARGE,
 * VARINT_TRUNCATED or VARINT_TOO_LONG (the cursor is then wherever reading stopped).
 */
export function readVarint(b: Uint8Array, c: ByteCursor, end = b.length, maxBytes = MAX_VARINT_BYTES): number {
  let pos = c.pos;
  if (pos < end && b[pos] < 0x80) {
    c.pos = pos + 1;
    return b[pos];
  }
  // Sums of distinct powers of two are exact below 2^53; above, rounding cannot bring the
  // sum back under 2^53, so the final comparison tells the two apart. The first 8 bytes
  // (56 bits) are summed; any payload in the 9th or 10th means 2^56 or more.
  let v = 0;
  let mul = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (pos >= end) {
      c.pos = pos;
      return VARINT_TRUNCATED;
    }
    const x = b[pos++];
    if (i < 8) v += (x & 0x7f) * mul;
    else if ((x & 0x7f) !== 0) v = Infinity;
    if (x < 0x80) {
      c.pos = pos;
      return v > Number.MAX_SAFE_INTEGER ? VARINT_TOO_LARGE : v;
    }
    mul *= 0x80;
  }
  c.pos = pos;
  return VARINT_TOO_LONG;
}

/** Maps a signed integer (|v| < 2^52) to a non-negative one: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
export function zigzag(v: number): number {
  // `+ 0` turns a -0 input into +0 so that the result is a plain non-negative integer.
  return v >= 0 ? 2 * v + 0 : -2 * v - 1;
}

export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Appends `v` (a non-negative integer below 2^70) as a varint: the BigInt form, for 64-bit quantities. */
export function pushBigVarint(out: number[], v: bigint): void {
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/**
 * Reads the varint at `c.pos` as a BigInt, taking at most `maxBytes` bytes, and moves the
 * cursor past it; returns null when the input ends inside it or it is longer than that.
 */
export function readBigVarint(b: Uint8Array, c: ByteCursor, end = b.length, maxBytes = MAX_VARINT_BYTES): bigint | null {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < maxBytes && c.pos < end; i++) {
    const x = b[c.pos++];
    v |= BigInt(x & 0x7f) << shift;
    if (x < 0x80) return v;
    shift += 7n;
  }
  return null;
}

/** zigzag for BigInts: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
export function zigzagBig(v: bigint): bigint {
  return v >= 0n ? v << 1n : ((-v) << 1n) - 1n;
}

export function unzigzagBig(z: bigint): bigint {
  return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
}
