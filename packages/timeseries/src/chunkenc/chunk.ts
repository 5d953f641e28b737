// Chunks: a key column (split positions or ns timestamps, delta-of-delta coded) and a
// value column (XOR, IEEE fields or decimal), stored one after the other:
//
//   [u8 encoding] [varint n] [varint key bytes] [key stream] [value header] [value stream]
//
// The value header is empty for XOR and IEEE, one byte for decimal: scale | (order - 1) << 4,
// and scaled-decimal.ts's for scaled decimals.
// Columns rather than Prometheus-style interleaving so that encodeSplit can code the
// keys once and try several value codecs, and so that bulk decoding runs two tight loops.

import { BitReader } from './bitstream.js';
import { DecimalDecoder, MAX_SCALE, type DecimalOrder } from './decimal.js';
import { Encoding, MAX_POINTS } from './encoding.js';
import { readVarint, varintSize, writeVarint } from './varint.js';
import { XorDecoder } from './xor.js';
import { IeeeDecoder } from './ieee.js';
import { readScaledDecimalHeader, ScaledDecimalDecoder, scaledDecimalHeader } from './scaled-decimal.js';
import { CorruptDataError } from './errors.js';

/** How the value column is coded. */
export type ValueCodec =
  | { kind: 'xor' }
  | { kind: 'ieee' }
  | { kind: 'decimal'; scale: number; order: DecimalOrder }
  | { kind: 'scaled-decimal'; scale: number; divisor: number };

/** The split and measures encoding ids of a value codec. */
export function splitEncoding(c: ValueCodec): Encoding {
  switch (c.kind) {
    case 'xor': return Encoding.SplitXor;
    case 'ieee': return Encoding.SplitIeee;
    case 'decimal': return Encoding.SplitDecimal;
    case 'scaled-decimal': return Encoding.SplitScaledDecimal;
  }
}
export function measuresEncoding(c: ValueCodec): Encoding {
  switch (c.kind) {
    case 'xor': return Encoding.MeasuresXor;
    case 'ieee': return Encoding.MeasuresIeee;
    case 'decimal': return Encoding.MeasuresDecimal;
    case 'scaled-decimal': return Encoding.MeasuresScaledDecimal;
  }
}

export interface ValueDecoder {
  next(): number;
}

/** Assemble a chunk from its already-coded columns. */
export function assemble(encoding: Encoding, n: number, keys: Uint8Array, codec: ValueCodec, values: Uint8Array,
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size)): Uint8Array {
  const decimal = codec.kind === 'decimal';
  const scaled = codec.kind === 'scaled-decimal' ? scaledDecimalHeader(codec) : null;
  const hdr = decimal ? 1 : scaled === null ? 0 : scaled.length;
  const out = alloc(1 + varintSize(n) + varintSize(keys.length) + keys.length + hdr + values.length);
  out[0] = encoding;
  let o = writeVarint(out, 1, n);
  o = writeVarint(out, o, keys.length);
  out.set(keys, o);
  o += keys.length;
  if (decimal) out[o++] = codec.scale | ((codec.order - 1) << 4);
  if (scaled !== null) {
    out.set(scaled, o);
    o += scaled.length;
  }
  out.set(values, o);
  return out;
}

/** Parsed chunk header: where the two columns live. */
export interface ChunkLayout {
  encoding: number;
  n: number;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  codec: ValueCodec;
}

export function parseLayout(b: Uint8Array): ChunkLayout {
  if (b.length < 3) throw new CorruptDataError('chunk too short');
  const encoding = b[0];
  const c = { pos: 1 };
  const n = readVarint(b, c);
  if (n < 0) throw new CorruptDataError('corrupt chunk: bad point count');
  if (n > MAX_POINTS) throw new CorruptDataError(`corrupt chunk: ${n} points`);
  const klen = readVarint(b, c);
  if (klen < 0) throw new CorruptDataError('corrupt chunk: bad key column length');
  const keyStart = c.pos;
  const keyEnd = keyStart + klen;
  if (keyEnd > b.length) throw new CorruptDataError('corrupt chunk: key column past end');
  let valueStart = keyEnd;
  let codec: ValueCodec;
  if (encoding === Encoding.SplitDecimal || encoding === Encoding.MeasuresDecimal) {
    if (valueStart >= b.length) throw new CorruptDataError('corrupt chunk: missing decimal header');
    const h = b[valueStart++];
    const order = (h >>> 4) + 1;
    if (order !== 1 && order !== 2) throw new CorruptDataError('corrupt chunk: bad decimal order');
    if ((h & 15) > MAX_SCALE) throw new CorruptDataError('corrupt chunk: bad decimal scale');
    codec = { kind: 'decimal', scale: h & 15, order };
  } else if (encoding === Encoding.SplitScaledDecimal || encoding === Encoding.MeasuresScaledDecimal) {
    const h = readScaledDecimalHeader(b, valueStart);
    valueStart = h.start;
    codec = { kind: 'scaled-decimal', scale: h.scale, divisor: h.divisor };
  } else if (encoding === Encoding.SplitXor || encoding === Encoding.MeasuresXor) {
    codec = { kind: 'xor' };
  } else if (encoding === Encoding.SplitIeee || encoding === Encoding.MeasuresIeee) {
    codec = { kind: 'ieee' };
  } else {
    throw new CorruptDataError(`not a compressed chunk: encoding 0x${encoding.toString(16)}`);
  }
  return { encoding, n, keyStart, keyEnd, valueStart, codec };
}

/** The value column's decoder, and what tells whether it read past the column. */
export function newValueDecoder(b: Uint8Array, l: ChunkLayout): { r: { readonly overrun: boolean }; d: ValueDecoder } {
  const c = l.codec;
  if (c.kind === 'scaled-decimal') {
    const d = new ScaledDecimalDecoder(b, l.valueStart, c);
    return { r: d, d };
  }
  const r = new BitReader(b, l.valueStart, b.length);
  if (c.kind === 'xor') return { r, d: new XorDecoder(r) };
  if (c.kind === 'ieee') return { r, d: new IeeeDecoder(r) };
  return { r, d: new DecimalDecoder(r, c.scale, c.order) };
}
