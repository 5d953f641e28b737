// Gnocchi's measures bodies read straight from the request's bytes into columns:
//
//   POST /v1/metric/ID/measures        [{"timestamp": T, "value": V}, ...]
//   POST /v1/batch/metrics/measures    {"ID": [{"timestamp": T, "value": V}, ...], ...}
//
// Only the common, unambiguous form is read here: strict JSON (RFC 8259 whitespace, number
// and string grammar), every measure an object of exactly the keys "timestamp" and "value"
// (in either order), T a string in the ISO 8601 form of IsoBytes below, V a JSON number that
// is finite, strings without escapes or bytes beyond ASCII, batch keys distinct UUIDs in
// canonical form. Anything else, including every error, answers null and the caller takes
// the general path (JSON.parse, then parseMeasures), which alone produces error messages:
// the answers of both paths are the same for every body this one accepts.
//
// Why by hand: a 100 000-measure batch (5 MB) spent about 20 ms in JSON.parse, 4 ms making
// a string of the body and about 40 ms collecting the 100 000 objects and 200 000 strings it
// had made, against about 10 ms for one scan that allocates only the columns.
import { parseTimestamp, type Measures } from '@tally/timeseries';
import { Column, U64 } from './columns.js';

const TAB = 0x09, LF = 0x0a, CR = 0x0d, SPACE = 0x20, QUOTE = 0x22, COMMA = 0x2c, MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e;
const COLON = 0x3a, D0 = 0x30, D9 = 0x39, LBRACKET = 0x5b, BACKSLASH = 0x5c, RBRACKET = 0x5d, LBRACE = 0x7b, RBRACE = 0x7d;
const LOWER_E = 0x65, UPPER_E = 0x45, T = 0x54, Z = 0x5a;
const TWO32 = 4294967296;

/** 10^k for k <= 22: exact doubles, so one multiplication or division by them rounds correctly. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * ISO 8601 timestamps as collectors send them, read from bytes: "YYYY-MM-DDTHH:MM:SS", an
 * optional fraction of 1 to 18 digits (nanoseconds kept, finer digits dropped as numpy
 * does), an optional "Z" or offset ("+01:00", "-0530", "+02"). The day's start comes from
 * parseTimestamp (the general parser), once per distinct date; the time of day is exact
 * double arithmetic (under 2^53 ns). Anything else, and results before the epoch or years
 * from 2262 on, are null: the general parser decides those (and words their errors).
 */
export class IsoBytes {
  private readonly date = new Uint8Array(10);
  private dateHi = -1;
  private dateLo = 0;

  /** The timestamp in b[from, to) as ns into `out`; false when it is not of this form. */
  parse(b: Uint8Array, from: number, to: number, out: U64): boolean {
    const n = to - from;
    if (n < 19 || b[from + 4] !== MINUS || b[from + 7] !== MINUS || b[from + 10] !== T || b[from + 13] !== COLON || b[from + 16] !== COLON) return false;
    const h = two(b, from + 11);
    const mi = two(b, from + 14);
    const sec = two(b, from + 17);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
    let i = from + 19;
    let frac = 0;
    if (i < to && b[i] === DOT) {
      i++;
      const start = i;
      while (i < to && i - start < 18) {
        const c = b[i] - D0;
        if (c < 0 || c > 9) break;
        if (i - start < 9) frac = frac * 10 + c;
        i++;
      }
      const digits = i - start;
      if (digits === 0) return false;
      if (digits < 9) frac *= POW10[9 - digits];
    }
    let offsetMinutes = 0;
    if (i < to) {
      const c = b[i];
      if (c === Z) {
        i++;
      } else if (c === PLUS || c === MINUS) {
        const oh = two(b, i + 1);
        if (oh < 0 || oh > 23) return false;
        let om = 0;
        i += 3;
        if (i < to) {
          if (b[i] === COLON) i++;
          om = two(b, i);
          if (om < 0 || om > 59) return false;
          i += 2;
        }
        offsetMinutes = (c === MINUS ? -1 : 1) * (oh * 60 + om);
      }
    }
    if (i !== to) return false;
    if (!this.sameDate(b, from) && !this.newDate(b, from)) return false;
    // |time of day| < 2^48 ns, the day's low word < 2^32: the sum is exact.
    const low = this.dateLo + ((h * 3600 + mi * 60 + sec - offsetMinutes * 60) * 1e9 + frac);
    const carry = Math.floor(low / TWO32);
    out.lo = low - carry * TWO32;
    out.hi = this.dateHi + carry;
    return out.hi >= 0 && out.hi < 0x80000000;
  }

