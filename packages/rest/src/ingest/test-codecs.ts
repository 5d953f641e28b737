// Encoders of what the ingest routes decode: a snappy block compressor (greedy, emits
// every element kind) and a protobuf writer for remote write requests. The server never
// encodes; the tests and the bench (as `@tally/rest/encoders`) build request bodies with them.
import { MAX_VARINT_BYTES, writeVarint } from '@tally/timeseries';

const scratch = new Uint8Array(MAX_VARINT_BYTES);

function varint(out: number[], v: number): void {
  const n = writeVarint(scratch, 0, v);
  for (let i = 0; i < n; i++) out.push(scratch[i]);
}

function literal(out: number[], src: Uint8Array, start: number, end: number): void {
  const n = end - start - 1;
  if (n < 60) out.push(n << 2);
  else if (n < 0x100) out.push(60 << 2, n);
  else if (n < 0x10000) out.push(61 << 2, n & 0xff, n >>> 8);
  else if (n < 0x1000000) out.push(62 << 2, n & 0xff, (n >>> 8) & 0xff, n >>> 16);
  else out.push(63 << 2, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
  for (let i = start; i < end; i++) out.push(src[i]);
}

function copy(out: number[], offset: number, len: number, force4 = false): void {
  if (!force4 && len >= 4 && len <= 11 && offset < 2048) {
    out.push(1 | ((len - 4) << 2) | ((offset >>> 8) << 5), offset & 0xff);
  } else if (!force4 && offset < 65536) {
    out.push(2 | ((len - 1) << 2), offset & 0xff, offset >>> 8);
  } else {
    out.push(3 | ((len - 1) << 2), offset & 0xff, (offset >>> 8) & 0xff, (offset >>> 16) & 0xff, offset >>> 24);
  }
}

/** Snappy block compression; `force4` uses 4-byte offsets for every copy. */
export function snappyCompress(src: Uint8Array, opts: { force4?: boolean } = {}): Buffer {
  const out: number[] = [];
  varint(out, src.length);
  const table = new Map<number, number>();
  let lit = 0;
  let i = 0;
  while (i + 4 <= src.length) {
    const key = src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24);
    const cand = table.get(key);
    table.set(key, i);
    if (cand !== undefined && i - cand < 0x7fffffff) {
      let len = 4;
      while (i + len < src.length && len < 64 && src[cand + len] === src[i + len]) len++;
      if (lit < i) literal(out, src, lit, i);
      copy(out, i - cand, len, opts.force4);
      i += len;
      lit = i;
    } else {
      i++;
    }
  }
  if (lit < src.length) literal(out, src, lit, src.length);
  return Buffer.from(out);
}

/** Minimal protobuf writer. */
export class Pb {
  private readonly out: number[] = [];
  private tag(field: number, wire: number): this {
    varint(this.out, field * 8 + wire);
    return this;
  }
  varint(field: number, v: number): this {
    this.tag(field, 0);
    varint(this.out, v);
    return this;
  }
  /** int64 as protobuf encodes a negative value: ten bytes, two's complement. */
  negativeInt64(field: number, v: bigint): this {
    this.tag(field, 0);
    let u = BigInt.asUintN(64, v);
    for (let i = 0; i < 10; i++) {
      const b = Number(u & 0x7fn);
      u >>= 7n;
      this.out.push(i < 9 ? b | 0x80 : b);
    }
    return this;
  }
  double(field: number, v: number): this {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.out.push(...b);
    return this;
  }
  fixed32(field: number, v: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.out.push(...b);
    return this;
  }
  bytes(field: number, v: Uint8Array | string | Pb): this {
    const data = v instanceof Pb ? v.finish() : typeof v === 'string' ? Buffer.from(v) : v;
    this.tag(field, 2);
    varint(this.out, data.length);
    this.out.push(...data);
    return this;
  }
  finish(): Buffer {
    return Buffer.from(this.out);
  }
}

export interface TestSeries {
  labels: Record<string, string>;
  samples: [number, number][]; // [timestamp ms, value]
}

/** A remote write WriteRequest (uncompressed). */
export function writeRequest(series: TestSeries[], extra?: (pb: Pb) => void): Buffer {
  const req = new Pb();
  for (const s of series) {
    const ts = new Pb();
    for (const [k, v] of Object.entries(s.labels)) ts.bytes(1, new Pb().bytes(1, k).bytes(2, v));
    for (const [t, v] of s.samples) ts.bytes(2, new Pb().double(1, v).varint(2, t));
    req.bytes(1, ts);
  }
  extra?.(req);
  return req.finish();
}
