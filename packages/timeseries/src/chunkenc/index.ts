// Public codec entry points for splits and raw measures. Blobs are self-describing
// (first byte = encoding id, see encoding.ts), so stored data stays readable when the
// preferred encoding changes. The encoders try every applicable value codec and keep
// the smallest blob, never larger than the uncompressed form.

import { BitReader, BitWriter } from './bitstream.js';
import { assemble, measuresEncoding, splitEncoding, newValueDecoder, parseLayout, type ChunkLayout, type ValueCodec } from './chunk.js';
import { DecimalDecoder, DecimalEncoder, decimalColumnBits, findScale } from './decimal.js';
import { encodeScaledDecimal, findScaledDecimal, scaledDecimalBytes, ScaledDecimalDecoder } from './scaled-decimal.js';
import { XorDecoder, XorEncoder, xorColumnBits } from './xor.js';
import { IeeeDecoder, ieeeLayout, writeIeeeColumn } from './ieee.js';
import { PositionDecoder, PositionEncoder, TimestampDecoder, TimestampEncoder } from './dod.js';
import { Encoding, MAX_POINTS } from './encoding.js';
import { decodeRawMeasures, decodeRawSplit, encodeRawMeasures, encodeRawSplit } from './raw.js';
import { CorruptDataError } from './errors.js';
import { pooledBytes } from './pool.js';
import { appendSegment, isSegmented, mergeSegments, readSegments, segmentsTail, MAX_SEGMENTS, type SegmentsTail } from './segmented.js';

export { Encoding, MAX_POINTS } from './encoding.js';
export { MAX_SEGMENTS } from './segmented.js';
export { CorruptDataError } from './errors.js';
export type { ValueCodec } from './chunk.js';

