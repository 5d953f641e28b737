// Turns a JSON list of {"timestamp", "value"} into columnar Measures, with Gnocchi's error
// messages. One pass, straight into typed arrays: this is the ingest hot path.
import { parsePyFloat, parseTimestamp, type Measures } from '@tally/timeseries';
import { invalidInput, type HttpError } from './errors.js';
import { U64 } from './ingest/columns.js';
import { IsoBytes } from './ingest/measures-json.js';

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

/**
 * The forms nearly every collector sends ("2024-01-01T00:00:00", a fraction, "Z" or an
 * offset), read by the ingest path's byte parser (IsoBytes) without regular expressions and
 * with one BigInt per measure; null for any other form and for results the general parser
 * refuses, so that the caller uses it, which also words the errors.
 */
class FastIsoParser {
  private readonly iso = new IsoBytes();
  private readonly bytes = new Uint8Array(48);
  private readonly out = new U64();

  parse(t: string): bigint | null {
    const n = t.length;
    if (n < 19 || n > this.bytes.length) return null;
    for (let i = 0; i < n; i++) {
      const c = t.charCodeAt(i);
      if (c > 0x7f) return null;
      this.bytes[i] = c;
    }
    return this.iso.parse(this.bytes, 0, n, this.out) ? this.out.toBigInt() : null;
  }
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
