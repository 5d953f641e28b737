// Growable columnar measures for the ingest codecs, and a small unsigned 64-bit
// accumulator kept as two 32-bit halves: timestamps are built digit by digit (or scaled from
// milliseconds) and written straight into a BigInt64Array without one bigint per point.
import { endianness } from 'node:os';
import type { Measures } from '@tally/timeseries';

const TWO32 = 4294967296;
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * An unsigned 64-bit integer as (hi, lo) 32-bit halves, limited to what fits a signed int64
 * (hi < 2^31). Mutable and reused: parsing a request allocates one.
 */
export class U64 {
  hi = 0;
  lo = 0;

  set(value: number): this {
    // Exact for 0 <= value < 2^53.
    this.hi = Math.floor(value / TWO32);
    this.lo = value - this.hi * TWO32;
    return this;
  }

  /** this = this * m + add, for 0 <= m, add < 2^20; false when the result leaves int64. */
  mulAdd(m: number, add: number): boolean {
    const low = this.lo * m + add;
    const carry = Math.floor(low / TWO32);
    this.lo = low - carry * TWO32;
    this.hi = this.hi * m + carry;
    return this.hi < 0x80000000;
  }

  /** Multiplies by each factor in turn (each < 2^20); false on overflow. */
  scale(factors: readonly number[]): boolean {
    for (let i = 0; i < factors.length; i++) if (!this.mulAdd(factors[i], 0)) return false;
    return true;
  }

  toBigInt(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }
}

/** One metric's measures as they are parsed: typed arrays that double when full. */
export class Column {
  ts: BigInt64Array;
  values: Float64Array;
  private words: Uint32Array;
  n = 0;

  constructor(capacity = 8) {
    this.ts = new BigInt64Array(capacity);
    this.values = new Float64Array(capacity);
    this.words = new Uint32Array(this.ts.buffer);
  }

  private grow(): void {
    const ts = new BigInt64Array(this.ts.length * 2);
    ts.set(this.ts);
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.ts = ts;
    this.values = values;
    this.words = new Uint32Array(ts.buffer);
  }

  /** Appends a point whose timestamp (ns, >= 0) is held by `t`. */
  push(t: U64, value: number): void {
    if (this.n === this.ts.length) this.grow();
    const i = this.n++;
    if (LITTLE_ENDIAN) {
      this.words[2 * i] = t.lo;
      this.words[2 * i + 1] = t.hi;
    } else {
      this.ts[i] = t.toBigInt();
    }
    this.values[i] = value;
  }

  pushBigInt(t: bigint, value: number): void {
    if (this.n === this.ts.length) this.grow();
    this.ts[this.n] = t;
    this.values[this.n++] = value;
  }

  /** Points [from, to) of those appended so far (views, no copy). */
  range(from: number, to: number): Measures {
    return { ts: this.ts.subarray(from, to), values: this.values.subarray(from, to) };
  }

  /** The points appended so far (views, no copy). */
  measures(): Measures {
    return { ts: this.ts.subarray(0, this.n), values: this.values.subarray(0, this.n) };
  }
}

/** Adds `m` for `id` to a batch, concatenating when the metric is already there. */
export function addToBatch(batch: Map<string, Measures>, id: string, m: Measures): void {
  const prev = batch.get(id);
  if (!prev) {
    batch.set(id, m);
    return;
  }
  const ts = new BigInt64Array(prev.ts.length + m.ts.length);
  ts.set(prev.ts);
  ts.set(m.ts, prev.ts.length);
  const values = new Float64Array(prev.values.length + m.values.length);
  values.set(prev.values);
  values.set(m.values, prev.values.length);
  batch.set(id, { ts, values });
}
