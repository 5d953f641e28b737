// A read's points as Gnocchi writes them, [["<ISO 8601>", <granularity>, <value>], ...],
// written byte by byte into one buffer for the UTC case (the default and by far the most
// common). Hand-written because the generic way is half of a full-series read: the text
// of 10 000 points with the generic formatter and one template string per point takes
// 9-10 ms (BigInt arithmetic per timestamp, a shortest-float conversion per value and
// 30 000 short strings to join). Everything written is ASCII. The generic path (pyFloatJson,
// formatTimestamp) stays the reference: tests compare the two on every case below.
import { baseOf, formatTimestamp, offsetAt, pyFloatJson, wordsOf } from '@tally/timeseries';

const NS_PER_SECOND = 1e9;
const SECONDS_PER_DAY = 86_400;
/** Largest offset (ns) from the first point handled in double arithmetic (2^53 less a second of slack). */
const MAX_EXACT_OFFSET = 2 ** 53 - 2e9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/** Values with at most this many digits print positionally in Python and round-trip uniquely (DBL_DIG). */
const MAX_DECIMAL_INT = 1e15;
const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const OPEN_POINT = ascii('["');
const UTC_TAIL = ascii('+00:00", ');
const SEPARATOR = ascii(', ');

class ByteWriter {
  buf: Buffer;
  at = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  ascii(s: string): void {
    this.room(s.length);
    this.at += this.buf.write(s, this.at, 'latin1');
  }

  /** Short byte strings: a loop beats a call into Buffer.write for each of them. */
  bytes(b: Uint8Array): void {
    this.room(b.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < b.length; i++) buf[at++] = b[i];
    this.at = at;
  }

  byte(c: number): void {
    this.buf[this.at++] = c;
  }

  /** `width` decimal digits of a non-negative integer below 10^width, zero-padded. */
  padded(v: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) {
      const digit = v % 10;
      this.buf[this.at + i] = 48 + digit;
      v = (v - digit) / 10; // exact, unlike v / 10 rounded down near 2^53
    }
    this.at += width;
  }

  /** A non-negative integer below 2^53. */
  digits(v: number): void {
    let n = 1;
    for (let p = 10; v >= p && n < 16; p *= 10) n++;
    this.padded(v, n);
  }
}

/**
 * Python's repr of a float whose shortest form is a short decimal: the value is k / 10^s
 * exactly in double arithmetic for a small s and |k| < 10^15. The decimal string of
 * k * 10^-s then parses back to the value (both are the double nearest that rational) and,
 * with trailing zeros trimmed, no shorter decimal can (two decimals of 15 significant
 * digits or fewer never share a double), so it is the shortest, as repr writes. Returns
 * the scale used (the caller's next guess), or -1 when the value is not such a decimal.
 */
function writeDecimal(w: ByteWriter, v: number, guess: number): number {
  const a = v < 0 ? -v : v;
  if (a < 1e-4 || a >= MAX_DECIMAL_INT) return -1; // repr switches to an exponent below 1e-4
  let s = guess;
  let k = Math.round(a * POW10[s]);
  if (k / POW10[s] !== a) {
    for (s = 1; s <= 9; s++) {
      k = Math.round(a * POW10[s]);
      if (k / POW10[s] === a) break;
    }
    if (s > 9) return -1;
  }
  if (k >= MAX_DECIMAL_INT) return -1;
  let frac = k % POW10[s];
  const intPart = (k - frac) / POW10[s];
  let width = s;
  while (width > 1 && frac % 10 === 0) {
    frac /= 10;
    width--;
  }
  w.room(20);
  if (v < 0) w.byte(45);
  w.digits(intPart);
  w.byte(46);
  w.padded(frac, width);
  return s;
}

function writeValue(w: ByteWriter, v: number, guess: number): number {
  if (Number.isInteger(v) && v < 2 ** 53 && v > -(2 ** 53)) {
    // Integral values below 1e16 are written "N.0", and -0 "-0.0".
    w.room(20);
    if (v < 0 || (v === 0 && 1 / v < 0)) w.byte(45);
    w.digits(v < 0 ? -v : v);
    w.byte(46);
    w.byte(48);
    return guess;
  }
  const s = writeDecimal(w, v, guess);
  if (s >= 0) return s;
  w.ascii(pyFloatJson(v));
  return guess;
}

/**
 * Points written between two chances to give the event loop back: about 1-4 ms of work
 * here (10 000 points take 2-4 ms), small against the deadline's 10 ms slice so a caller
 * pausing between chunks rarely holds the loop past it, large enough that the generator's
 * suspension costs nothing measurable.
 */