function checkLengths(a: { length: number }, b: { length: number }): void {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} keys, ${b.length} values`);
  if (a.length > MAX_POINTS) throw new RangeError(`a blob holds at most ${MAX_POINTS} points`);
}

/**
 * What the previous version of a split was coded with: a split is re-encoded whole on every
 * commit that touches it, usually with a few more points and the same winner, so the
 * encoder can try that codec alone instead of all four (profile: trying all costs a sixth
 * of a processing thread's time). `raw` when every codec lost to the uncompressed form,
 * which is what happens to a point or two (the open hour of a series, a commit's segment of
 * it): weighing the codecs again on as many points would lose again, and was a tenth of the
 * processing of a policy with hourly means.
 */
export interface SplitCodecHint {
  codec: ValueCodec | 'raw';
  /** Points in that version. */
  n: number;
}

/** Points of a raw blob (the u32 after its encoding byte); 0 when it is too short to say. */
function rawCount(b: Uint8Array): number {
  return b.length < 5 ? 0 : (b[1] | (b[2] << 8) | (b[3] << 16)) + b[4] * 0x1000000;
}

/** The hint for re-encoding a stored split. */
export function splitCodecHint(b: Uint8Array): SplitCodecHint | null {
  if (isSegmented(b)) {
    const segments = readSegments(b);
    return splitCodecHint(segments[segments.length - 1].bytes);
  }
  if (b.length === 0) return null;
  if (b[0] === Encoding.RawSplit) return { codec: 'raw', n: rawCount(b) };
  const l = parseLayout(b);
  return { codec: l.codec, n: l.n };
}

/** The hint for coding more measures like the stored blob `b`. */
export function measuresCodecHint(b: Uint8Array): SplitCodecHint | null {
  if (b.length === 0) return null;
  if (b[0] === Encoding.RawMeasures) return { codec: 'raw', n: rawCount(b) };
  const l = parseLayout(b);
  return { codec: l.codec, n: l.n };
}

/** True when the hint says to store `n` points uncompressed without weighing the codecs. */
function rawHinted(hint: SplitCodecHint | null | undefined, n: number): boolean {
  return hint != null && hint.codec === 'raw' && Math.clz32(hint.n) === Math.clz32(n);
}

/** The hint bestValues takes: a codec's, not the uncompressed form's. */
type ValueHint = SplitCodecHint & { codec: ValueCodec };

function valueHint(hint: SplitCodecHint | null | undefined): ValueHint | null {
  return hint == null || hint.codec === 'raw' ? null : (hint as ValueHint);
}

// Scratch writers for the columns of the chunk being coded: encoding is synchronous and
// the columns are copied into the chunk at once, so one pair serves every encode instead of
// several buffers allocated (and collected) per chunk.
const keyScratch = new BitWriter(4096);
const valueScratch = new BitWriter(4096);

/**
 * Code a value column (header excluded) with `codec`, which must apply to it. The bytes are
 * a view of valueScratch, valid until the next encode.
 */
function encodeValues(values: Float64Array, codec: ValueCodec): Uint8Array {
  if (codec.kind === 'scaled-decimal') {
    const bytes = encodeScaledDecimal(values, codec);
    if (bytes === null) throw new RangeError(`a value is not a scaled decimal at scale ${codec.scale} and divisor ${codec.divisor}`);
    return bytes;
  }
  const w = valueScratch;
  w.reset();
  if (codec.kind === 'ieee') {
    writeIeeeColumn(w, values);
  } else if (codec.kind === 'xor') {
    new XorEncoder(w).putAll(values);
  } else {
    const e = new DecimalEncoder(w, codec.scale, codec.order);
    e.putAll(values);
    e.finishInto(w);
  }
  return w.view();
}

/** Values the codecs are weighed on when a column is longer than twice this. */
const SAMPLE = 1024;

/**
 * The value column coded with a hinted codec, or null when that codec cannot code it
 * exactly (a decimal one at a scale some value needs more digits than). A decimal scale
 * coarser than the column needs still codes it exactly, only a few bits larger, so the
 * hinted scale is kept rather than searched for again on every commit.
 */
function encodeValuesWith(values: Float64Array, codec: ValueCodec): Uint8Array | null {
  if (codec.kind === 'scaled-decimal') return encodeScaledDecimal(values, codec);
  if (codec.kind !== 'decimal') return encodeValues(values, codec);
  const w = valueScratch;
  w.reset();
  const e = new DecimalEncoder(w, codec.scale, codec.order);
  if (e.tryPutAll(values) >= 0) return null;
  e.finishInto(w);
  return w.view();
}

/**
 * Code the value column with the smallest applicable codec. With a hint, the hinted codec
 * alone while it still applies (a decimal one while every value is exact at its scale,
 * which is what makes it lossless) and the split has not crossed a power of two in size
 * since, so a split is weighed about log2(points) times in its life, last at its largest
 * power of two. A long column is weighed on its last SAMPLE values and then coded once
 * with the winner (commits of thousands of points cross a power of two on nearly every
 * commit). Candidates are weighed by their exact coded size, counted without coding, and
 * only the winner is coded (ties go to the earlier candidate: xor, ieee, decimal order 1,
 * order 2; for columns no decimal scale fits, the scaled decimal at the scale and divisor that fit
 * the column's head best, kept only when it codes the whole column).
 */
function bestValues(values: Float64Array, hint: ValueHint | null): { codec: ValueCodec; bytes: Uint8Array } {
  if (hint && Math.clz32(hint.n) === Math.clz32(values.length)) {
    const bytes = encodeValuesWith(values, hint.codec);
    if (bytes !== null) return { codec: hint.codec, bytes };
  }
  const scale = findScale(values);
  const sampled = values.length > 2 * SAMPLE;
  const weighed = sampled ? values.subarray(values.length - SAMPLE) : values;
  let codec: ValueCodec = { kind: 'xor' };
  let size = (xorColumnBits(weighed) + 7) >>> 3;
  const ieeeSize = (ieeeLayout(weighed).bits + 7) >>> 3;
  if (ieeeSize < size) {
    codec = { kind: 'ieee' };
    size = ieeeSize;
  }
  if (scale >= 0) {
    const [bits1, bits2] = decimalColumnBits(weighed, scale);
    const size1 = (bits1 + 7) >>> 3;
    if (size1 < size) {
      codec = { kind: 'decimal', scale, order: 1 };
      size = size1;
    }
    const size2 = (bits2 + 7) >>> 3;
    if (size2 < size) {
      codec = { kind: 'decimal', scale, order: 2 };
      size = size2;
    }
  } else {
    const sd = findScaledDecimal(weighed);
    if (sd !== null && scaledDecimalBytes(weighed, sd) < size) {
      // Weighed on the tail: the head may hold a value it cannot code.
      const bytes = encodeScaledDecimal(values, sd);
      if (bytes !== null) return { codec: { kind: 'scaled-decimal', scale: sd.scale, divisor: sd.divisor }, bytes };
    }
  }
  return { codec, bytes: encodeValues(values, codec) };
}

/**
 * Room for the first points of a blob. The header's count is not trusted for the allocation:
 * a corrupt count must not allocate more than the input can justify, yet run-length coding
 * lets a few bytes stand for many points, so the count cannot be bounded by the size either.
 * Decoding starts with room for a whole split or eight points per input byte (one bit per
 * point is the least XOR and IEEE columns spend) and doubles it as points decode; both
 * streams are checked for overrun at each step, so a short corrupt input stops early.
 */
function initialRoom(n: number, inputBytes: number): number {
  return Math.min(n, 4096 + 8 * inputBytes);
}

type Fill<A> = (out: A, from: number, to: number) => void;

/**
 * The value column's decoder as a fill function, one loop per concrete decoder class: a
 * single loop over the ValueDecoder interface goes polymorphic once both codecs are in use
 * (measured ~25% slower decodeSplit on the benchmark datasets).
 */
function valueFill(b: Uint8Array, l: ChunkLayout): { r: { readonly overrun: boolean }; fill: Fill<Float64Array> } {
  const { r, d } = newValueDecoder(b, l);
  let fill: Fill<Float64Array>;
  if (d instanceof XorDecoder) {
    fill = (out, from, to) => {
      for (let i = from; i < to; i++) out[i] = d.next();
    };
  } else if (d instanceof IeeeDecoder) {
    fill = (out, from, to) => {
      for (let i = from; i < to; i++) out[i] = d.next();
    };
  } else if (d instanceof DecimalDecoder) {
    fill = (out, from, to) => {
      for (let i = from; i < to; i++) out[i] = d.next();
    };
  } else if (d instanceof ScaledDecimalDecoder) {
    fill = (out, from, to) => {
      for (let i = from; i < to; i++) out[i] = d.next();
    };
  } else {
    fill = (out, from, to) => {
      for (let i = from; i < to; i++) out[i] = d.next();
    };
  }
  return { r, fill };
}

/** Both columns of a compressed blob, decoded block by block (see initialRoom). */
function decodeColumns<K extends Uint32Array | BigInt64Array>(
  b: Uint8Array,
  l: ChunkLayout,
  kr: BitReader,
  makeKeys: (length: number) => K,
  fillKeys: Fill<K>,
  what: string,
): { keys: K; values: Float64Array } {
  const { r: vr, fill: fillValues } = valueFill(b, l);
  let room = initialRoom(l.n, b.length);
  let keys = makeKeys(room);
  let values = new Float64Array(room);
  let done = 0;
  for (;;) {
    fillKeys(keys, done, room);
    fillValues(values, done, room);
    if (kr.overrun || vr.overrun) throw new CorruptDataError(`corrupt ${what}: truncated`);
    done = room;
    if (done === l.n) return { keys, values };
    room = Math.min(l.n, 2 * room);
    const moreKeys = makeKeys(room);
    (moreKeys as { set(a: K): void }).set(keys);
    keys = moreKeys;
    const moreValues = new Float64Array(room);
    moreValues.set(values);
    values = moreValues;
  }
}

/**
 * A column coded last and its coded bytes, copied into buffers reused from one column to
 * the next (copies made fresh each time were a quarter of the typed arrays a fold
 * allocated). A fold codes the splits of every method of a granularity one after the
 * other: all but std have the same positions, and under one-point buckets (data as fine
 * as the granularity) mean, min, max and sum have the same values, so each such column is
 * coded once. Matched by content, bit for bit, since callers may reuse or change their
 * arrays.
 */
class LastColumn<A extends Uint32Array | Float64Array> {
  #input: A;
  #n = -1;
  #bytes = new Uint8Array(256);
  #length = 0;

  constructor(private readonly make: (n: number) => A) {
    this.#input = make(64);
  }

  /** The coded bytes of `input` when it is the column kept (a view valid until the next keep), else null. */
  get(input: A): Uint8Array | null {
    const n = input.length;
    if (n !== this.#n) return null;
    const kept = this.#input;
    for (let i = 0; i < n; i++) {
      const x = input[i];
      // Equal numbers with equal bits: -0 and 0 are told apart; NaN never matches.
      if (x !== kept[i] || (x === 0 && 1 / x !== 1 / kept[i])) return null;
    }
    return this.#bytes.subarray(0, this.#length);
  }

  keep(input: A, bytes: Uint8Array): void {
    const n = input.length;
    if (this.#input.length < n) this.#input = this.make(Math.max(n, 2 * this.#input.length));
    (this.#input as { set(a: A): void }).set(input);
    if (this.#bytes.length < bytes.length) this.#bytes = new Uint8Array(Math.max(bytes.length, 2 * this.#bytes.length));
    this.#bytes.set(bytes);
    this.#length = bytes.length;
    this.#n = n;
  }
}

/** Columns shorter than this are coded again rather than compared and copied. */
const COLUMN_CACHE_MIN = 16;
const lastPositions = new LastColumn<Uint32Array>((n) => new Uint32Array(n));
const lastValues = new LastColumn<Float64Array>((n) => new Float64Array(n));
let lastValuesCodec: ValueCodec = { kind: 'xor' };
let lastValuesHint: ValueHint | null = null;

/** The coded position column of `positions`; a view valid until the next encode. */
function positionColumn(positions: Uint32Array): Uint8Array {
  const n = positions.length;
  const known = n >= COLUMN_CACHE_MIN ? lastPositions.get(positions) : null;
  if (known !== null) return known;
  keyScratch.reset();
  const ke = new PositionEncoder(keyScratch);
  for (let i = 0; i < n; i++) ke.put(positions[i]);
  ke.finish();
  const bytes = keyScratch.view();
  if (n >= COLUMN_CACHE_MIN) lastPositions.keep(positions, bytes);
  return bytes;
}

function sameCodec(a: ValueCodec, b: ValueCodec): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'decimal' && b.kind === 'decimal') return a.scale === b.scale && a.order === b.order;
  if (a.kind === 'scaled-decimal' && b.kind === 'scaled-decimal') return a.scale === b.scale && a.divisor === b.divisor;
  return true;
}

/** Hints bestValues treats alike: none, or the same codec tried on columns of the same power of two. */
function sameHint(a: ValueHint | null, b: ValueHint | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.clz32(a.n) === Math.clz32(b.n) && sameCodec(a.codec, b.codec);
}

/** bestValues of a split's value column, from lastValues when it coded the same column under the same hint. */
function splitValues(values: Float64Array, hint: ValueHint | null): { codec: ValueCodec; bytes: Uint8Array } {
  const cache = values.length >= COLUMN_CACHE_MIN;
  if (cache && sameHint(hint, lastValuesHint)) {
    const bytes = lastValues.get(values);
    if (bytes !== null) return { codec: lastValuesCodec, bytes };
  }
  const v = bestValues(values, hint);
  if (cache) {
    lastValues.keep(values, v.bytes);
    lastValuesCodec = v.codec;
    lastValuesHint = hint;
  }
  return v;
}

/**
 * Encode one split. `positions` are point indexes within the split (integers < 2^32,
 * normally ascending; any order round-trips). Values round-trip bit for bit.
 */
export function encodeSplit(positions: Uint32Array, values: Float64Array, hint?: SplitCodecHint | null): Uint8Array {
  checkLengths(positions, values);
  const n = positions.length;
  if (rawHinted(hint, n)) return encodeRawSplit(positions, values);
  const v = splitValues(values, valueHint(hint));
  const enc = splitEncoding(v.codec);
  const out = assemble(enc, n, positionColumn(positions), v.codec, v.bytes, pooledBytes);
  return out.length <= 5 + 12 * n ? out : encodeRawSplit(positions, values);
}

export function decodeSplit(b: Uint8Array): { positions: Uint32Array; values: Float64Array } {
  if (b.byteLength === 0) throw new CorruptDataError('empty split blob');
  switch (b[0]) {
    case Encoding.SplitSegmented: {
      let total = 0;
      const parts = readSegments(b).map((s) => {
        const part = decodeSplit(s.bytes);
        total += part.positions.length;
        if (total > MAX_POINTS) throw new CorruptDataError(`corrupt segmented split: over ${MAX_POINTS} points`);
        return part;
      });
      return mergeSegments(parts);
    }
    case Encoding.RawSplit:
      return decodeRawSplit(b);
    case Encoding.SplitXor:
    case Encoding.SplitIeee:
    case Encoding.SplitDecimal:
    case Encoding.SplitScaledDecimal: {
      const l = parseLayout(b);
      const kr = new BitReader(b, l.keyStart, l.keyEnd);
      const kd = new PositionDecoder(kr);
      const fill: Fill<Uint32Array> = (out, from, to) => {
        for (let i = from; i < to; i++) out[i] = kd.next();
      };
      const { keys: positions, values } = decodeColumns(b, l, kr, (k) => new Uint32Array(k), fill, 'split blob');
      return { positions, values };
    }
    default:
      throw new CorruptDataError(`unknown split encoding 0x${b[0].toString(16)}`);
  }
}

/** Segments a split blob has: 1 for a single chunk. */
export function splitSegmentCount(b: Uint8Array): number {
  return isSegmented(b) ? readSegments(b).length : 1;
}

/**
 * The largest position of a split blob. Segmented blobs keep it in their header; a single
 * chunk's position column is decoded (its values are not).
 */
export function splitLastPosition(b: Uint8Array): number {
  if (b.byteLength === 0) throw new CorruptDataError('empty split blob');
  if (isSegmented(b)) return segmentsTail(b).lastPosition;
  if (b[0] === Encoding.RawSplit) return maxOf(decodeRawSplit(b).positions);
  const l = parseLayout(b);
  const kd = new PositionDecoder(new BitReader(b, l.keyStart, l.keyEnd));
  let last = 0;
  for (let i = 0; i < l.n; i++) {
    const p = kd.next();
    if (p > last) last = p;
  }
  return last;
}

function maxOf(a: Uint32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}

/**
 * `existing` with the points of `segment` (a split blob whose positions are ascending and
 * end at `segmentLast`) appended as one more segment; see segmented.ts.
 */
export function appendSplitSegment(existing: Uint8Array, segment: Uint8Array, segmentLast: number): Uint8Array {
  if (isSegmented(segment)) throw new RangeError('a segment must be a single chunk');
  return appendSegment(existing, tailOf(existing), segmentLast, segment);
}

/** segmentsTail of a split blob, a single chunk counting as one segment. */
function tailOf(existing: Uint8Array): SegmentsTail {
  return isSegmented(existing)
    ? segmentsTail(existing)
    : { count: 1, lastPosition: splitLastPosition(existing), lastStart: 0, lastEnd: existing.length, bodyStart: 0 };
}

/**
 * The hint for coding an `n`-point segment after `last` (a split blob; its last segment
 * counts): that segment's codec whatever the two sizes. Segments are a commit's points
 * each, often a handful, whose sizes cross powers of two from one commit to the next;
 * weighing every codec on each cost more than coding it, and the split is weighed whole
 * again when it is compacted.
 */
export function segmentHint(last: Uint8Array, n: number): SplitCodecHint | null {
  const h = splitCodecHint(last);
  // The uncompressed form wins only on the fewest points: it is kept while sizes stay alike.
  return h === null || h.codec === 'raw' ? h : { codec: h.codec, n };
}

/**
 * `existing` (a split blob) with the points at `positions` (ascending) appended as one more
 * segment, coded like its last segment when that codec still applies (see segmentHint);
 * null when they do not start at or after its last position or it has MAX_SEGMENTS
 * segments already. The blob's header is read once for all of it.
 */
export function appendSplit(existing: Uint8Array, positions: Uint32Array, values: Float64Array): Uint8Array | null {
  const n = positions.length;
  if (n === 0) return null;
  const tail = tailOf(existing);
  if (tail.count >= MAX_SEGMENTS) return null;
  if (positions[0] < tail.lastPosition) return null;
  const last = tail.lastStart === 0 && tail.lastEnd === existing.length ? existing : existing.subarray(tail.lastStart, tail.lastEnd);
  const segment = encodeSplit(positions, values, segmentHint(last, n));
  return appendSegment(existing, tail, positions[n - 1], segment);
}

/**
 * Encode raw measures: ns timestamps in any order (duplicates allowed) and their values;
 * `hint` as for encodeSplit (a blob of measures that came before these).
 */
export function encodeMeasures(ts: BigInt64Array, values: Float64Array, hint?: SplitCodecHint | null): Uint8Array {
  checkLengths(ts, values);
  const n = ts.length;
  if (rawHinted(hint, n)) return encodeRawMeasures(ts, values);
  keyScratch.reset();
  const ke = new TimestampEncoder(keyScratch);
  ke.putAll(ts);
  ke.finish();
  const v = bestValues(values, valueHint(hint));
  const enc = measuresEncoding(v.codec);
  const out = assemble(enc, n, keyScratch.view(), v.codec, v.bytes);
  return out.length <= 5 + 16 * n ? out : encodeRawMeasures(ts, values);
}

export function decodeMeasures(b: Uint8Array): { ts: BigInt64Array; values: Float64Array } {
  if (b.byteLength === 0) throw new CorruptDataError('empty measures blob');
  switch (b[0]) {
    case Encoding.RawMeasures:
      return decodeRawMeasures(b);
    case Encoding.MeasuresXor:
    case Encoding.MeasuresIeee:
    case Encoding.MeasuresDecimal:
    case Encoding.MeasuresScaledDecimal: {
      const l = parseLayout(b);
      const kr = new BitReader(b, l.keyStart, l.keyEnd);
      const kd = new TimestampDecoder(kr);
      const fill: Fill<BigInt64Array> = (out, from, to) => kd.readInto(out, from, to);
      const { keys: ts, values } = decodeColumns(b, l, kr, (k) => new BigInt64Array(k), fill, 'measures blob');
      return { ts, values };
    }
    default:
      throw new CorruptDataError(`unknown measures encoding 0x${b[0].toString(16)}`);
  }
}

/** Where the bytes of a blob go, for measuring (bench's bytes breakdown). */
export interface BlobAnatomy {
  /** Encoding ids, point counts, column lengths, value headers, segment tables. */
  header: number;
  /** The position (split) or timestamp (measures) column. */
  keys: number;
  /** The value column. */
  values: number;
  /** Value codec of each chunk: xor, ieee, raw, decimal s<scale> o<order> or scaled-decimal s<scale> /<divisor>. */
  codecs: string[];
  points: number;
}

function codecName(c: ValueCodec): string {
  if (c.kind === 'scaled-decimal') return `${c.kind} s${c.scale} /${c.divisor}`;
  return c.kind === 'decimal' ? `${c.kind} s${c.scale} o${c.order}` : c.kind;
}

/** The anatomy of a split blob (any encoding decodeSplit reads) or, with `measures`, a measures blob. */
export function blobAnatomy(b: Uint8Array, measures = false): BlobAnatomy {
  if (!measures && isSegmented(b)) {
    const out: BlobAnatomy = { header: b.length, keys: 0, values: 0, codecs: [], points: 0 };
    for (const s of readSegments(b)) {
      const a = blobAnatomy(s.bytes);
      out.header += a.header - s.bytes.length;
      out.keys += a.keys;
      out.values += a.values;
      out.codecs.push(...a.codecs);
      out.points += a.points;
    }
    return out;
  }
  if (b[0] === Encoding.RawSplit || b[0] === Encoding.RawMeasures) {
    const n = (b.length - 5) / (measures ? 16 : 12);
    const keys = n * (measures ? 8 : 4);
    return { header: b.length - keys - 8 * n, keys, values: 8 * n, codecs: ['raw'], points: n };
  }
  const l = parseLayout(b);
  return { header: l.keyStart + (l.valueStart - l.keyEnd), keys: l.keyEnd - l.keyStart, values: b.length - l.valueStart, codecs: [codecName(l.codec)], points: l.n };
}
