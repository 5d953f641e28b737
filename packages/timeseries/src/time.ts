// Time values: nanoseconds since the Unix epoch (UTC) as bigint, and durations in ns.
// Parsing follows what Gnocchi 4.4.2 accepts (utils.to_timestamp / to_timespan), but
// keeps decimal input exact instead of going through a float.

export type Nanos = bigint;

export const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MINUTE = 60n * NS_PER_SECOND;
const NS_PER_HOUR = 60n * NS_PER_MINUTE;
const NS_PER_DAY = 24n * NS_PER_HOUR;
const NS_PER_WEEK = 7n * NS_PER_DAY;
// Gnocchi stores datetime64[ns]: anything past int64 overflows and is rejected.
const MAX_TIMESTAMP = (1n << 63n) - 1n;

/** Same wording as Gnocchi so the API can pass the message through. */
export class TimeParseError extends Error {
  override name = 'TimeParseError';
}

export class TimespanError extends Error {
  override name = 'TimespanError';
}

// Python float() syntax (underscores between digits, exponent, surrounding blanks).
const DECIMAL_RE = /^\s*([+-]?)((?:\d(?:_?\d)*)?)(?:\.((?:\d(?:_?\d)*)?))?(?:[eE]([+-]?\d(?:_?\d)*))?\s*$/;

/**
 * Exact value in ns of a decimal number of seconds, truncated toward zero like
 * Python's int(). Returns null when the text is not a number.
 */
export function decimalSecondsToNanos(text: string): Nanos | null {
  const m = DECIMAL_RE.exec(text);
  if (m === null) return null;
  const intPart = m[2].replaceAll('_', '');
  const fracPart = (m[3] ?? '').replaceAll('_', '');
  if (intPart === '' && fracPart === '') return null;
  const exponent = m[4] === undefined ? 0 : Number(m[4].replaceAll('_', ''));
  const digits = BigInt((intPart + fracPart) || '0');
  // value = digits * 10^(exponent - fracLen) seconds = digits * 10^(shift) ns
  const shift = exponent - fracPart.length + 9;
  let ns: bigint;
  if (digits === 0n) ns = 0n;
  else if (shift >= 0) ns = shift > 40 ? MAX_TIMESTAMP * 10n : digits * 10n ** BigInt(shift);
  else ns = -shift > 400 ? 0n : digits / 10n ** BigInt(-shift);
  return m[1] === '-' ? -ns : ns;
}

function numberToText(n: number): string {
  if (!Number.isFinite(n)) return 'nan';
  // Shortest round-trip text is what the caller meant; avoids binary noise.
  return String(n);
}

// ---------------------------------------------------------------- timespans

interface ClockFormat {
  re: RegExp;
}

const WEEKS = String.raw`(?:(?<weeks>[\d.]+)\s*(?:w|wks?|weeks?)\s*(?:[,/]\s*)?)?`;
const DAYS = String.raw`(?:(?<days>[\d.]+)\s*(?:d|dys?|days?)\s*(?:[,/]\s*)?)?`;
const HOURS = String.raw`(?:(?<hours>[\d.]+)\s*(?:h|hrs?|hours?)\s*(?:[,/]\s*)?)?`;
const MINS = String.raw`(?:(?<mins>[\d.]+)\s*(?:m|mins?|minutes?)\s*(?:[,/]\s*)?)?`;
const SECS = String.raw`(?:(?<secs>[\d.]+)\s*(?:s|secs?|seconds?))?`;
const SEC_FRAC = String.raw`\d{2}(?:\.\d+)?`;

// The same grammar as pytimeparse (what Gnocchi uses), tried in this order.
const TIMESPAN_FORMATS: ClockFormat[] = [
  String.raw`${WEEKS}\s*${DAYS}\s*${HOURS}\s*${MINS}\s*${SECS}`,
  String.raw`(?<mins>\d{1,2}):(?<secs>${SEC_FRAC})`,
  String.raw`${WEEKS}\s*${DAYS}\s*(?<hours>\d+):(?<mins>\d{2}):(?<secs>${SEC_FRAC})`,
  String.raw`(?<days>\d+):(?<hours>\d{2}):(?<mins>\d{2}):(?<secs>${SEC_FRAC})`,
  String.raw`:(?<secs>${SEC_FRAC})`,
].map((f) => ({ re: new RegExp(String.raw`^\s*${f}\s*$`, 'i') }));

