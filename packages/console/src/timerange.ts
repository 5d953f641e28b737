// Time ranges as users type them in the console: "now", "now-6h", "-7d", an ISO 8601
// instant with an offset, or a wall-clock time ("2026-03-29 02:30") read in the chosen
// IANA time zone. Wall-clock times follow Python's zoneinfo with fold=0 (PEP 495), which
// is what Gnocchi's users know: an ambiguous time is its first occurrence, and a time
// skipped by a DST jump is read with the offset in force before the jump.

export class TimeRangeError extends Error {
  override readonly name = 'TimeRangeError';
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "6h", "7d", "2w" (and sums such as "1d12h") in milliseconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?[smhdw])+$/.test(t)) throw new TimeRangeError(`not a duration (e.g. 15m, 6h, 7d): ${JSON.stringify(text)}`);
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit',
      });
    } catch {
      throw new TimeRangeError(`unknown time zone: ${JSON.stringify(zone)}`);
    }
    formatters.set(zone, f);
  }
  return f;
}

export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

interface Fields { year: number; month: number; day: number; hour: number; minute: number; second: number }

function fieldsAt(ms: number, zone: string): Fields {
  const p: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { year: p.year, month: p.month, day: p.day, hour: p.hour, minute: p.minute, second: p.second };
}

/** The zone's UTC offset at an instant, in milliseconds (whole seconds). */
export function offsetAt(ms: number, zone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  const f = fieldsAt(whole, zone);
  return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) - whole;
}

/** The instant of a wall-clock time of `zone` (milliseconds; `naiveMs` is the wall clock read as UTC). */
export function wallClockToUtc(naiveMs: number, zone: string): number {
  const before = offsetAt(naiveMs - 86_400_000, zone);
  const after = offsetAt(naiveMs + 86_400_000, zone);
  const valid = [...new Set([before, after])]
    .map((o) => naiveMs - o)
    .filter((t) => naiveMs - offsetAt(t, zone) === t);
  if (valid.length > 0) return Math.min(...valid);
  return naiveMs - before;
}

const WALL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?$/;
const OFFSET = /(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * An instant in milliseconds since the epoch; undefined for an empty text (no bound).
 * `now` is the reference for relative forms.
 */
export function parseInstant(text: string, zone: string, now: number): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (t === 'now') return now;
  const rel = /^(?:now)?\s*([+-])\s*(\S+)$/.exec(t);
  if (rel) return now + (rel[1] === '-' ? -1 : 1) * parseDuration(rel[2]);
  const wall = WALL.exec(t);
  if (wall) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = ''] = wall;
    const naive = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Math.round(Number(`0${frac}`) * 1000);
    if (Number.isNaN(naive)) throw new TimeRangeError(`not a date: ${JSON.stringify(text)}`);
    return wallClockToUtc(naive, zone);
  }
  if (OFFSET.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new TimeRangeError(`not a time (now, now-6h, 2026-03-29 02:30, or ISO 8601 with an offset): ${JSON.stringify(text)}`);
}

export interface TimeRange { start?: number; stop?: number }

export function parseRange(start: string, stop: string, zone: string, now: number): TimeRange {
  const r = { start: parseInstant(start, zone, now), stop: parseInstant(stop, zone, now) };
  if (r.start !== undefined && r.stop !== undefined && r.start >= r.stop) throw new TimeRangeError('the start must be before the stop');
  return r;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** "2026-03-29 03:30:00" in `zone` (what the console shows and what CSV files hold, with the offset). */
export function formatInZone(ms: number, zone: string, withOffset = false): string {
  const f = fieldsAt(ms, zone);
  const text = `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)} ${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}`;
  if (!withOffset) return text;
  const o = offsetAt(ms, zone) / 60_000;
  const sign = o < 0 ? '-' : '+';
  return `${text.replace(' ', 'T')}${sign}${pad(Math.floor(Math.abs(o) / 60))}:${pad(Math.abs(o) % 60)}`;
}
