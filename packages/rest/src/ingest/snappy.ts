// Snappy block format decompression (the raw format, without the framing of the stream
// format), as Prometheus remote write sends it: a varint of the uncompressed length, then
// literals and back-references. Every bound is checked: bad input throws SnappyError.

import { readVarint, VARINT_TRUNCATED } from '@tally/timeseries';

export class SnappyError extends Error {}

/** Largest output accepted by default (the length is declared up front and checked first). */
export const DEFAULT_MAX_UNCOMPRESSED = 256 * 1024 * 1024;

function fail(reason: string): never {
  throw new SnappyError(reason);
}

/** The uncompressed length declared by a snappy block (throws on a bad preamble). */
export function snappyUncompressedLength(src: Uint8Array): { length: number; headerBytes: number } {
  const c = { pos: 0 };
  // A uint32: at most 5 bytes.
  const length = readVarint(src, c, src.length, 5);
  if (length === VARINT_TRUNCATED) fail('truncated length preamble');
  if (length < 0) fail('length preamble too long');
  if (length > 0xffffffff) fail('uncompressed length out of range');
  return { length, headerBytes: c.pos };
}

/**
 * The most bytes `n` bytes of snappy elements can expand to: a 3-byte copy (2-byte offset)
 * emits at most 64, the best ratio of any element, and 2 bytes left over at most 11 (a
 * 1-byte-offset copy). A declared length above this cannot be honest, and is refused before
 * the output buffer is allocated for it.
 */
function maxExpansion(n: number): number {
  return Math.floor(n / 3) * 64 + (n % 3 === 2 ? 11 : 0);
}

export function snappyUncompress(src: Uint8Array, maxLength = DEFAULT_MAX_UNCOMPRESSED): Buffer {
  const { length, headerBytes } = snappyUncompressedLength(src);
  if (length > maxLength) fail(`uncompressed length ${length} exceeds the limit of ${maxLength} bytes`);
  if (length > maxExpansion(src.length - headerBytes)) {
    fail(`uncompressed length ${length} is more than ${src.length} bytes can expand to`);
  }
  const dst = Buffer.allocUnsafe(length);
  const end = src.length;
  let s = headerBytes;
  let d = 0;
  while (s < end) {
    const tag = src[s++];
    let len: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        // Literal: length - 1 in the tag, or in 1-4 little-endian bytes after it.
        len = tag >>> 2;
        if (len >= 60) {
          const n = len - 59;
          if (s + n > end) fail('truncated literal length');
          len = 0;
          for (let i = n - 1; i >= 0; i--) len = len * 256 + src[s + i];
          s += n;
        }
        len += 1;
        if (len > end - s) fail('literal runs past the input');
        if (len > length - d) fail('literal runs past the declared length');
        if (len < 16) {
          for (let i = 0; i < len; i++) dst[d + i] = src[s + i];
        } else {
          dst.set(src.subarray(s, s + len), d);
        }
        s += len;
        d += len;
        continue;
      }
      case 1:
        if (s >= end) fail('truncated copy');
        len = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | src[s++];
        break;
      case 2:
        if (s + 2 > end) fail('truncated copy');
        len = (tag >>> 2) + 1;
        offset = src[s] | (src[s + 1] << 8);
        s += 2;
        break;
      default:
        if (s + 4 > end) fail('truncated copy');
        len = (tag >>> 2) + 1;
        offset = (src[s] | (src[s + 1] << 8) | (src[s + 2] << 16)) + src[s + 3] * 0x1000000;
        s += 4;
        break;
    }
    if (offset === 0 || offset > d) fail('copy offset out of range');
    if (len > length - d) fail('copy runs past the declared length');
    if (offset >= len) {
      dst.copyWithin(d, d - offset, d - offset + len);
    } else {
      // Overlapping: the copy repeats the last `offset` bytes.
      for (let i = 0; i < len; i++) dst[d + i] = dst[d - offset + i];
    }
    d += len;
  }
  if (d !== length) fail(`decompressed ${d} bytes, the header declared ${length}`);
  return dst;
}