const UNIT_NS: Record<string, bigint> = {
  weeks: NS_PER_WEEK,
  days: NS_PER_DAY,
  hours: NS_PER_HOUR,
  mins: NS_PER_MINUTE,
  secs: NS_PER_SECOND,
};

const DIGITS_RE = /^\d+$/;

function unitNanos(value: string, unit: string): Nanos {
  const ns = decimalSecondsToNanos(value);
  // "1.2.3 minutes" matches the grammar but is no number: Gnocchi fails too.
  if (ns === null || !/^[\d.]+$/.test(value)) throw new TimespanError('Unable to parse timespan');
  return ns * (UNIT_NS[unit] / NS_PER_SECOND);
}

/** Sum the matched fields, with pytimeparse's rounding quirks. */
function sumFields(groups: Record<string, string | undefined>, sign: bigint): Nanos {
  const fields = Object.entries(groups).filter((e): e is [string, string] => e[1] !== undefined);
  const secs = groups.secs;
  const allWhole = fields.every(([, v]) => DIGITS_RE.test(v));
  if (!allWhole && (secs === undefined || DIGITS_RE.test(secs))) {
    // Whole seconds: pytimeparse truncates the other fields' sum to whole seconds
    // and adds the (unsigned) seconds field.
    let rest = 0n;
    for (const [unit, v] of fields) if (unit !== 'secs') rest += unitNanos(v, unit);
    const whole = (rest / NS_PER_SECOND) * NS_PER_SECOND;
    return sign * whole + (secs === undefined ? 0n : BigInt(secs) * NS_PER_SECOND);
  }
  let total = 0n;
  for (const [unit, v] of fields) total += unitNanos(v, unit);
  return sign * total;
}

function parseHumanTimespan(text: string): Nanos | null {
  const m = /^\s*([+|-])?\s*([\s\S]*)$/.exec(text);
  if (m === null) return null;
  const sign = m[1] === '-' ? -1n : 1n;
  const body = m[2];
  for (const { re } of TIMESPAN_FORMATS) {
    const match = re.exec(body);
    if (match === null || match[0].trim() === '') continue;
    return sumFields(match.groups ?? {}, sign);
  }
  return null;
}

/** A timespan that may be zero or negative (relative timestamps use this). */
export function parseSignedTimespan(input: string | number): Nanos {
  const text = typeof input === 'number' ? numberToText(input) : input;
  const numeric = decimalSecondsToNanos(text);
  if (numeric !== null) return numeric;
  const human = parseHumanTimespan(text);
  if (human === null) throw new TimespanError('Unable to parse timespan');
  return human;
}

/** Gnocchi utils.to_timespan: seconds as number/numeric string, or "1 hour", "0:00:03.6"... */
export function parseTimespan(input: string | number): Nanos {
  if (input === null || input === undefined) throw new TimespanError('Invalid timespan');
  const ns = parseSignedTimespan(input);
  if (ns <= 0n) throw new TimespanError('Timespan must be positive');
  return ns;
}

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Python str(datetime.timedelta): "0:00:03.600000", "1 day, 0:00:00", "-1 day, 23:59:59".
 * Durations with sub-microsecond nanoseconds, which timedelta cannot hold, are printed with
 * 9 fraction digits ("0:00:00.000000001") instead of being rounded away.
 */
export function formatTimespan(d: Nanos): string {
  const nsPerDay = 86_400_000_000_000n;
  let days = d / nsPerDay;
  let inDay = d % nsPerDay;
  if (inDay < 0n) {
    inDay += nsPerDay;
    days -= 1n;
  }
  const seconds = inDay / 1_000_000_000n;
  const nanos = inDay % 1_000_000_000n;
  let clock = `${seconds / 3600n}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}`;
  if (nanos % 1000n !== 0n) clock += `.${pad(nanos, 9)}`;
  else if (nanos !== 0n) clock += `.${pad(nanos / 1000n, 6)}`;
  if (days === 0n) return clock;
  const plural = days === 1n || days === -1n ? '' : 's';
  return `${days} day${plural}, ${clock}`;
}

// ---------------------------------------------------------------- timestamps

