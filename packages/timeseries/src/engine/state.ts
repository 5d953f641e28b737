// The engine's per-metric state: the bound buffer of raw measures (the newest ones, from
// which open buckets are recomputed) and, per aggregated series, the starts of the splits
// that exist. It is opaque to everyone but the engine; the caller stores it as bytes.
//
// Layout v4 (written):
//   u8      version = 4
//   the buffer, as in v3
//   the split index:
//     varint  method count, then per method: varint byte length + UTF-8 name
//     varint  series count, then per series (series key `${method}_${granularityNs}`):
//       varint  method index
//       varint  e, varint m: the granularity in ns is m x 10^e (m not a multiple of 10)
//       varint  kind: 0 = starts in units of granularity x SPLIT_POINTS follow, 1 = starts
//               in ns follow, k >= 2 = the same starts as the series k - 1 before this one
//       for kinds 0 and 1: varint start count, then the starts ascending, as zigzag varint
//               deltas (the first from 0)
// The v2 index spelled every series key out and each start in ns (9 bytes from 0): about
// 335 bytes for the 12 series of a metric under a 6-method, 2-granularity policy, whose
// series of a granularity share their starts; v4 85. A state whose series keys are
// not of that form (never written by the engine) is written as v3.
//
// Layout v3 (still read, written only for series keys v4 cannot hold):
//   u8      version = 3
//   varint  chunk count, then per chunk:
//     varint  byte length, then chunkenc's encodeMeasures(ts, values) of consecutive
//             buffer points (timestamps strictly increasing, all after the previous
//             chunk's); the buffer is the chunks' points in order
//   then the split index, as in v2
// The buffer is in chunks so that a fold appending points to it codes only those points
// (plus, now and then, a merge of small chunks; see nextChunks), not the whole buffer: under
// a policy with 1 h buckets it holds up to an hour of raw points.
//
// Layout v2 (still read, never written):
//   u8      version = 2
//   varint  buffer byte length, then the buffer: chunkenc's encodeMeasures(ts, values)
//   varint  series count, then per series:
//     varint  byte length, then the UTF-8 series key `${method}_${granularityNs}` (splits.ts)
//     varint  start count, then the split starts ascending, as zigzag varint deltas (the
//             first from 0)
// A varint is unsigned LEB128: 7 bits per byte, least significant group first, the high
// bit set on every byte but the last. Series without splits are not written.
//
// Layout v1 (still read, never written), integers little-endian:
//   u8 version = 1 | u32 buffer byte length | buffer (encodeMeasures) |
//   u32 key count | per key: u16 byte length + UTF-8 split key `${method}_${granularityNs}_${startNs}`
//
// No bytes (or null) is the empty state. Decoding sorts the buffer and keeps one value per
// timestamp (sortUnique). An unknown version or a truncated state is a CorruptDataError.
import { CorruptDataError, decodeMeasures, encodeMeasures, measuresCodecHint, MAX_POINTS } from '../chunkenc/index.js';
import { pushBigVarint, readBigVarint, unzigzagBig, varintSize, writeVarint, zigzagBig } from '../chunkenc/varint.js';
import type { Series } from '../aggregate.js';
import { concat, EMPTY, sortUnique } from './series.js';
import { SPLIT_POINTS } from './splits.js';

const STATE_VERSION_V1 = 1;
const STATE_VERSION_V2 = 2;
const STATE_VERSION_V3 = 3;
const STATE_VERSION = 4;

/** Decoded engine state: the bound buffer and the split starts that exist. */
export interface State {
  buffer: Series;
  /** `${method}_${granularityNs}` -> split starts */
  splits: Map<string, Set<bigint>>;
  /**
   * The buffer as coded: consecutive chunks whose point counts add up to its length.
   * Absent or inconsistent, encodeState codes the buffer as one chunk.
   */
  chunks?: BufferChunk[];
  /**
   * The split index as coded (with the version byte it needs first), while `splits` is
   * unchanged (whoever changes it drops this).
   */
  index?: Uint8Array;
}

/** A coded run of consecutive buffer points. */
export interface BufferChunk {
  n: number;
  bytes: Uint8Array;
}

/** Chunks a state may have; past it, nextChunks codes the whole buffer as one. */
export const MAX_CHUNKS = 16;
/** Chunks kept before neighbours of equal or growing size are merged (see nextChunks). */
const LAZY_CHUNKS = 8;

