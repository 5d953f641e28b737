// Turns a JSON list of {"timestamp", "value"} into columnar Measures, with Gnocchi's error
// messages. One pass, straight into typed arrays: this is the ingest hot path.
import { parseTimestamp, type Measures } from '@tally/timeseries';
import { invalidInput, type HttpError } from './errors.js';

export class MeasuresError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
  toHttp(): HttpError {
    return invalidInput(this.reason, []);
  }
}

function parseValue(v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && v.trim() !== '') n = Number(v);
  else throw new MeasuresError('unexpected measures value');
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

/** Parses a measures list; throws MeasuresError with Gnocchi's reason on bad input. */
export function parseMeasures(body: unknown, now: bigint = BigInt(Date.now()) * 1_000_000n): Measures {
  if (!Array.isArray(body)) throw new MeasuresError('unexpected measures format');
  const n = body.length;
  const ts = new BigInt64Array(n);
  const values = new Float64Array(n);
  let firstKind: TimestampKind = 'epoch';
  for (let i = 0; i < n; i++) {
    const m: unknown = body[i];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new MeasuresError('unexpected measures format');
    const rec = m as Record<string, unknown>;
    for (const k in rec) if (k !== 'timestamp' && k !== 'value') throw new MeasuresError(`extra keys not allowed @ data[${i}]['${k}']`);
    if (!('timestamp' in rec) || !('value' in rec)) throw new MeasuresError('unexpected measures format');
    const kind = timestampKind(rec.timestamp);
    if (i === 0) firstKind = kind;
    else if (kind !== firstKind) throw new MeasuresError("unexpected timestamp 'Unable to convert timestamps'");
    ts[i] = parseMeasureTimestamp(rec.timestamp, now);
    values[i] = parseValue(rec.value);
  }
  return { ts, values };
}