// What numpy.datetime64 accepts: a prefix of the ISO form, 'T' or one space, and an
// offset only after a time.
const ISO_RE =
  /^\s*(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{0,18}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?\s*$/;

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function offsetNanos(tz: string | undefined): Nanos | null {
  if (tz === undefined || tz === 'Z') return 0n;
  const sign = tz[0] === '-' ? -1n : 1n;
  const digits = tz.slice(1).replace(':', '');
  const h = Number(digits.slice(0, 2));
  const mi = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (h > 23 || mi > 59) return null;
  return sign * (BigInt(h) * NS_PER_HOUR + BigInt(mi) * NS_PER_MINUTE);
}

function parseIso(text: string): Nanos | null {
  const m = ISO_RE.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v, i) =>
    v === undefined ? (i === 1 || i === 2 ? 1 : 0) : Number(v),
  );
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  if (h > 23 || mi > 59 || s > 59) return null;
  const offset = offsetNanos(m[8]);
  if (offset === null) return null;
  // Up to 9 fraction digits are kept; numpy truncates finer ones.
  const frac = BigInt(((m[7] ?? '') + '000000000').slice(0, 9));
  const secs = BigInt(daysFromCivil(y, mo, d)) * 86_400n + BigInt(h * 3600 + mi * 60 + s);
  return secs * NS_PER_SECOND + frac - offset;
}

function currentTime(): Nanos {
  return BigInt(Date.now()) * 1_000_000n;
}

function checkRange(t: Nanos): Nanos {
  if (t < 0n || t > MAX_TIMESTAMP) throw new TimeParseError('Timestamp must be after Epoch');
  return t;
}

/**
 * Gnocchi utils.to_timestamp: epoch seconds (number or numeric string, exact), ISO 8601
 * (naive = UTC), "now"/"today", or a timespan relative to now ("-1 day", "+2 hours").
 */
export function parseTimestamp(input: string | number, now?: Nanos): Nanos {
  const text = typeof input === 'number' ? numberToText(input) : String(input);
  const numeric = decimalSecondsToNanos(text);
  if (numeric !== null) return checkRange(numeric);
  const iso = parseIso(text);
  if (iso !== null) return checkRange(iso);
  const word = text.trim().toLowerCase();
  const base = now ?? currentTime();
  // numpy's "now" has a resolution of one second, and "today" is midnight UTC.
  if (word === 'now') return checkRange(base - (base % NS_PER_SECOND));
  if (word === 'today') return checkRange(base - (base % NS_PER_DAY));
  let delta: Nanos;
  try {
    delta = parseSignedTimespan(text);
  } catch {
    throw new TimeParseError('Unable to convert timestamps');
  }
  return checkRange(base + delta);
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * formatTimestamp for many timestamps in a row (a series being written out): the date part
 * is computed once per day and the time of day from a table. Reads of long series spend
 * most of their time writing timestamps, hence this; same output as formatTimestamp.
 */
export class SeriesTimestampFormatter {
  private day = Number.NaN;
  private dayText = '';

  format(t: Nanos): string {
    let secs = t / NS_PER_SECOND;
    let frac = t - secs * NS_PER_SECOND;
    if (frac < 0n) {
      frac += NS_PER_SECOND;
      secs -= 1n;
    }
    const s = Number(secs);
    const day = Math.floor(s / 86_400);
    if (day !== this.day) {
      const head = formatTimestamp(BigInt(day) * NS_PER_DAY);
      this.day = day;
      this.dayText = head.slice(0, head.indexOf('T') + 1);
    }
    const r = s - day * 86_400;
    let out = this.dayText + TWO_DIGITS[Math.floor(r / 3600)] + ':' + TWO_DIGITS[Math.floor(r / 60) % 60] + ':' + TWO_DIGITS[r % 60];
    if (frac !== 0n) out += frac % 1000n === 0n ? `.${pad(frac / 1000n, 6)}` : `.${pad(frac, 9)}`;
    return out + '+00:00';
  }
}

/** "2015-03-06T14:33:57+00:00", with 6 fraction digits (µs) or 9 when ns are set. */
export function formatTimestamp(t: Nanos): string {
  let secs = t / NS_PER_SECOND;
  let frac = t % NS_PER_SECOND;
  if (frac < 0n) {
    frac += NS_PER_SECOND;
    secs -= 1n;
  }
  const date = new Date(Number(secs) * 1000);
  const y = date.getUTCFullYear();
  const yearText = y >= 0 && y <= 9999 ? pad(y, 4) : String(y);
  let out =
    `${yearText}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`;
  if (frac !== 0n) out += frac % 1000n === 0n ? `.${pad(frac / 1000n, 6)}` : `.${pad(frac, 9)}`;
  return `${out}+00:00`;
}