export const CHUNK_POINTS = 8192;

/**
 * The JSON of a UTC read: the same bytes as the generic path of `measuresJson` (read.ts).
 * `granularityText` is called when the granularity changes from one point to the next.
 * A generator so that a long answer is written in chunks: it yields after every
 * CHUNK_POINTS points (the caller may give the loop back there) and returns the bytes.
 * Locals stay locals across the suspensions, so the hot loop is the one-go loop.
 */
export function* utcSeriesChunks(
  ts: BigInt64Array, granularity: BigInt64Array, values: Float64Array,
  granularityText: (g: bigint) => string,
): Generator<void, Buffer, void> {
  const n = ts.length;
  const w = new ByteWriter(64 + n * 48);
  w.byte(91); // [
  if (n === 0) {
    w.byte(93);
    return w.buf.subarray(0, w.at);
  }
  // Timestamps as offsets from the first point, in doubles (exact below 2^53 ns, i.e.
  // spans of 104 days); a point further away is formatted through BigInt.
  const words = wordsOf(ts);
  const first = ts[0];
  const base = baseOf(first);
  let baseSecs = first / 1_000_000_000n;
  let baseFrac = first - baseSecs * 1_000_000_000n;
  if (baseFrac < 0n) {
    baseFrac += 1_000_000_000n;
    baseSecs -= 1n;
  }
  const secs0 = Number(baseSecs);
  const frac0 = Number(baseFrac);
  const gw = wordsOf(granularity);
  let gA = -1;
  let gB = -1;
  let gText: Uint8Array = new Uint8Array(0);
  let day = Number.NaN;
  let dayText: Uint8Array = new Uint8Array(0);
  let guess = 3;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      if (i % CHUNK_POINTS === 0) yield;
      w.room(2);
      w.byte(44);
      w.byte(32);
    }
    // A granularity is compared by its two words (either order: equality is all it needs).
    if (gw.lo[2 * i] !== gA || gw.lo[2 * i + 1] !== gB) {
      gA = gw.lo[2 * i];
      gB = gw.lo[2 * i + 1];
      gText = ascii(granularityText(granularity[i]));
    }
    const offset = offsetAt(words, i, base);
    w.bytes(OPEN_POINT);
    if (offset > MAX_EXACT_OFFSET || offset < -MAX_EXACT_OFFSET) {
      w.ascii(formatTimestamp(ts[i]).slice(0, -6));
    } else {
      const x = frac0 + offset;
      let q = Math.floor(x / NS_PER_SECOND);
      let frac = x - q * NS_PER_SECOND;
      if (frac < 0) {
        frac += NS_PER_SECOND;
        q -= 1;
      } else if (frac >= NS_PER_SECOND) {
        frac -= NS_PER_SECOND;
        q += 1;
      }
      const secs = secs0 + q;
      const d = Math.floor(secs / SECONDS_PER_DAY);
      if (d !== day) {
        day = d;
        const head = formatTimestamp(BigInt(d) * BigInt(SECONDS_PER_DAY) * 1_000_000_000n);
        dayText = ascii(head.slice(0, head.indexOf('T') + 1));
      }
      w.bytes(dayText);
      const r = secs - d * SECONDS_PER_DAY;
      w.room(32);
      w.padded(Math.floor(r / 3600), 2);
      w.byte(58);
      w.padded(Math.floor(r / 60) % 60, 2);
      w.byte(58);
      w.padded(r % 60, 2);
      if (frac !== 0) {
        w.byte(46);
        if (frac % 1000 === 0) w.padded(frac / 1000, 6);
        else w.padded(frac, 9);
      }
    }
    w.bytes(UTC_TAIL);
    w.bytes(gText);
    w.bytes(SEPARATOR);
    guess = writeValue(w, values[i], guess);
    w.room(1);
    w.byte(93);
  }
  w.room(1);
  w.byte(93);
  return w.buf.subarray(0, w.at);
}

/** Drives a chunked writer to its end without pausing. */
export function writtenInOneGo<T>(gen: Generator<void, T, void>): T {
  for (;;) {
    const r = gen.next();
    if (r.done === true) return r.value;
  }
}

/** Drives a chunked writer, calling `pause` between chunks (to give the loop back, check a deadline). */
export async function writeInChunks<T>(gen: Generator<void, T, void>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const r = gen.next();
    if (r.done === true) return r.value;
    await pause();
  }
}
