// The engine's per-metric state: the bound buffer of raw measures (the newest ones, from
// which open buckets are recomputed) and, per aggregated series, the starts of the splits
// that exist. It is opaque to everyone but the engine; the caller stores it as bytes.
//
// Layout v3 (written):
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

const STATE_VERSION_V1 = 1;
const STATE_VERSION_V2 = 2;
const STATE_VERSION = 3;

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
  /** The split index as coded, while `splits` is unchanged (whoever changes it drops this). */
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

function encodeIndex(splits: Map<string, Set<bigint>>): Uint8Array {
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
  const head: number[] = [STATE_VERSION];
  pushBigVarint(head, BigInt(chunks.length));
  let bufferBytes = 0;
  for (const c of chunks) bufferBytes += varintSize(c.bytes.length) + c.bytes.length;
  const tail = state.index ?? (state.index = encodeIndex(state.splits));
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

/** v2 and v3, which differ only in how the buffer is coded. */
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
  const splits = new Map<string, Set<bigint>>();
  const decoder = new TextDecoder();
  for (let n = Number(varint()); n > 0; n--) {
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
  if (bytes[0] === STATE_VERSION || bytes[0] === STATE_VERSION_V2) return decodeStateV2(bytes, withBuffer);
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