/** Buffer points from..to as a chunk, coded like `like` when its codec still applies (see encodeSplit's hint). */
function chunkOf(buffer: Series, from: number, to: number, like?: BufferChunk): BufferChunk {
  const hint = like === undefined ? null : measuresCodecHint(like.bytes);
  return { n: to - from, bytes: encodeMeasures(buffer.ts.subarray(from, to), buffer.values.subarray(from, to), hint) };
}

/**
 * The chunks of `buffer`, which is the points of `previous` chunks (`previousLength`
 * points) followed by the points appended since, less its first `dropped` points. Chunks
 * wholly kept are reused as they are, the one the cut goes through is coded again from
 * its kept points, and the appended points become one more chunk. Past LAZY_CHUNKS, the
 * newest chunk is merged with the one before while that one is no larger (a binary
 * counter: batches of equal size are each coded O(log) times, and chunks stay few);
 * past MAX_CHUNKS the buffer becomes one chunk.
 */
export function nextChunks(previous: readonly BufferChunk[], previousLength: number, buffer: Series, dropped: number): BufferChunk[] {
  const out: BufferChunk[] = [];
  let at = -dropped; // the chunk's first index in `buffer`
  for (const c of previous) {
    const end = at + c.n;
    if (end > 0) out.push(at >= 0 ? c : chunkOf(buffer, 0, end));
    at = end;
  }
  const total = buffer.ts.length;
  const appendedFrom = Math.max(0, previousLength - dropped);
  if (appendedFrom < total) out.push(chunkOf(buffer, appendedFrom, total, out[out.length - 1]));
  if (out.length > MAX_CHUNKS) return total === 0 ? [] : [chunkOf(buffer, 0, total)];
  while (out.length > LAZY_CHUNKS && out[out.length - 2].n <= out[out.length - 1].n) {
    const merged = (out.pop() as BufferChunk).n + (out.pop() as BufferChunk).n;
    out.push(chunkOf(buffer, total - merged, total));
  }
  return out;
}

function chunksMatch(chunks: readonly BufferChunk[] | undefined, length: number): chunks is BufferChunk[] {
  if (chunks === undefined) return false;
  let n = 0;
  for (const c of chunks) n += c.n;
  return n === length;
}

const SERIES_KEY = /^(.*)_([1-9][0-9]*)$/;
const KIND_UNITS = 0;
const KIND_NANOS = 1;

