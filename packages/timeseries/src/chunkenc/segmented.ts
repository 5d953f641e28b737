// Segmented split: the open tail of a series, appended to in place. A commit adding points
// after the split's last one codes just those points and appends them as a segment, instead
// of decoding and re-coding the whole split: its cost follows the points added, not the
// points already stored.
//
//   [u8 0x13] [varint segment count]
//   then per segment: [varint last position] [varint byte length] [segment]
//
// A segment is a single-chunk split blob (RawSplit, SplitXor, SplitDecimal, SplitIeee) with
// ascending positions. The split's points are the segments' points in order, a later
// segment's point replacing an earlier one at the same position (a commit recomputes the
// last, still open bucket). Each segment's last position is in the header, so an append
// knows where the split ends without decoding it. The engine re-codes a segmented split as
// one chunk when it closes (a later split starts) or reaches MAX_SEGMENTS.
import { Encoding } from './encoding.js';
import { pooledBytes } from './pool.js';
import { CorruptDataError } from './errors.js';
import { readVarint, varintSize, writeVarint } from './varint.js';

/** Segments a split may have; the next commit re-codes it whole. */
export const MAX_SEGMENTS = 16;

export interface Segment {
  lastPosition: number;
  bytes: Uint8Array;
}

export function isSegmented(b: Uint8Array): boolean {
  return b.length > 0 && b[0] === Encoding.SplitSegmented;
}

/** The segments of a segmented blob, as views into it. */
export function readSegments(b: Uint8Array): Segment[] {
  if (!isSegmented(b)) throw new CorruptDataError('not a segmented split');
  const c = { pos: 1 };
  const count = readVarint(b, c);
  if (count < 1 || count > MAX_SEGMENTS) throw new CorruptDataError('segmented split: bad segment count');
  const out: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const lastPosition = readVarint(b, c);
    const length = readVarint(b, c);
    if (lastPosition < 0 || length < 1 || c.pos + length > b.length) throw new CorruptDataError('segmented split: bad segment header');
    const bytes = b.subarray(c.pos, c.pos + length);
    if (bytes[0] === Encoding.SplitSegmented) throw new CorruptDataError('segmented split: nested segments');
    out.push({ lastPosition, bytes });
    c.pos += length;
  }
  if (c.pos !== b.length) throw new CorruptDataError('segmented split: trailing bytes');
  return out;
}

/** What an append needs of a split blob, read without building its segments. */
export interface SegmentsTail {
  /** Segments it has (1 for a single chunk). */
  count: number;
  /** Largest last position of its segments. */
  lastPosition: number;
  /** Where its last segment lies in it. */
  lastStart: number;
  lastEnd: number;
  /** Where the segments' headers and bytes start (after the count), 0 for a single chunk. */
  bodyStart: number;
}

/**
 * The tail of a segmented blob, checked as readSegments checks it. The engine appends to
 * open splits on every commit: building the segment list of a split (an object and a view
 * per segment) cost more than coding the new points, the first reads of those fresh
 * objects being the slowest part of an append on this machine's processing profile.
 */
export function segmentsTail(b: Uint8Array): SegmentsTail {
  if (!isSegmented(b)) throw new CorruptDataError('not a segmented split');
  const c = { pos: 1 };
  const count = readVarint(b, c);
  if (count < 1 || count > MAX_SEGMENTS) throw new CorruptDataError('segmented split: bad segment count');
  const bodyStart = c.pos;
  let lastPosition = 0;
  let lastStart = 0;
  for (let i = 0; i < count; i++) {
    const position = readVarint(b, c);
    const length = readVarint(b, c);
    if (position < 0 || length < 1 || c.pos + length > b.length) throw new CorruptDataError('segmented split: bad segment header');
    if (b[c.pos] === Encoding.SplitSegmented) throw new CorruptDataError('segmented split: nested segments');
    if (position > lastPosition) lastPosition = position;
    lastStart = c.pos;
    c.pos += length;
  }
  if (c.pos !== b.length) throw new CorruptDataError('segmented split: trailing bytes');
  return { count, lastPosition, lastStart, lastEnd: c.pos, bodyStart };
}