  private sameDate(b: Uint8Array, from: number): boolean {
    if (this.dateHi < 0) return false;
    const d = this.date;
    for (let k = 0; k < 10; k++) if (d[k] !== b[from + k]) return false;
    return true;
  }

  private newDate(b: Uint8Array, from: number): boolean {
    const year = four(b, from);
    const month = two(b, from + 5);
    const day = two(b, from + 8);
    // Years from 2262 on can pass the last representable instant within the day.
    if (year < 1970 || year > 2261 || month < 0 || day < 0) return false;
    let start: bigint;
    try {
      start = parseTimestamp(`${String(year)}-${pad2(month)}-${pad2(day)}T00:00:00`);
    } catch {
      return false;
    }
    this.date.set(b.subarray(from, from + 10));
    this.dateHi = Number(start >> 32n);
    this.dateLo = Number(start & 0xffffffffn);
    return true;
  }
}

function pad2(x: number): string {
  return x < 10 ? `0${String(x)}` : String(x);
}

/** Two ASCII digits at i as a number, or -1. */
function two(b: Uint8Array, i: number): number {
  const x = b[i] - D0;
  const y = b[i + 1] - D0;
  return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : -1;
}

function four(b: Uint8Array, i: number): number {
  const x = two(b, i);
  const y = two(b, i + 2);
  return x < 0 || y < 0 ? -1 : x * 100 + y;
}

// The scanning functions take the body and a position and answer the position after what
// they read, or -1 when the body leaves the accepted form; a number's value is left here.
let scannedNumber = 0;

function skipWs(b: Uint8Array, p: number): number {
  let c = b[p];
  while (c === SPACE || c === LF || c === CR || c === TAB) c = b[++p];
  return p;
}

