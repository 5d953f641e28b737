// Uncompressed reference encodings. They are the fallback of last resort and the
// baseline the compressed codecs are measured against. Layout (little endian):
//   split:    [id=RAW_SPLIT]    [u32 n] [n × u32 position] [n × f64 value]
//   measures: [id=RAW_MEASURES] [u32 n] [n × i64 ns]       [n × f64 value]
// DataView is used for every access so the blob needs no particular alignment
// (blobs arrive as slices of larger buffers from storage).

import { Encoding, MAX_POINTS } from './encoding.js';
import { CorruptDataError } from './errors.js';

export function encodeRawSplit(positions: Uint32Array, values: Float64Array): Uint8Array {
  const n = positions.length;
  const out = new Uint8Array(5 + n * 12);
  const dv = new DataView(out.buffer);
  out[0] = Encoding.RawSplit;
  dv.setUint32(1, n, true);
  let o = 5;
  for (let i = 0; i < n; i++, o += 4) dv.setUint32(o, positions[i], true);
  for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, values[i], true);
  return out;
}

export function decodeRawSplit(b: Uint8Array): { positions: Uint32Array; values: Float64Array } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.byteLength < 5 || b[0] !== Encoding.RawSplit) throw new CorruptDataError('not a raw split');
  const n = dv.getUint32(1, true);
  if (n > MAX_POINTS || b.byteLength !== 5 + n * 12) throw new CorruptDataError('raw split: bad length');
  const positions = new Uint32Array(n);
  const values = new Float64Array(n);
  let o = 5;
  for (let i = 0; i < n; i++, o += 4) positions[i] = dv.getUint32(o, true);
  for (let i = 0; i < n; i++, o += 8) values[i] = dv.getFloat64(o, true);
  return { positions, values };
}

export function encodeRawMeasures(ts: BigInt64Array, values: Float64Array): Uint8Array {
  const n = ts.length;
  const out = new Uint8Array(5 + n * 16);
  const dv = new DataView(out.buffer);
  out[0] = Encoding.RawMeasures;
  dv.setUint32(1, n, true);
  let o = 5;
  for (let i = 0; i < n; i++, o += 8) dv.setBigInt64(o, ts[i], true);
  for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, values[i], true);
  return out;
}

export function decodeRawMeasures(b: Uint8Array): { ts: BigInt64Array; values: Float64Array } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.byteLength < 5 || b[0] !== Encoding.RawMeasures) throw new CorruptDataError('not raw measures');
  const n = dv.getUint32(1, true);
  if (n > MAX_POINTS || b.byteLength !== 5 + n * 16) throw new CorruptDataError('raw measures: bad length');
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let o = 5;
  for (let i = 0; i < n; i++, o += 8) ts[i] = dv.getBigInt64(o, true);
  for (let i = 0; i < n; i++, o += 8) values[i] = dv.getFloat64(o, true);
  return { ts, values };
}
