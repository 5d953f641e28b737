// Prometheus remote write: a protobuf WriteRequest (field 1: TimeSeries; other fields, such
// as metadata, are skipped), each TimeSeries holding labels (field 1: LabelPair{name = 1,
// value = 2}) and samples (field 2: Sample{double value = 1, int64 timestamp_ms = 2});
// exemplars and native histograms are skipped. Decoded by hand in two passes per series
// (count, then fill typed arrays): one object per series, none per sample. Only the labels
// Tally maps (__name__, job, instance) are turned into strings.
import { readVarint, VARINT_TOO_LARGE, VARINT_TRUNCATED, type Measures } from '@tally/timeseries';
import { Column, U64 } from './columns.js';

export class RemoteWriteError extends Error {}

export interface RemoteSeries {
  /** The __name__ label, null when absent. */
  name: string | null;
  job: string | null;
  instance: string | null;
  /** Finite samples, timestamps in ns; NaN and infinite values (staleness markers) are left out. */
  measures: Measures;
  /** Samples left out because their value is not finite. */
  skipped: number;
}

function fail(reason: string): never {
  throw new RemoteWriteError(reason);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NAME = Buffer.from('__name__');
const JOB = Buffer.from('job');
const INSTANCE = Buffer.from('instance');

/** Reads protobuf wire format out of one buffer; positions are explicit, nothing allocated. */
class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A varint as a number: exact below 2^53; VARINT_TOO_LARGE (negative) for 2^53 or more (negative int64s included). */
  varint(end: number): number {
    const v = readVarint(this.buf, this, end);
    if (v >= 0 || v === VARINT_TOO_LARGE) return v;
    return fail(v === VARINT_TRUNCATED ? 'truncated varint' : 'varint too long');
  }

  /** The end of a length-delimited field starting at pos. */
  lengthEnd(end: number): number {
    const len = this.varint(end);
    if (len < 0 || len > end - this.pos) fail('length-delimited field runs past its message');
    return this.pos + len;
  }

  double(end: number): number {
    if (this.pos + 8 > end) fail('truncated double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  skip(wireType: number, end: number): void {
    switch (wireType) {
      case 0:
        this.varint(end);
        return;
      case 1:
        if (this.pos + 8 > end) fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.lengthEnd(end);
        return;
      case 5:
        if (this.pos + 4 > end) fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        fail(`unsupported wire type ${wireType}`);
    }
  }

  /** Field number and wire type of the next key. */
  key(end: number): number {
    const k = this.varint(end);
    if (k < 8) fail('invalid field key');
    return k;
  }

  bytesEqual(start: number, end: number, expected: Uint8Array): boolean {
    if (end - start !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (this.buf[start + i] !== expected[i]) return false;
    return true;
  }

  string(start: number, end: number): string {
    try {
      return utf8.decode(this.buf.subarray(start, end));
    } catch {
      return fail('label value is not valid UTF-8');
    }
  }
}

const t = new U64();

function decodeLabel(r: Reader, end: number, out: { name: string | null; job: string | null; instance: string | null }): void {
  let which = 0; // 1: __name__, 2: job, 3: instance
  let valueStart = -1;
  let valueEnd = -1;
  while (r.pos < end) {
    const k = r.key(end);
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if ((field === 1 || field === 2) && wire === 2) {
      const e = r.lengthEnd(end);
      if (field === 1) {
        which = r.bytesEqual(r.pos, e, NAME) ? 1 : r.bytesEqual(r.pos, e, JOB) ? 2 : r.bytesEqual(r.pos, e, INSTANCE) ? 3 : 0;
      } else {
        valueStart = r.pos;
        valueEnd = e;
      }
      r.pos = e;
    } else {
      r.skip(wire, end);
    }
  }
  if (which === 0) return;
  const value = valueStart < 0 ? '' : r.string(valueStart, valueEnd);
  if (which === 1) out.name = value;
  else if (which === 2) out.job = value;
  else out.instance = value;
}

/** Appends one Sample; returns false when its value is not finite (skipped). */
function decodeSample(r: Reader, end: number, col: Column): boolean {
  let value = 0;
  let ms = 0;
  while (r.pos < end) {
    const k = r.key(end);
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (field === 1 && wire === 1) value = r.double(end);
    else if (field === 2 && wire === 0) {
      ms = r.varint(end);
      if (ms < 0) fail('sample timestamp out of range (before 1970 or too large)');
    } else r.skip(wire, end);
  }
  if (!Number.isFinite(value)) return false;
  // ms -> ns in 64 bits: ms * 1000 * 1000.
  if (!t.set(ms).scale([1000, 1000])) fail('sample timestamp out of range');
  col.push(t, value);
  return true;
}

function decodeTimeSeries(r: Reader, end: number): RemoteSeries {
  const labels = { name: null as string | null, job: null as string | null, instance: null as string | null };
  const start = r.pos;
  // Pass 1: labels, and the number of samples.
  let samples = 0;
  while (r.pos < end) {
    const k = r.key(end);
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (field === 1 && wire === 2) {
      const e = r.lengthEnd(end);
      decodeLabel(r, e, labels);
      r.pos = e;
    } else if (field === 2 && wire === 2) {
      r.pos = r.lengthEnd(end);
      samples++;
    } else {
      r.skip(wire, end);
    }
  }
  // Pass 2: samples into typed arrays.
  const col = new Column(Math.max(samples, 1));
  let skipped = 0;
  r.pos = start;
  while (r.pos < end) {
    const k = r.key(end);
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (field === 2 && wire === 2) {
      const e = r.lengthEnd(end);
      if (!decodeSample(r, e, col)) skipped++;
      r.pos = e;
    } else {
      r.skip(wire, end);
    }
  }
  return { ...labels, measures: col.measures(), skipped };
}

/** Decodes a (decompressed) WriteRequest; throws RemoteWriteError on malformed input. */
export function decodeWriteRequest(buf: Uint8Array): RemoteSeries[] {
  const r = new Reader(buf);
  const end = buf.length;
  const out: RemoteSeries[] = [];
  while (r.pos < end) {
    const k = r.key(end);
    const field = Math.floor(k / 8);
    const wire = k & 7;
    if (field === 1 && wire === 2) {
      const e = r.lengthEnd(end);
      out.push(decodeTimeSeries(r, e));
      r.pos = e;
    } else {
      r.skip(wire, end);
    }
  }
  return out;
}
