// The engine's per-metric state: the bound buffer of raw measures (the newest ones, from
// which open buckets are recomputed) and, per aggregated series, the starts of the splits
// that exist. It is opaque to everyone but the engine; the caller stores it as bytes.
//
// Layout v2 (written):
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
import { CorruptDataError, decodeMeasures, encodeMeasures } from '../chunkenc/index.js';
import { pushBigVarint, readBigVarint, unzigzagBig, zigzagBig } from '../chunkenc/varint.js';
import type { Series } from '../aggregate.js';
import { EMPTY, sortUnique } from './series.js';

const STATE_VERSION_V1 = 1;
const STATE_VERSION = 2;

/** Decoded engine state: the bound buffer and the split starts that exist. */
export interface State {
  buffer: Series;
  /** `${method}_${granularityNs}` -> split starts */
  splits: Map<string, Set<bigint>>;
}

export function encodeState(state: State): Uint8Array {
  const buffer = encodeMeasures(state.buffer.ts, state.buffer.values);
  const head: number[] = [STATE_VERSION];
  pushBigVarint(head, BigInt(buffer.length));
  const tail: number[] = [];
  const series = [...state.splits].filter(([, starts]) => starts.size > 0);
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
  const result = new Uint8Array(head.length + buffer.length + tail.length);
  result.set(head, 0);
  result.set(buffer, head.length);
  result.set(tail, head.length + buffer.length);
  return result;
}

export interface DecodeStateOptions {
  /**
   * False: leave the bound buffer undecoded (empty), for readers that only need the split
   * index. Decoding a buffer of up to an hour of raw points was most of a small read.
   */
  buffer?: boolean;
}

function decodeStateV2(bytes: Uint8Array, withBuffer: boolean): State {
  const cursor = { pos: 1 };
  const varint = (): bigint => {
    const v = readBigVarint(bytes, cursor);
    if (v === null) throw new CorruptDataError('corrupt metric state');
    return v;
  };
  const bufferLength = Number(varint());
  if (cursor.pos + bufferLength > bytes.length) throw new CorruptDataError('corrupt metric state');
  const buffer = bufferLength === 0 || !withBuffer ? EMPTY : decodeMeasures(bytes.subarray(cursor.pos, cursor.pos + bufferLength));
  cursor.pos += bufferLength;
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
  return { buffer: withBuffer ? sortUnique(buffer) : EMPTY, splits };
}

/** Throws CorruptDataError when `bytes` is not a state this module wrote. */
export function decodeState(bytes: Uint8Array | null, options: DecodeStateOptions = {}): State {
  const withBuffer = options.buffer ?? true;
  const splits = new Map<string, Set<bigint>>();
  if (bytes === null || bytes.length === 0) return { buffer: EMPTY, splits };
  if (bytes[0] === STATE_VERSION) return decodeStateV2(bytes, withBuffer);
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
