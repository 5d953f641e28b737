// InfluxDB line protocol, read the way Gnocchi reads it:
//
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// Names and tag values are either unquoted (a backslash escapes a space, comma or equals
// sign; any other backslash stays) or double-quoted (a backslash escapes any character).
// Field values: floats, integers with an `i` (or `u`) suffix, double-quoted strings and
// booleans; only numbers become measures (Gnocchi stores numbers only). The timestamp is an
// integer in `precision` units (nanoseconds by default); a line without one gets `now`.
//
// Each point becomes a measure of metric `measurement.field@tag=value,...` (tags sorted,
// without the one naming the resource; no `@` without other tags; "/" replaced by "_") of the
// resource named by the value of tag `tagResourceId`.
//
// Hot path: one scan over the text, no string per line; the series key (measurement and
// tags) and field keys are sliced and looked up in caches, so that names are only built
// the first time a series is seen; measures go straight into typed arrays.
import { Column, U64 } from './columns.js';

export class LineProtocolError extends Error {
  /** `parse`: line `line` (1-based, empty lines count) is not line protocol; `key`: it lacks the resource tag. */
  constructor(readonly kind: 'parse' | 'key', readonly line: number, readonly tag = '') {
    super(kind === 'parse' ? `Unable to parse line ${line}` : `Unable to find key \`${tag}' in tags`);
  }
}

/** Timestamp scale factors (each < 2^20) by the `precision` names InfluxDB accepts. */
export const PRECISIONS: Readonly<Record<string, readonly number[]>> = {
  n: [], ns: [],
  u: [1000], us: [1000], 'µ': [1000],
  ms: [1000, 1000],
  s: [1000, 1000, 1000],
  m: [60, 1000, 1000, 1000],
  h: [3600, 1000, 1000, 1000],
};

export interface LineProtocolOptions {
  /** Tag whose value names the resource (Gnocchi's default: host). */
  tagResourceId: string;
  /** Scale factors from PRECISIONS (default nanoseconds). */
  precision?: readonly number[];
  /** Timestamp (ns) of lines without one. */
  now: bigint;
}

/** Resource name (tag value) -> metric name -> measures. */
export type ParsedLines = Map<string, Map<string, Column>>;

interface Series {
  /** Value of the resource tag; null when the line lacks it (an error once the line parses). */
  resource: string | null;
  measurement: string;
  /** "@k=v,..." or "". */
  tagsSuffix: string;
  /** Raw field key -> its column. */
  fields: Map<string, Column>;
}

const SPACE = 0x20, TAB = 0x09, COMMA = 0x2c, EQUALS = 0x3d, QUOTE = 0x22, BACKSLASH = 0x5c, CR = 0x0d, HASH = 0x23;
const PLUS = 0x2b, MINUS = 0x2d, DOT = 0x2e, D0 = 0x30, D9 = 0x39, LOWER_E = 0x65, UPPER_E = 0x45, LOWER_I = 0x69, LOWER_U = 0x75;
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
const BOOLEANS = new Set(['t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE']);

/** Orders strings by code point (as Python's sorted() does), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const fx = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x;
    const fy = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y;
    return fx - fy;
  }
  return a.length - b.length;
}

/**
 * End of the name or tag token of `s` starting at p (before `end`): a double-quoted string,
 * or characters up to an unescaped space, comma or equals sign. -1 for an empty token or
 * an unterminated quote.
 */
function tokenEnd(s: string, p: number, end: number): number {
  if (p < end && s.charCodeAt(p) === QUOTE) {
    p++;
    while (p < end) {
      const c = s.charCodeAt(p);
      if (c === BACKSLASH) p += 2;
      else if (c === QUOTE) return p + 1;
      else p++;
    }
    return -1;
  }
  const start = p;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (c === SPACE || c === COMMA || c === EQUALS) break;
    if (c === BACKSLASH) {
      const n = p + 1 < end ? s.charCodeAt(p + 1) : -1;
      p += n === SPACE || n === COMMA || n === EQUALS ? 2 : 1;
    } else p++;
  }
  return p === start ? -1 : p;
}

const decodeToken = (raw: string): string => {
  if (raw.charCodeAt(0) === QUOTE) return raw.slice(1, -1).replace(/\\(.)/gs, '$1');
  return raw.includes('\\') ? raw.replace(/\\([ ,=])/g, '$1') : raw;
};

