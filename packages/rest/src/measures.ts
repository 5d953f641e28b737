// Turns a JSON list of {"timestamp", "value"} into columnar Measures, with Gnocchi's error
// messages. One pass, straight into typed arrays: this is the ingest hot path.
import { parsePyFloat, parseTimestamp, type Measures } from '@tally/timeseries';
import { invalidInput, type HttpError } from './errors.js';

export class MeasuresError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
  toHttp(): HttpError {
    return invalidInput(this.reason, []);
  }
}

/** Gnocchi's float() of a value: a number, or a numeric string as Python reads it ("1_000", " 5e-5 "). */
function parseValue(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? parsePyFloat(v) : null;
  if (n === null) throw new MeasuresError('unexpected measures value');
  // Gnocchi would store NaN and infinities; Tally refuses them: they poison every aggregate.
  if (!Number.isFinite(n)) throw new MeasuresError('unexpected measures value');
  return n;
}

function parseMeasureTimestamp(t: unknown, now: bigint): bigint {
  if (typeof t !== 'string' && typeof t !== 'number') throw new MeasuresError('unexpected timestamp');
  let ts: bigint;
  try {
    ts = parseTimestamp(t, now);
  } catch (e) {
    throw new MeasuresError(`unexpected timestamp '${e instanceof Error ? e.message : String(e)}'`);
  }
  if (ts < 0n) throw new MeasuresError("unexpected timestamp 'Timestamp must be after Epoch'");
  return ts;
}

type TimestampKind = 'epoch' | 'absolute' | 'relative';

/**
 * Gnocchi reads a whole list in the form of its first timestamp (epoch seconds, ISO 8601,
 * or relative to now) and refuses a list that mixes forms; so does Tally.
 */
export function timestampKind(t: unknown): TimestampKind {
  if (typeof t === 'number') return 'epoch';
  const s = String(t).trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return 'epoch';
  if (/^\d{4}-?\d/.test(s) || s.toLowerCase() === 'now') return 'absolute';
  return 'relative';
}

const NS_PER_SECOND = 1_000_000_000n;

/**
 * The form nearly every collector sends, "2024-01-01T00:00:00" (naive, so UTC) or with "Z",
 * read without regular expressions; the date's start is computed by parseTimestamp once per
 * distinct date and reused. A batch of 10 000 measures spent most of its parsing time in
 * the general parser's regular expressions. Returns null for any other form (the caller
 * then uses the general parser, which also produces the error messages).
 */
class FastIsoParser {
  private date = '';
  private dateNs = 0n;

  parse(t: string): bigint | null {
    const n = t.length;
    if ((n !== 19 && !(n === 20 && t.charCodeAt(19) === 90 /* Z */)) || t.charCodeAt(10) !== 84 /* T */) return null;
    if (t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return null;
    const h = two(t, 11);
    const mi = two(t, 14);
    const sec = two(t, 17);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return null;
    const date = t.slice(0, 10);
    if (date !== this.date) {
      // Years from 2262 on can pass the last representable instant within the day.
      if (!/^(19[7-9]\d|2[01]\d\d|22[0-5]\d|226[01])-\d\d-\d\d$/.test(date)) return null;
      let start: bigint;
      try {
        start = parseTimestamp(`${date}T00:00:00`);
      } catch {
        return null;
      }
      this.date = date;
      this.dateNs = start;
    }
    return this.dateNs + BigInt(h * 3600 + mi * 60 + sec) * NS_PER_SECOND;
  }
}

/** Two ASCII digits at i as a number, or -1. */
function two(t: string, i: number): number {
  const a = t.charCodeAt(i) - 48;
  const b = t.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Parses a measures list; throws MeasuresError with Gnocchi's reason on bad input. */
export function parseMeasures(body: unknown, now: bigint = BigInt(Date.now()) * 1_000_000n): Measures {
  if (!Array.isArray(body)) throw new MeasuresError('unexpected measures format');
  const n = body.length;
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let firstKind: TimestampKind = 'epoch';
  const fast = new FastIsoParser();
  for (let i = 0; i < n; i++) {
    const m: unknown = body[i];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new MeasuresError('unexpected measures format');
    const rec = m as Record<string, unknown>;
    for (const k in rec) if (k !== 'timestamp' && k !== 'value') throw new MeasuresError(`extra keys not allowed @ data[${i}]['${k}']`);
    if (!('timestamp' in rec) || !('value' in rec)) throw new MeasuresError('unexpected measures format');
    const t = rec.timestamp;
    const quick = typeof t === 'string' ? fast.parse(t) : null;
    const kind = quick !== null ? 'absolute' : timestampKind(t);
    if (i === 0) firstKind = kind;
    else if (kind !== firstKind) throw new MeasuresError("unexpected timestamp 'Unable to convert timestamps'");
    ts[i] = quick ?? parseMeasureTimestamp(t, now);
    const v = rec.value;
    values[i] = typeof v === 'number' && Number.isFinite(v) ? v : parseValue(v);
  }
  return { ts, values };
}