/**
 * `existing` with `segment` (a single chunk whose last position is `lastPosition`) added as
 * one more segment; `tail` is segmentsTail(existing), or, for a single chunk, its count 1,
 * bodyStart 0 and its last position. The segments before are copied as they are.
 */
export function appendSegment(existing: Uint8Array, tail: SegmentsTail, lastPosition: number, segment: Uint8Array): Uint8Array {
  const count = tail.count + 1;
  if (count > MAX_SEGMENTS) throw new RangeError(`a split has at most ${MAX_SEGMENTS} segments`);
  // A single chunk becomes the first segment: its header is written here.
  const first = tail.bodyStart === 0 ? varintSize(tail.lastPosition) + varintSize(existing.length) : 0;
  const body = existing.length - tail.bodyStart;
  const size = 1 + varintSize(count) + first + body + varintSize(lastPosition) + varintSize(segment.length) + segment.length;
  const out = pooledBytes(size);
  out[0] = Encoding.SplitSegmented;
  let o = writeVarint(out, 1, count);
  if (first > 0) {
    o = writeVarint(out, o, tail.lastPosition);
    o = writeVarint(out, o, existing.length);
  }
  out.set(tail.bodyStart === 0 ? existing : existing.subarray(tail.bodyStart), o);
  o += body;
  o = writeVarint(out, o, lastPosition);
  o = writeVarint(out, o, segment.length);
  out.set(segment, o);
  return out;
}

/** A segmented blob of `segments` (one or more). */
export function writeSegments(segments: readonly Segment[]): Uint8Array {
  let size = 1 + varintSize(segments.length);
  for (const s of segments) size += varintSize(s.lastPosition) + varintSize(s.bytes.length) + s.bytes.length;
  const out = pooledBytes(size);
  out[0] = Encoding.SplitSegmented;
  let o = writeVarint(out, 1, segments.length);
  for (const s of segments) {
    o = writeVarint(out, o, s.lastPosition);
    o = writeVarint(out, o, s.bytes.length);
    out.set(s.bytes, o);
    o += s.bytes.length;
  }
  return out;
}

/**
 * Points of segments decoded in order into one ascending column pair, a later segment
 * winning at equal positions. Usually a concatenation (each segment starts after the
 * previous one's end), copied once into columns of the total size; a merge otherwise.
 */
export function mergeSegments(parts: readonly { positions: Uint32Array; values: Float64Array }[]): { positions: Uint32Array; values: Float64Array } {
  let total = 0;
  let ascending = true;
  let last = -1;
  for (const p of parts) {
    const n = p.positions.length;
    if (n === 0) continue;
    if (p.positions[0] <= last) ascending = false;
    last = p.positions[n - 1];
    total += n;
  }
  if (ascending) {
    if (parts.length === 1) return parts[0];
    const positions = new Uint32Array(total);
    const values = new Float64Array(total);
    let o = 0;
    for (const p of parts) {
      positions.set(p.positions, o);
      values.set(p.values, o);
      o += p.positions.length;
    }
    return { positions, values };
  }
  let positions: Uint32Array = new Uint32Array(0);
  let values: Float64Array = new Float64Array(0);
  for (const p of parts) {
    const n = positions.length;
    if (p.positions.length === 0) continue;
    if (n === 0 || p.positions[0] > positions[n - 1]) {
      positions = concatU32(positions, p.positions);
      values = concatF64(values, p.values);
      continue;
    }
    const size = n + p.positions.length;
    const pos = new Uint32Array(size);
    const val = new Float64Array(size);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < n || j < p.positions.length) {
      if (j >= p.positions.length || (i < n && positions[i] < p.positions[j])) {
        pos[k] = positions[i];
        val[k++] = values[i++];
      } else {
        if (i < n && positions[i] === p.positions[j]) i++;
        pos[k] = p.positions[j];
        val[k++] = p.values[j++];
      }
    }
    positions = pos.slice(0, k);
    values = val.slice(0, k);
  }
  return { positions, values };
}

function concatU32(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (a.length === 0) return b;
  const out = new Uint32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function concatF64(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length === 0) return b;
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