function sortedStarts(starts: Set<bigint>): bigint[] {
  return [...starts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

function sameStarts(a: readonly bigint[], b: readonly bigint[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The v4 index, preceded by its version byte; null when a series key is not `${method}_${granularityNs}`. */
function encodeIndexV4(splits: Map<string, Set<bigint>>): Uint8Array | null {
  const series = [...splits].filter(([, starts]) => starts.size > 0);
  const methods = new Map<string, number>();
  const parsed: { method: number; granularity: bigint; starts: bigint[] }[] = [];
  for (const [key, starts] of series) {
    const m = SERIES_KEY.exec(key);
    if (m === null) return null;
    let method = methods.get(m[1]);
    if (method === undefined) methods.set(m[1], (method = methods.size));
    parsed.push({ method, granularity: BigInt(m[2]), starts: sortedStarts(starts) });
  }
  const out: number[] = [STATE_VERSION];
  const encoder = new TextEncoder();
  pushBigVarint(out, BigInt(methods.size));
  for (const name of methods.keys()) {
    const bytes = encoder.encode(name);
    pushBigVarint(out, BigInt(bytes.length));
    for (const byte of bytes) out.push(byte);
  }
  pushBigVarint(out, BigInt(parsed.length));
  parsed.forEach((p, i) => {
    pushBigVarint(out, BigInt(p.method));
    let mantissa = p.granularity;
    let e = 0n;
    while (mantissa % 10n === 0n) {
      mantissa /= 10n;
      e++;
    }
    pushBigVarint(out, e);
    pushBigVarint(out, mantissa);
    for (let back = 1; back <= i; back++) {
      if (sameStarts(parsed[i - back].starts, p.starts)) {
        pushBigVarint(out, BigInt(back + 1));
        return;
      }
    }
    const unit = p.granularity * BigInt(SPLIT_POINTS);
    const aligned = p.starts.every((t) => t % unit === 0n);
    pushBigVarint(out, BigInt(aligned ? KIND_UNITS : KIND_NANOS));
    pushBigVarint(out, BigInt(p.starts.length));
    let previous = 0n;
    for (const start of p.starts) {
      const v = aligned ? start / unit : start;
      pushBigVarint(out, zigzagBig(v - previous));
      previous = v;
    }
  });
  return Uint8Array.from(out);
}

/** The index to write, preceded by its version byte: v4, or v3's (v2's index) when v4 cannot hold it. */
function encodeIndex(splits: Map<string, Set<bigint>>): Uint8Array {
  return encodeIndexV4(splits) ?? Uint8Array.from([STATE_VERSION_V3, ...encodeIndexV2(splits)]);
}

function encodeIndexV2(splits: Map<string, Set<bigint>>): Uint8Array {
  const tail: number[] = [];
  const series = [...splits].filter(([, starts]) => starts.size > 0);
  pushBigVarint(tail, BigInt(series.length));
  const encoder = new TextEncoder();
  for (const [prefix, starts] of series) {
    const name = encoder.encode(prefix);
    pushBigVarint(tail, BigInt(name.length));
    for (const byte of name) tail.push(byte);
    pushBigVarint(tail, BigInt(starts.size));
    let previous = 0n;
    for (const start of [...starts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
      const d = start - previous;
      pushBigVarint(tail, zigzagBig(d));
      previous = start;
    }
  }
  return Uint8Array.from(tail);
}

export function encodeState(state: State): Uint8Array {
  const n = state.buffer.ts.length;
  const chunks = chunksMatch(state.chunks, n) ? state.chunks : n === 0 ? [] : [chunkOf(state.buffer, 0, n)];
  state.chunks = chunks;
  const index = state.index ?? (state.index = encodeIndex(state.splits));
  const head: number[] = [index[0]];
  pushBigVarint(head, BigInt(chunks.length));
  let bufferBytes = 0;
  for (const c of chunks) bufferBytes += varintSize(c.bytes.length) + c.bytes.length;
  const tail = index.subarray(1);
  const result = new Uint8Array(head.length + bufferBytes + tail.length);
  result.set(head, 0);
  let o = head.length;
  for (const c of chunks) {
    o = writeVarint(result, o, c.bytes.length);
    result.set(c.bytes, o);
    o += c.bytes.length;
  }
  result.set(tail, o);
  return result;
}

export interface DecodeStateOptions {
  /**
   * False: leave the bound buffer undecoded (empty), for readers that only need the split
   * index. Decoding a buffer of up to an hour of raw points was most of a small read.
   */
  buffer?: boolean;
}

function decodeIndexV4(bytes: Uint8Array, cursor: { pos: number }, varint: () => bigint): Map<string, Set<bigint>> {
  const corrupt = () => new CorruptDataError('corrupt metric state: bad split index');
  const decoder = new TextDecoder();
  const methods: string[] = [];
  for (let n = Number(varint()); n > 0; n--) {
    const length = Number(varint());
    if (cursor.pos + length > bytes.length) throw corrupt();
    methods.push(decoder.decode(bytes.subarray(cursor.pos, cursor.pos + length)));
    cursor.pos += length;
  }
  const splits = new Map<string, Set<bigint>>();
  const order: Set<bigint>[] = [];
  for (let n = Number(varint()); n > 0; n--) {
    const method = methods[Number(varint())];
    const e = varint();
    const mantissa = varint();
    if (method === undefined || e > 18n || mantissa === 0n) throw corrupt();
    const granularity = mantissa * 10n ** e;
    const kind = Number(varint());
    let set: Set<bigint>;
    if (kind >= 2) {
      const same = order[order.length - (kind - 1)];
      if (same === undefined) throw corrupt();
      set = new Set(same);
    } else {
      const unit = kind === KIND_UNITS ? granularity * BigInt(SPLIT_POINTS) : 1n;
      set = new Set();
      let previous = 0n;
      for (let m = Number(varint()); m > 0; m--) {
        if (cursor.pos >= bytes.length) throw corrupt();
        previous += unzigzagBig(varint());
        set.add(previous * unit);
      }
    }
    order.push(set);
    splits.set(`${method}_${granularity}`, set);
  }
  return splits;
}

/** v2, v3 and v4: v3 and v4 code the buffer in chunks, v4 has the compact index. */
function decodeStateV2(bytes: Uint8Array, withBuffer: boolean): State {
  const cursor = { pos: 1 };
  const varint = (): bigint => {
    const v = readBigVarint(bytes, cursor);
    if (v === null) throw new CorruptDataError('corrupt metric state');
    return v;
  };
  const coded = (): Uint8Array => {
    const length = Number(varint());
    if (cursor.pos + length > bytes.length) throw new CorruptDataError('corrupt metric state');
    cursor.pos += length;
    return bytes.subarray(cursor.pos - length, cursor.pos);
  };
  let buffer = EMPTY;
  let chunks: BufferChunk[] | undefined;
  if (bytes[0] === STATE_VERSION_V2) {
    const b = coded();
    if (b.length > 0 && withBuffer) buffer = decodeMeasures(b);
  } else {
    const count = Number(varint());
    if (count > MAX_CHUNKS) throw new CorruptDataError('corrupt metric state: too many buffer chunks');
    const parts: Series[] = [];
    chunks = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const b = coded();
      if (!withBuffer) continue;
      const part = decodeMeasures(b);
      total += part.ts.length;
      if (total > MAX_POINTS) throw new CorruptDataError('corrupt metric state: buffer too long');
      parts.push(part);
      chunks.push({ n: part.ts.length, bytes: b });
    }
    buffer = concat(parts);
  }
  const splits = bytes[0] === STATE_VERSION ? decodeIndexV4(bytes, cursor, varint) : new Map<string, Set<bigint>>();
  const decoder = new TextDecoder();
  for (let n = bytes[0] === STATE_VERSION ? 0 : Number(varint()); n > 0; n--) {
    const length = Number(varint());
    if (cursor.pos + length > bytes.length) throw new CorruptDataError('corrupt metric state');
    const prefix = decoder.decode(bytes.subarray(cursor.pos, cursor.pos + length));
    cursor.pos += length;
    const set = new Set<bigint>();
    let previous = 0n;
    for (let m = Number(varint()); m > 0; m--) {
      const z = varint();
      previous += unzigzagBig(z);
      set.add(previous);
    }
    splits.set(prefix, set);
  }
  if (!withBuffer) return { buffer: EMPTY, splits };
  const sorted = sortUnique(buffer);
  // Chunks out of order (not written by this module) describe the buffer before sorting.
  return sorted === buffer && chunks !== undefined ? { buffer, splits, chunks } : { buffer: sorted, splits };
}

/** Throws CorruptDataError when `bytes` is not a state this module wrote. */
export function decodeState(bytes: Uint8Array | null, options: DecodeStateOptions = {}): State {
  const withBuffer = options.buffer ?? true;
  const splits = new Map<string, Set<bigint>>();
  if (bytes === null || bytes.length === 0) return { buffer: EMPTY, splits };
  if (bytes[0] === STATE_VERSION || bytes[0] === STATE_VERSION_V3 || bytes[0] === STATE_VERSION_V2) return decodeStateV2(bytes, withBuffer);
  if (bytes[0] !== STATE_VERSION_V1) throw new CorruptDataError(`unknown metric state version ${bytes[0]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number): void => {
    if (at + n > bytes.length) throw new CorruptDataError('corrupt metric state: truncated');
  };
  need(1, 4);
  const bufferLength = view.getUint32(1, true);
  need(5, bufferLength);
  const buffer = bufferLength === 0 || !withBuffer ? EMPTY : decodeMeasures(bytes.subarray(5, 5 + bufferLength));
  let at = 5 + bufferLength;
  need(at, 4);
  const count = view.getUint32(at, true);
  at += 4;
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    need(at, 2);
    const length = view.getUint16(at, true);
    need(at + 2, length);
    const key = decoder.decode(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
    const cut = key.lastIndexOf('_');
    const start = key.slice(cut + 1);
    if (cut < 0 || !/^-?\d+$/.test(start)) throw new CorruptDataError('corrupt metric state: bad split key');
    const prefix = key.slice(0, cut);
    let set = splits.get(prefix);
    if (set === undefined) splits.set(prefix, (set = new Set()));
    set.add(BigInt(start));
  }
  return { buffer: withBuffer ? sortUnique(buffer) : EMPTY, splits };
}