/** The index of the closing quote of the string opening at p, or -1 (escapes, control or non-ASCII bytes). */
function stringEnd(b: Uint8Array, p: number, n: number): number {
  for (let q = p + 1; q < n; q++) {
    const c = b[q];
    if (c === QUOTE) return q;
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
/** The two keys of a measure, each with its closing quote. */
const TIMESTAMP_KEY = ascii('timestamp"');
const VALUE_KEY = ascii('value"');

function matches(b: Uint8Array, p: number, key: Uint8Array): boolean {
  for (let k = 0; k < key.length; k++) if (b[p + k] !== key[k]) return false;
  return true;
}

/** A JSON number at p, finite, into scannedNumber. */
function scanNumber(b: Uint8Array, p: number): number {
  const start = p;
  let c = b[p];
  if (c === MINUS) c = b[++p];
  let mant = 0;
  let digits = 0;
  if (c === D0) {
    c = b[++p];
  } else if (c > D0 && c <= D9) {
    while (c >= D0 && c <= D9) {
      mant = mant * 10 + (c - D0);
      digits++;
      c = b[++p];
    }
  } else {
    return -1;
  }
  let fracDigits = 0;
  if (c === DOT) {
    c = b[++p];
    while (c >= D0 && c <= D9) {
      mant = mant * 10 + (c - D0);
      fracDigits++;
      c = b[++p];
    }
    if (fracDigits === 0) return -1;
  }
  let exp = 0;
  if (c === LOWER_E || c === UPPER_E) {
    c = b[++p];
    let expSign = 1;
    if (c === PLUS || c === MINUS) {
      expSign = c === MINUS ? -1 : 1;
      c = b[++p];
    }
    const expStart = p;
    while (c >= D0 && c <= D9) {
      // Past 10^5 the value is out of the exact range either way: Number() decides it.
      if (exp < 100_000) exp = exp * 10 + (c - D0);
      c = b[++p];
    }
    if (p === expStart) return -1;
    exp *= expSign;
  }
  let value: number;
  const scale = exp - fracDigits;
  // Digits that fit 2^53 exactly, and a power of ten exact in a double: one correctly
  // rounded operation gives what JSON.parse gives. Otherwise the engine's own parser.
  if (digits + fracDigits <= 15 && scale >= -22 && scale <= 22) {
    value = scale >= 0 ? mant * POW10[scale] : mant / POW10[-scale];
    if (b[start] === MINUS) value = -value;
  } else {
    value = Number(latin1(b, start, p));
  }
  if (!Number.isFinite(value)) return -1;
  scannedNumber = value;
  return p;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  return Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('latin1');
}

/** A measures list at p (its '[') into `col`. */
function scanList(b: Uint8Array, p: number, col: Column, iso: IsoBytes, t: U64): number {
  const n = b.length;
  if (b[p] !== LBRACKET) return -1;
  p = skipWs(b, p + 1);
  if (b[p] === RBRACKET) return p + 1;
  for (;;) {
    if (b[p] !== LBRACE) return -1;
    p = skipWs(b, p + 1);
    let haveT = false;
    let haveV = false;
    let value = 0;
    for (let k = 0; k < 2; k++) {
      if (k === 1) {
        if (b[p] !== COMMA) return -1;
        p = skipWs(b, p + 1);
      }
      if (b[p] !== QUOTE) return -1;
      const isT = matches(b, p + 1, TIMESTAMP_KEY);
      if (isT) p += 1 + TIMESTAMP_KEY.length;
      else if (matches(b, p + 1, VALUE_KEY)) p += 1 + VALUE_KEY.length;
      else return -1;
      p = skipWs(b, p);
      if (b[p] !== COLON) return -1;
      p = skipWs(b, p + 1);
      if (isT) {
        if (haveT || b[p] !== QUOTE) return -1;
        const end = stringEnd(b, p, n);
        if (end < 0 || !iso.parse(b, p + 1, end, t)) return -1;
        p = end + 1;
        haveT = true;
      } else {
        if (haveV) return -1;
        p = scanNumber(b, p);
        if (p < 0) return -1;
        value = scannedNumber;
        haveV = true;
      }
      p = skipWs(b, p);
    }
    if (b[p] !== RBRACE) return -1;
    col.push(t, value);
    p = skipWs(b, p + 1);
    if (b[p] === RBRACKET) return p + 1;
    if (b[p] !== COMMA) return -1;
    p = skipWs(b, p + 1);
  }
}

/** Room for the measures of a body of this many bytes (a measure takes 30 or more), within reason. */
function columnFor(bytes: number): Column {
  return new Column(Math.max(8, Math.min(1 << 20, Math.ceil(bytes / 30))));
}

/** The measures of a `[{"timestamp", "value"}, ...]` body, or null (see the header). */
export function fastMeasuresList(body: Uint8Array): Measures | null {
  const col = columnFor(body.length);
  const p = scanList(body, skipWs(body, 0), col, new IsoBytes(), new U64());
  return p >= 0 && skipWs(body, p) === body.length ? col.measures() : null;
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The measures of a `{"METRIC_ID": [...], ...}` body by metric id, in the body's order, or
 * null (see the header; keys must be distinct lower-case canonical UUIDs). The lists share
 * one pair of columns, each metric's measures a view of its range.
 */
export function fastBatchMeasures(body: Uint8Array): Map<string, Measures> | null {
  const n = body.length;
  let p = skipWs(body, 0);
  if (body[p] !== LBRACE) return null;
  const col = columnFor(n);
  const iso = new IsoBytes();
  const t = new U64();
  const ranges = new Map<string, number>();
  const ends: number[] = [];
  p = skipWs(body, p + 1);
  if (body[p] !== RBRACE) {
    for (;;) {
      if (body[p] !== QUOTE) return null;
      const end = stringEnd(body, p, n);
      if (end !== p + 37) return null;
      const key = latin1(body, p + 1, end);
      if (!CANONICAL_UUID.test(key) || ranges.has(key)) return null;
      p = skipWs(body, end + 1);
      if (body[p] !== COLON) return null;
      ranges.set(key, col.n);
      p = scanList(body, skipWs(body, p + 1), col, iso, t);
      if (p < 0) return null;
      ends.push(col.n);
      p = skipWs(body, p);
      if (body[p] === RBRACE) break;
      if (body[p] !== COMMA) return null;
      p = skipWs(body, p + 1);
    }
  }
  if (skipWs(body, p + 1) !== n) return null;
  const out = new Map<string, Measures>();
  let k = 0;
  for (const [key, from] of ranges) out.set(key, col.range(from, ends[k++]));
  return out;
}