export function parseLineProtocol(text: string, opts: LineProtocolOptions): ParsedLines {
  const out: ParsedLines = new Map();
  const seriesCache = new Map<string, Series>();
  const precision = opts.precision ?? [];
  const nowBig = opts.now;
  const t = new U64();
  // Fields of the current line, kept until the whole line has parsed.
  const pendingKeys: string[] = [];
  let pendingValues = new Float64Array(16);
  let lineNo = 0;
  let e = 0;

  const fail = (): never => {
    throw new LineProtocolError('parse', lineNo);
  };

  const scanToken = (p: number): number => {
    const q = tokenEnd(text, p, e);
    return q < 0 ? fail() : q;
  };

  /** Builds a series from its raw key (measurement and tags), the first time it is seen. */
  const makeSeries = (raw: string): Series => {
    // raw has been validated: measurement, then ("," key "=" value)*.
    const n = raw.length;
    let p = tokenEnd(raw, 0, n);
    const measurement = decodeToken(raw.slice(0, p));
    const tags = new Map<string, string>();
    while (p < n) {
      const kEnd = tokenEnd(raw, p + 1, n);
      const vEnd = tokenEnd(raw, kEnd + 1, n);
      tags.set(decodeToken(raw.slice(p + 1, kEnd)), decodeToken(raw.slice(kEnd + 1, vEnd)));
      p = vEnd;
    }
    const resource = tags.get(opts.tagResourceId) ?? null;
    tags.delete(opts.tagResourceId);
    const keys = [...tags.keys()].sort(compareCodePoints);
    const tagsSuffix = keys.length ? '@' + keys.map((k) => `${k}=${tags.get(k) as string}`).join(',') : '';
    return { resource, measurement, tagsSuffix, fields: new Map() };
  };

  const columnFor = (series: Series, rawKey: string): Column => {
    let col = series.fields.get(rawKey);
    if (col) return col;
    const metric = (series.measurement + '.' + decodeToken(rawKey) + series.tagsSuffix).replace(/\//g, '_');
    const resource = series.resource as string;
    let metrics = out.get(resource);
    if (!metrics) out.set(resource, (metrics = new Map()));
    col = metrics.get(metric);
    if (!col) metrics.set(metric, (col = new Column()));
    series.fields.set(rawKey, col);
    return col;
  };

  /** Parses a number field value at p into pendingValues[i]; returns its end, or -1 if not a number. */
  const scanNumber = (p: number, i: number): number => {
    const start = p;
    let c = p < e ? text.charCodeAt(p) : -1;
    let signed = false;
    if (c === PLUS || c === MINUS) {
      signed = true;
      c = ++p < e ? text.charCodeAt(p) : -1;
    }
    const intStart = p;
    // All digits as one integer (exact up to 15 of them): the value is mant / 10^fracDigits.
    let mant = 0;
    while (c >= D0 && c <= D9) {
      mant = mant * 10 + (c - D0);
      c = ++p < e ? text.charCodeAt(p) : -1;
    }
    const intDigits = p - intStart;
    let fracDigits = 0;
    let isInteger = true;
    let exact = true;
    if (c === DOT) {
      isInteger = false;
      c = ++p < e ? text.charCodeAt(p) : -1;
      const fracStart = p;
      while (c >= D0 && c <= D9) {
        mant = mant * 10 + (c - D0);
        c = ++p < e ? text.charCodeAt(p) : -1;
      }
      fracDigits = p - fracStart;
      if (intDigits === 0 && fracDigits === 0) return -1;
    } else if (intDigits === 0) {
      return -1;
    }
    if (c === LOWER_E || c === UPPER_E) {
      isInteger = false;
      exact = false;
      c = ++p < e ? text.charCodeAt(p) : -1;
      if (c === PLUS || c === MINUS) c = ++p < e ? text.charCodeAt(p) : -1;
      const expStart = p;
      while (c >= D0 && c <= D9) c = ++p < e ? text.charCodeAt(p) : -1;
      if (p === expStart) return -1;
    }
    const numEnd = p;
    if (isInteger && (c === LOWER_I || (c === LOWER_U && !signed))) p++;
    else if (c === LOWER_I || c === LOWER_U) return -1;
    let value: number;
    if (exact && intDigits + fracDigits <= 15) {
      // Both operands exact, one division: correctly rounded, as Number() would give.
      value = fracDigits === 0 ? mant : mant / POW10[fracDigits];
      if (text.charCodeAt(start) === MINUS) value = -value;
    } else {
      value = Number(text.slice(start, numEnd));
    }
    if (!Number.isFinite(value)) return -1;
    pendingValues[i] = value;
    return p;
  };

  const isEnd = (p: number): boolean => p >= e || text.charCodeAt(p) === COMMA || text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB;

  let pos = 0;
  const len = text.length;
  while (pos <= len) {
    lineNo++;
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = len;
    let s = pos;
    e = eol;
    pos = eol + 1;
    // Surrounding blanks (and a CR of CRLF) are not part of a line.
    while (e > s) {
      const c = text.charCodeAt(e - 1);
      if (c === SPACE || c === TAB || c === CR) e--;
      else break;
    }
    while (s < e && (text.charCodeAt(s) === SPACE || text.charCodeAt(s) === TAB)) s++;
    if (s === e || text.charCodeAt(s) === HASH) continue; // empty line, or a comment

    // Series key: measurement, then ",key=value" pairs, up to the first unescaped space.
    let p = scanToken(s);
    while (p < e && text.charCodeAt(p) === COMMA) {
      p = scanToken(p + 1);
      if (p >= e || text.charCodeAt(p) !== EQUALS) fail();
      p = scanToken(p + 1);
    }
    if (p >= e || text.charCodeAt(p) !== SPACE) fail();
    const rawKey = text.slice(s, p);
    let series = seriesCache.get(rawKey);
    if (!series) seriesCache.set(rawKey, (series = makeSeries(rawKey)));
    while (p < e && (text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB)) p++;

    // Fields.
    let nFields = 0;
    for (;;) {
      const kStart = p;
      p = scanToken(p);
      if (p >= e || text.charCodeAt(p) !== EQUALS) fail();
      const key = text.slice(kStart, p);
      p++;
      if (p >= e) fail();
      const c = text.charCodeAt(p);
      if (c === QUOTE) {
        // String value: skipped (Gnocchi stores numbers only).
        p++;
        for (;;) {
          if (p >= e) fail();
          const q = text.charCodeAt(p);
          if (q === BACKSLASH) p += 2;
          else if (q === QUOTE) break;
          else p++;
        }
        p++;
        if (!isEnd(p)) fail();
      } else {
        if (nFields === pendingValues.length) {
          const grown = new Float64Array(pendingValues.length * 2);
          grown.set(pendingValues);
          pendingValues = grown;
        }
        const numEnd = scanNumber(p, nFields);
        if (numEnd >= 0 && isEnd(numEnd)) {
          pendingKeys[nFields++] = key;
          p = numEnd;
        } else {
          // A boolean (skipped, as strings are), or not a value at all.
          let q = p;
          while (!isEnd(q)) q++;
          if (!BOOLEANS.has(text.slice(p, q))) fail();
          p = q;
        }
      }
      if (p < e && text.charCodeAt(p) === COMMA) {
        p++;
        continue;
      }
      break;
    }

    // Timestamp.
    while (p < e && (text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB)) p++;
    let stamped = false;
    if (p < e) {
      const tsStart = p;
      // The first 15 digits fit a double exactly; the rest go through 64-bit arithmetic.
      let head = 0;
      const headEnd = Math.min(e, p + 15);
      while (p < headEnd) {
        const c = text.charCodeAt(p);
        if (c < D0 || c > D9) fail();
        head = head * 10 + (c - D0);
        p++;
      }
      t.set(head);
      while (p < e) {
        const c = text.charCodeAt(p);
        if (c < D0 || c > D9 || !t.mulAdd(10, c - D0)) fail();
        p++;
      }
      if (p === tsStart || !t.scale(precision)) fail();
      stamped = true;
    }

    if (series.resource === null) throw new LineProtocolError('key', lineNo, opts.tagResourceId);
    for (let i = 0; i < nFields; i++) {
      const col = columnFor(series, pendingKeys[i]);
      if (stamped) col.push(t, pendingValues[i]);
      else col.pushBigInt(nowBig, pendingValues[i]);
    }
  }
  return out;
}
